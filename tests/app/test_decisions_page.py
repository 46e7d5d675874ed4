"""The Decisions page: costs, threshold, top-K, metrics, the flagged table and its download.

The page's numbers are checked against the session's log scored through the library
(``conftest.scored``). The download is built only when clicked, by ``ScoredLog.flagged_csv``:
here its button is checked on the page and its content through that method; the browser
test (``tests/e2e/test_browser.py``) downloads it for real.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

from fakeusers import export, features, reading, scoring
from fakeusers.scoring import Rule
from fakeusers.store import ModelStore
from tests.app.conftest import (
    assert_clean,
    buttons,
    click,
    csv_bytes,
    download_button,
    fake_user_ids,
    goto,
    metric,
    metric_delta,
    new_app,
    scored,
    train,
    upload,
)
from tests.support import shifted_csv_bytes
from views import _state as state


def decisions_page(labelled: bytes, scored_log: bytes | None = None):
    at = train(upload(new_app(), ("train.csv", labelled)))
    if scored_log is not None:
        upload(at, ("new.csv", scored_log))
    return goto(at, "decisions")


def set_costs(at, m: float, f: float):
    at.number_input(key=state.COST_FP_INPUT).set_value(m)
    at.number_input(key=state.COST_FN_INPUT).set_value(f)
    return at.run()


def test_cost_inputs_have_the_agreed_labels(labelled: bytes) -> None:
    at = decisions_page(labelled)
    labels = [n.label for n in at.number_input]
    assert "Cost of blocking a real user (M)" in labels
    assert "Cost of missing a fake user (F)" in labels


def test_costs_set_the_threshold_and_the_flags(labelled: bytes, labelled_other: bytes) -> None:
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    assert_clean(at)
    assert metric(at, "Threshold M/(M+F)") == "0.1"
    scores = scored(at)
    assert not scores.out_of_fold
    flagged = scores.p >= 0.1
    assert metric(at, "Users flagged") == f"{flagged.sum():,}"
    y = scores.labels.astype(bool)
    assert metric(at, "Precision") == f"{(y & flagged).sum() / flagged.sum():.1%}"
    assert metric(at, "Recall") == f"{(y & flagged).sum() / y.sum():.1%}"
    realised = 1 * (flagged & ~y).sum() + 9 * (~flagged & y).sum()
    assert metric(at, "Realised cost") == f"{realised:,.2f}"

    at = set_costs(at, 3, 1)
    assert metric(at, "Threshold M/(M+F)") == "0.75"
    assert metric(at, "Users flagged") == f"{(scores.p >= 0.75).sum():,}"


def test_slider_and_number_input_stay_in_sync(labelled: bytes) -> None:
    at = decisions_page(labelled)
    at.slider(key=state.COST_FN_SLIDER).set_value(19.0).run()
    assert at.number_input(key=state.COST_FN_INPUT).value == 19.0
    assert metric(at, "Threshold M/(M+F)") == "0.05"
    at.number_input(key=state.COST_FP_INPUT).set_value(5.0).run()
    assert at.slider(key=state.COST_FP_SLIDER).value == 5.0


def test_costs_survive_leaving_the_page(labelled: bytes) -> None:
    at = set_costs(decisions_page(labelled), 1, 9)
    goto(at, "users")
    goto(at, "decisions")
    assert at.number_input(key=state.COST_FN_INPUT).value == 9.0
    assert metric(at, "Threshold M/(M+F)") == "0.1"


def test_both_costs_zero_is_explained_not_crashed(labelled: bytes) -> None:
    at = set_costs(decisions_page(labelled), 0, 0)
    assert not at.exception
    (error,) = at.error
    assert "Both costs are zero" in error.value


@pytest.mark.parametrize(("m", "f"), [(1e308, 1e308), (1.5e308, 1.0), (1.0, 1e16)])
def test_costs_too_large_to_price_are_explained_not_crashed(labelled: bytes, m, f) -> None:
    at = set_costs(decisions_page(labelled), m, f)
    assert not at.exception
    (error,) = at.error
    assert "Costs must be at most 1e15" in error.value and "larger unit" in error.value
    at = set_costs(at, 1e15, 1e15)  # the largest costs price the decision in finite numbers
    assert_clean(at)
    assert metric(at, "Threshold M/(M+F)") == "0.5"
    assert "inf" not in metric(at, "Expected cost") and "nan" not in metric(at, "Expected cost")


def test_review_capacity_mode_flags_exactly_k_users(labelled: bytes) -> None:
    at = decisions_page(labelled)
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(10).run()
    assert_clean(at)
    assert metric(at, "Users flagged") == "10"
    scores = scored(at)
    tenth = np.sort(scores.p)[::-1][9]
    assert metric(at, "Lowest flagged P(fake)") == f"{tenth:.4g}"
    table = at.dataframe[0].value
    assert len(table) == 10
    assert table["is_fake_probability"].is_monotonic_decreasing


def test_flagged_table_is_paged_highest_risk_first(labelled: bytes) -> None:
    at = set_costs(decisions_page(labelled), 1, 1000)  # a low threshold flags many users
    scores = scored(at)
    n = int((scores.p >= 1 / 1001).sum())
    assert n > 100
    first = at.dataframe[0].value
    assert len(first) == 100
    assert first["is_fake_probability"].is_monotonic_decreasing
    assert first["reason_1"].str.contains("of real users").all()
    at.number_input(key=state.TABLE_PAGE).set_value(2).run()
    second = at.dataframe[0].value
    assert len(second) == min(100, n - 100)
    assert second["is_fake_probability"].iloc[0] <= first["is_fake_probability"].iloc[-1]


def read_csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_download_button_is_there_and_builds_nothing_until_clicked(
    labelled: bytes, labelled_other: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []
    original = scoring.ScoredLog.flagged_csv
    monkeypatch.setattr(
        scoring.ScoredLog, "flagged_csv", lambda self, **kw: built.append(1) or original(self, **kw)
    )
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    assert_clean(at)
    button = download_button(at)
    assert button.label == "Download flagged users (CSV)"
    assert not button.proto.disabled
    assert button.proto.HasField("deferred_file_id"), "the CSV is built when clicked"
    exact = download_button(at, "Exact IDs for blocking tools (CSV)")
    assert not exact.proto.disabled and exact.proto.HasField("deferred_file_id")
    assert built == [], "not on every rerun"
    (caption,) = [c.value for c in at.caption if c.value.startswith("The downloads hold")]
    assert "flagged by model (trained here, not saved) at threshold M/(M+F) = 0.1000" in caption

    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(0).run()
    assert metric(at, "Users flagged") == "0"
    assert download_button(at).proto.disabled, "nothing to download"
    assert download_button(at, "Exact IDs for blocking tools (CSV)").proto.disabled
    assert built == []


def test_download_holds_every_flagged_user_highest_risk_first(
    labelled: bytes, labelled_other: bytes
) -> None:
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    rows = read_csv(scored(at).with_rule(Rule.of(1, 9)).flagged_csv())
    assert list(rows[0]) == list(export.COLUMNS)
    p = [float(r["is_fake_probability"]) for r in rows]
    assert len(rows) == int(metric(at, "Users flagged").replace(",", ""))
    assert min(p) >= 0.1
    assert p == sorted(p, reverse=True)
    assert all(int(r["events"]) >= 1 for r in rows)
    assert all(r["reason_1"] for r in rows)
    page = at.dataframe[0].value
    assert page["UserId"].tolist() == [r["UserId"] for r in rows[:100]], "the page's first rows"
    assert page["reason_1"].tolist() == [r["reason_1"] for r in rows[:100]]


def test_download_neutralises_formulas_in_user_ids(labelled: bytes) -> None:
    evil = dict(
        zip(
            fake_user_ids(20_000, seed=4, how_many=4),
            ['=HYPERLINK("http://x","y")', "+1-2", "-3", "@SUM(A1)"],
            strict=True,
        )
    )
    at = decisions_page(labelled, csv_bytes(seed=4, rename=evil))
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(1_000_000).run()  # everyone
    everyone = scored(at).with_rule(Rule.of(1.0, 4.0, top_k=1_000_000))
    assert metric(at, "Users flagged") == f"{everyone.n_users:,}"
    ids = {r["UserId"] for r in read_csv(everyone.flagged_csv())}
    for bad in evil.values():
        assert "'" + bad in ids
        assert bad not in ids


def test_cost_change_never_rereads_refeaturizes_or_rescores(
    labelled: bytes, labelled_other: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scoring happens once per (data, model); a cost change reruns only threshold math.

    Explanations featurize the few users newly shown in the table (at most a page), never
    the log: calls are counted when they cover the whole log.
    """
    calls = {"read_logs": 0, "score_log": 0, "featurize_log": 0}
    whole_log_users = reading.read_logs(("new.csv", labelled_other)).n_users

    def counting(name, function, whole_log=False):
        def wrapper(*args, **kwargs):
            if not whole_log or args[0].n_users == whole_log_users:
                calls[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(reading, "read_logs", counting("read_logs", reading.read_logs))
    monkeypatch.setattr(scoring, "score_log", counting("score_log", scoring.score_log))
    featurize = counting("featurize_log", features.featurize, whole_log=True)
    for module in ("fakeusers.features", "fakeusers.models", "fakeusers.explain"):
        monkeypatch.setattr(f"{module}.featurize", featurize)

    at = decisions_page(labelled, labelled_other)
    assert_clean(at)
    assert calls == {"read_logs": 2, "score_log": 1, "featurize_log": 1}
    before = dict(calls)

    set_costs(at, 1, 9)
    set_costs(at, 2, 3)
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(25).run()
    goto(at, "users")  # the Users page shares the same scores
    goto(at, "decisions")
    assert_clean(at)
    assert metric(at, "Users flagged") == "25"
    assert calls == before


def test_unlabelled_log_is_scored_with_expected_costs_only(
    labelled: bytes, unlabelled: bytes
) -> None:
    at = set_costs(decisions_page(labelled, unlabelled), 1, 9)
    assert_clean(at)
    labels = [m.label for m in at.metric]
    assert "Expected cost" in labels
    assert "Precision" not in labels and "Realised cost" not in labels
    assert not any("Model quality" in c.value for c in at.caption), "no labels, no metrics"
    scores = scored(at)
    assert scores.labels is None and not scores.out_of_fold
    assert metric(at, "Users flagged") == f"{(scores.p >= 0.1).sum():,}"
    decided = scores.with_rule(Rule.of(1, 9))
    assert metric(at, "Expected cost") == f"{decided.decision.expected_cost:,.2f}"
    assert len(read_csv(decided.flagged_csv())) == (scores.p >= 0.1).sum()
    goto(at, "users")
    assert_clean(at)
    assert at.radio[0].options == ["decision (flagged vs not)"]


def test_model_that_cannot_score_the_log_says_why(labelled: bytes) -> None:
    no_time = csv_bytes(seed=5, labelled=False, timestamps=False)
    at = decisions_page(labelled, no_time)  # the model was trained with timestamps
    assert not at.exception
    (error,) = at.error
    assert "trained with timestamps" in error.value
    assert "(trained here, not saved)" in error.value, "the message names the active model"
    goto(at, "users")
    assert not at.exception
    assert any("Users are not scored" in w.value for w in at.warning)
    assert at.get("plotly_chart"), "the population views still show"


def test_model_that_needs_timestamps_points_to_the_fix_and_is_named(labelled: bytes) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    at.text_input(key=state.MODEL_NAME).set_value("timed")
    click(at, "Save model")
    upload(at, ("new.csv", csv_bytes(seed=5, labelled=False, timestamps=False)))
    for page in ("decisions", "users"):
        goto(at, page)
        assert not at.exception
        shown = [e.value for e in at.error] + [w.value for w in at.warning]
        assert any("'timed@1'" in m and "cannot score" in m for m in shown), page
        links = [(link.proto.page, link.proto.label) for link in at.page_link]
        assert any(
            target == "model" and "train one without timestamps" in label for target, label in links
        ), links
    goto(at, "model")
    assert any("'Use timestamps' unticked" in i.value for i in at.info), "the next step"


def quality(cv: dict, kind: str) -> str:
    return (
        f"Model quality ({kind}): ROC AUC {cv['roc_auc']:.3f} · average precision "
        f"{cv['average_precision']:.3f} · Brier score {cv['brier']:.4f} · log loss "
        f"{cv['log_loss']:.4f}"
    )


def test_the_training_log_is_scored_out_of_fold_with_the_cards_cv_metrics(
    labelled: bytes, labelled_other: bytes, isolated: Path
) -> None:
    """A saved model and its own training log, in a new session: honest (out-of-fold) costs."""
    at = train(upload(new_app(), ("train.csv", labelled)))
    at.text_input(key=state.MODEL_NAME).set_value("june")
    click(at, "Save model")
    card = ModelStore(isolated).card("june")

    at = upload(new_app(), ("train.csv", labelled))
    goto(at, "model")
    at.selectbox(key=state.MODEL_PICK).set_value("june@1")
    click(at, "Load model")
    at = set_costs(goto(at, "decisions"), 1, 9)
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert any("trained the model" in c and "(out-of-fold)" in c for c in captions), captions
    assert quality(card["cv"], "out-of-fold") in captions
    oof_p = at.session_state[state.MODEL].model.oof_p
    assert metric(at, "Users flagged") == f"{(oof_p >= 0.1).sum():,}", "the out-of-fold scores"
    assert scored(at).metrics["roc_auc"] == card["cv"]["roc_auc"]

    upload(at, ("new.csv", labelled_other))
    captions = [c.value for c in goto(at, "decisions").caption]
    assert not any("out-of-fold" in c for c in captions), "other users: plain scores"
    assert quality(scored(at).metrics, "on this log") in captions


# --- the typed threshold, the interval, the cheapest threshold ---------------------------


def test_a_typed_threshold_flags_from_it_and_survives_leaving_the_page(labelled: bytes) -> None:
    at = decisions_page(labelled)
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_THRESHOLD).run()
    at.number_input(key=state.THRESHOLD_INPUT).set_value(0.3).run()
    assert_clean(at)
    assert metric(at, "Threshold (typed)") == "0.3"
    scores = scored(at)
    assert metric(at, "Users flagged") == f"{(scores.p >= 0.3).sum():,}"
    priced = scores.with_rule(Rule.of(1.0, 4.0, threshold=0.3))  # the default costs price it
    assert metric(at, "Expected cost") == f"{priced.decision.expected_cost:,.2f}"
    goto(at, "users")
    goto(at, "decisions")
    assert at.number_input(key=state.THRESHOLD_INPUT).value == 0.3
    assert metric(at, "Threshold (typed)") == "0.3"


