"""The one scoring path: rules checked once, out-of-fold on the training log, decisions, outputs."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys

import numpy as np
import pytest

from fakeusers.errors import FakeusersError, ModelNotFoundError
from fakeusers.models import score
from fakeusers.reading import read_logs
from fakeusers.scoring import Rule, score_log, score_sources
from fakeusers.store import ModelStore
from tests.support import csv_bytes, table_bytes, trained

N_EVENTS = 12_000


@pytest.fixture(scope="module")
def model():
    return trained(N_EVENTS, seed=1, timestamps=True)


@pytest.fixture(scope="module")
def training_log():
    return read_logs([("train.csv", csv_bytes(N_EVENTS, 1, timestamps=True))])


@pytest.fixture(scope="module")
def other_log():
    return read_logs([("other.csv", csv_bytes(N_EVENTS, 2, timestamps=True))])


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"cost_fp": 1}, "Give both costs"),
        ({"cost_fn": 1, "top_k": 5}, "Give both costs"),
        ({"cost_fp": -1, "cost_fn": 1}, "M=-1"),
        ({"cost_fp": float("inf"), "cost_fn": 1}, "M"),
        ({"cost_fp": 0, "cost_fn": 0}, "both"),
        ({"top_k": -1}, "0 or more"),
        ({"top_k": True}, "whole number"),
        ({"top_k": 2.5}, "whole number"),
        ({"threshold": 1.5}, "from 0 to 1"),
        ({"threshold": -0.1}, "from 0 to 1"),
        ({"threshold": float("nan")}, "from 0 to 1"),
        ({"threshold": "0.5"}, "from 0 to 1"),
        ({"threshold": 0.5, "top_k": 5}, "not both"),
        ({"threshold": 0.5, "top_k": 5, "cost_fp": 1, "cost_fn": 1}, "not both"),
        ({"threshold": 0.5, "cost_fp": 1}, "Give both costs"),
    ],
)
def test_a_bad_rule_is_refused_in_one_place_with_the_fix(kwargs, words):
    with pytest.raises(FakeusersError, match=words):
        Rule.of(**kwargs)


def test_rules_say_what_they_do():
    assert Rule.of() is None
    assert Rule.of(cost_fp=1, cost_fn=9).threshold == pytest.approx(0.1)
    assert Rule.of(cost_fp=1, cost_fn=9).describe() == "threshold M/(M+F) = 0.1000"
    assert Rule.of(top_k=np.int64(5)).describe() == "the top 5 (review capacity)"
    priced = Rule.of(cost_fp=1, cost_fn=9, top_k=5)
    assert priced.threshold is None and priced.has_costs
    typed = Rule.of(threshold=0.25)
    assert typed.threshold == 0.25 and not typed.has_costs
    assert typed.describe() == "threshold 0.2500 (typed)"
    # With costs as well, the typed threshold decides and the costs only price it.
    assert Rule.of(cost_fp=1, cost_fn=9, threshold=np.float64(0.5)).threshold == 0.5


def test_the_training_log_gets_the_out_of_fold_probabilities_and_the_cards_metrics(
    model, training_log
):
    scored = score_log(training_log, model)
    assert scored.out_of_fold and scored.notes()
    np.testing.assert_array_equal(scored.p, model.oof_p)
    for key in ("roc_auc", "average_precision", "brier", "log_loss"):
        assert scored.metrics[key] == pytest.approx(model.cv[key], rel=1e-12), key
    in_sample = score(model, training_log)["is_fake_probability"].to_numpy()
    assert not np.allclose(in_sample, scored.p), "in-sample would flatter the model"


def test_another_log_is_scored_by_the_model(model, training_log, other_log):
    scored = score_log(other_log, model)
    assert not scored.out_of_fold and scored.notes() == []
    expected = score(model, other_log)["is_fake_probability"].to_numpy()
    np.testing.assert_array_equal(scored.p, expected)
    # One user fewer: not the training log any more, even with the same shape otherwise.
    columns = {
        name: training_log.preview(training_log.n_rows)[name].tolist()
        for name in ("UserId", "Event", "Category")
    }
    columns = {k: v[:-1] for k, v in columns.items()}
    cut = read_logs([("cut.csv", table_bytes(columns))])
    assert not score_log(cut, trained(N_EVENTS, seed=1, timestamps=False)).out_of_fold


def test_costs_flag_at_m_over_m_plus_f_and_a_new_rule_does_not_rescore(model, other_log):
    scored = score_log(other_log, model, Rule.of(cost_fp=1, cost_fn=9))
    early = scored.with_rule(Rule.of(top_k=3))  # a copy made before anything is derived
    assert early.order is scored.order, "what does not depend on the rule is computed once"
    assert scored.decision.threshold == pytest.approx(0.1)
    np.testing.assert_array_equal(scored.flagged, scored.p >= 0.1)
    curve = scored.curve
    again = scored.with_rule(Rule.of(cost_fp=1, cost_fn=1))
    assert again.p is scored.p and again.curve is curve
    np.testing.assert_array_equal(again.flagged, scored.p >= 0.5)
    assert scored.with_rule(scored.rule) is scored
    assert again.with_rule(None).decision is None


def test_top_k_with_costs_flags_k_and_prices_them(model, other_log):
    scored = score_log(other_log, model, Rule.of(cost_fp=2, cost_fn=5, top_k=10))
    d = scored.decision
    assert d.n_flagged == 10 and d.threshold is None
    flagged = scored.p[d.flagged]
    assert flagged.min() >= scored.p[~d.flagged].max()
    expected = ((1 - scored.p) * 2)[d.flagged].sum() + (scored.p * 5)[~d.flagged].sum()
    assert d.expected_cost == pytest.approx(expected)
    assert d.outcome is not None  # labelled log: realised figures too
    np.testing.assert_array_equal(scored.ranked_flagged, np.argsort(-scored.p)[:10])


def test_a_typed_threshold_flags_from_it_priced_by_the_costs(model, other_log):
    scored = score_log(other_log, model, Rule.of(cost_fp=2, cost_fn=5, threshold=0.3))
    d = scored.decision
    assert d.threshold == 0.3
    np.testing.assert_array_equal(d.flagged, scored.p >= 0.3)
    expected = ((1 - scored.p) * 2)[d.flagged].sum() + (scored.p * 5)[~d.flagged].sum()
    assert d.expected_cost == pytest.approx(expected)
    low, high = d.expected_cost_interval
    assert low <= d.expected_cost <= high
    unpriced = scored.with_rule(Rule.of(threshold=0.3))
    np.testing.assert_array_equal(unpriced.flagged, d.flagged)
    assert not unpriced.rule.has_costs


def test_the_flagged_list_is_riskiest_first_with_reasons_and_safe_for_spreadsheets(model):
    columns = {
        "UserId": ["=HYPERLINK(1)"] * 30 + ["plain"] * 20,
        "Event": ["click_ad", "send_email"] * 15 + ["phone_call"] * 20,
        "Category": ["Motor"] * 50,
    }
    log = read_logs([("f.csv", table_bytes(columns))])
    scored = score_log(log, trained(N_EVENTS, seed=1, timestamps=False), Rule.of(top_k=2))
    rows = list(csv.DictReader(io.StringIO(scored.flagged_csv().decode())))
    assert [r["UserId"] for r in rows] == ["'=HYPERLINK(1)", "plain"]
    probabilities = [float(r["is_fake_probability"]) for r in rows]
    assert probabilities == sorted(probabilities, reverse=True)
    assert all(r["reason_1"] for r in rows)
    assert all("of real users" in r["reason_1"] for r in rows)


def test_users_can_be_found_by_part_of_their_id_riskiest_first(model, other_log):
    scored = score_log(other_log, model)
    some = scored.user_ids[5]
    found = scored.find_users(some[:4])
    assert all(some[:4] in scored.user_ids[i] for i in found)
    assert list(found) == sorted(found, key=lambda i: (-scored.p[i], i))
    np.testing.assert_array_equal(scored.find_users("", limit=3), scored.order[:3])


def test_importance_and_reasons_for_both_model_types(other_log):
    logistic = trained(N_EVENTS, seed=1, timestamps=True)
    boosting = trained(N_EVENTS, seed=1, model_type="boosting", timestamps=True)
    for model in (logistic, boosting):
        scored = score_log(other_log, model)
        values, title, unit = scored.importance
        assert list(values.index) == model.feature_names and title and unit
        assert np.isfinite(values.to_numpy()).all()
        reasons = scored.reasons(scored.order[:5])
        assert len(reasons) == 5 and all(1 <= len(rs) <= 3 for rs in reasons)
        assert all("more likely" in r.text for rs in reasons for r in rs)


def test_score_sources_names_the_model_and_refuses_an_unknown_one_before_reading(tmp_path, model):
    store = ModelStore(tmp_path / "models")
    store.save("june", model)
    path = tmp_path / "log.csv"
    path.write_bytes(csv_bytes(3_000, 5))
    scored = score_sources([path], store=store, rule=Rule.of(top_k=3))
    assert scored.model_ref == "june@1" and scored.decision.n_flagged == 3
    # sources given as an iterator are read, not used up before reading
    assert score_sources(iter([path]), store=store).n_users == scored.n_users
    with pytest.raises(ModelNotFoundError, match="No model named 'nope'"):
        score_sources([tmp_path / "missing.csv"], store=store, model="nope")


def test_the_flagged_list_comes_in_two_forms_named_after_what_it_holds():
    model = trained(N_EVENTS, seed=1, timestamps=False)
    columns = {
        "UserId": ["=HYPERLINK(1)"] * 30 + ["-5"] * 20,
        "Event": ["click_ad", "send_email"] * 15 + ["phone_call"] * 20,
        "Category": ["Motor"] * 50,
    }
    log = read_logs([("export 2026-11.csv", table_bytes(columns))])
    scored = score_log(log, model, Rule.of(cost_fp=1, cost_fn=9, top_k=2), model_ref="june@2")
    spreadsheet = list(csv.DictReader(io.StringIO(scored.flagged_csv().decode())))
    exact = list(csv.DictReader(io.StringIO(scored.flagged_csv(for_spreadsheets=False).decode())))
    assert [r["UserId"] for r in spreadsheet] == ["'=HYPERLINK(1)", "'-5"]
    assert [r["UserId"] for r in exact] == ["=HYPERLINK(1)", "-5"], "exact, for blocking tools"
    when = dt.datetime(2026, 11, 29, 11, 30)
    assert scored.download_name(when) == "flagged-export_2026-11-june@2-top2-20261129-1130.csv"
    assert scored.download_name(when, exact_ids=True).endswith("-20261129-1130-exact-ids.csv")
    costs = scored.with_rule(Rule.of(cost_fp=1, cost_fn=9)).download_name(when)
    assert costs == "flagged-export_2026-11-june@2-M1-F9-20261129-1130.csv"


def test_the_scoring_path_reads_logs_before_pandas_or_scikit_learn_are_needed():
    # score_sources reads the logs while the model loads on another thread, importing
    # scikit-learn and pandas (seconds): importing what reading needs must not import them.
    code = (
        "import sys, fakeusers.scoring, fakeusers.features, fakeusers.cli.scoring;"
        "print(sorted({'pandas', 'sklearn', 'skops', 'scipy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