def test_the_expected_cost_says_where_the_realised_cost_likely_falls(
    labelled: bytes, unlabelled: bytes
) -> None:
    at = set_costs(decisions_page(labelled, unlabelled), 1, 9)
    assert_clean(at)
    low, high = scored(at).with_rule(Rule.of(1, 9)).decision.expected_cost_interval
    assert metric_delta(at, "Expected cost") == f"likely between {low:,.1f} and {high:,.1f}"
    assert low < high


def test_use_the_cheapest_threshold_applies_the_lowest_cost(
    labelled: bytes, labelled_other: bytes
) -> None:
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    assert_clean(at)
    scores = scored(at)
    cheapest, lowest = scores.curve.optimum(1, 9)
    assert metric(at, "Lowest realised cost") == f"{lowest:,.2f}"
    (button,) = buttons(at, "Use the cheapest threshold")
    assert not button.proto.disabled
    button.click().run()
    assert_clean(at)
    assert at.radio(key=state.RULE_INPUT).value == state.RULE_THRESHOLD
    assert metric(at, "Threshold (typed)") == f"{cheapest:.4g}"
    assert metric(at, "Users flagged") == f"{(scores.p >= cheapest).sum():,}"
    assert metric(at, "Realised cost") == f"{lowest:,.2f}", "exactly the lowest cost"
    (button,) = buttons(at, "Use the cheapest threshold")
    assert button.proto.disabled, "already applied"


def test_no_cheapest_threshold_where_the_curve_has_no_real_minimum(
    labelled: bytes, labelled_other: bytes
) -> None:
    # F = 0: missing a fake costs nothing, so the cost only falls towards flagging nobody.
    at = set_costs(decisions_page(labelled, labelled_other), 1, 0)
    assert_clean(at)
    assert scored(at).curve.optimum(1, 0) is None
    labels = [m.label for m in at.metric]
    assert "Realised cost" in labels and "Lowest realised cost" not in labels
    assert not buttons(at, "Use the cheapest threshold")
    assert at.get("plotly_chart"), "the curve is still drawn, without a star"


def test_a_log_that_does_not_fit_the_model_gets_a_loud_banner(labelled: bytes) -> None:
    at = set_costs(decisions_page(labelled, shifted_csv_bytes(20_000, seed=3)), 1, 9)
    assert not at.exception
    (banner,) = at.error
    assert "does not fit the model" in banner.value and "unreliable" in banner.value
    assert "training users (out-of-fold)" in banner.value
    assert metric(at, "Expected cost (unreliable)")
    assert not [m for m in at.metric if m.label == "Expected cost"]


def test_a_log_like_the_training_log_reads_fits_quietly(
    labelled: bytes, labelled_other: bytes
) -> None:
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    assert_clean(at)
    assert not at.warning
    assert any(c.value.startswith("The model fits this log.") for c in at.caption)
    assert metric(at, "Expected cost")


def test_a_long_list_is_built_on_request_with_progress(
    labelled: bytes, labelled_other: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "BUILD_ON_REQUEST", 10)  # any list longer than 10 is "long"
    at = set_costs(decisions_page(labelled, labelled_other), 1, 9)
    flagged = int(metric(at, "Users flagged").replace(",", ""))
    assert flagged > 10
    assert not at.get("download_button"), "no download before the list is built"
    assert not at.status
    at = click(at, f"Prepare the download ({flagged:,} users)")
    assert_clean(at)
    (status,) = at.status
    assert (status.label, status.state) == (
        f"The list of {flagged:,} flagged users is ready",
        "complete",
    )
    assert download_button(at).proto.HasField("deferred_file_id")
    assert not buttons(at, f"Prepare the download ({flagged:,} users)"), "done: out of the way"
    _, rows = at.session_state[state.PREPARED]
    expected = scored(at).with_rule(Rule.of(1, 9))
    assert export.to_csv(rows) == expected.flagged_csv()
    assert export.to_csv(rows, for_spreadsheets=False) == expected.flagged_csv(
        for_spreadsheets=False
    )

    at = set_costs(at, 1, 4)  # another rule: another list, built on request again
    flagged = int(metric(at, "Users flagged").replace(",", ""))
    assert buttons(at, f"Prepare the download ({flagged:,} users)")
    assert not at.get("download_button")
