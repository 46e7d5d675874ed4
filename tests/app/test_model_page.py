"""The Model page: training with progress, metrics and curves, saving, loading from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from fakeusers import models, quality
from fakeusers.errors import ModelExistsError
from fakeusers.reading import read_logs
from fakeusers.store import ModelStore
from tests.app.conftest import (
    assert_clean,
    click,
    csv_bytes,
    goto,
    metric,
    new_app,
    train,
    upload,
)
from views import _state as state


@pytest.mark.parametrize("model_type", ["logistic", "boosting"])
def test_training_shows_progress_cv_metrics_and_curves(labelled: bytes, model_type: str) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)), model_type)
    assert_clean(at)
    (status,) = at.status
    assert (status.label, status.state) == ("Model trained", "complete")
    stages = [m.value for m in status.markdown]
    assert stages[0].startswith("Computing features")
    assert stages[1].startswith(f"Cross-validating {model_type} (5 folds by user)")
    assert "fitting on all users" in stages[1]
    assert stages[-1].startswith(f"Trained {model_type}")
    (bar,) = status.get("progress")
    assert (bar.value, bar.proto.text) == (100, "100% · done")

    model = at.session_state[state.MODEL].model
    assert model.model_type == model_type
    assert metric(at, "ROC AUC") == f"{model.cv['roc_auc']:.3f}"
    assert metric(at, "Average precision") == f"{model.cv['average_precision']:.3f}"
    assert metric(at, "Brier score") == f"{model.cv['brier']:.4f}"
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[0].startswith("ROC curve")
    assert titles[1].startswith("Precision and recall")
    assert titles[2] == "Reliability (calibration)"
    assert len(titles) == 4, "and feature importance"


def test_save_then_load_from_the_store_without_retraining(
    labelled: bytes, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)), "logistic")
    at.text_input(key=state.MODEL_NAME).set_value("first")
    at = click(at, "Save model")
    assert_clean(at)
    assert [card["name"] for card in ModelStore(isolated).list()] == ["first"]
    assert at.session_state[state.MODEL].name == "first@1"
    assert "first@1" in " ".join(m.value for m in at.sidebar.markdown)
    saved_p = at.session_state[state.MODEL].model.oof_p

    train(at, "boosting")
    assert at.session_state[state.MODEL].model.model_type == "boosting"

    trainings = []
    original = models.train
    monkeypatch.setattr(models, "train", lambda *a, **k: trainings.append(1) or original(*a, **k))
    goto(at, "model")
    table = at.dataframe[0].value
    assert table["model"].tolist() == ["first@1"]
    assert table["default"].tolist() == ["yes"], "the first model saved is the default"
    assert table["type"].tolist() == ["logistic"]
    at.selectbox(key=state.MODEL_PICK).set_value("first@1")
    at = click(at, "Load model")
    assert_clean(at)
    active = at.session_state[state.MODEL]
    assert (active.name, active.model.model_type) == ("first@1", "logistic")
    assert (active.model.oof_p == saved_p).all()
    assert trainings == []
    for page in ("users", "decisions"):
        goto(at, page)
        assert_clean(at)
    assert trainings == []


def test_invalid_model_name_is_refused_with_the_library_message(labelled: bytes) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    at.text_input(key=state.MODEL_NAME).set_value("../escape")
    at = click(at, "Save model")
    assert not at.exception
    (error,) = at.error
    assert "is not allowed" in error.value
    assert at.session_state[state.MODEL].name is None


def test_model_saved_elsewhere_loads_in_a_session_without_data(
    labelled: bytes, isolated: Path
) -> None:
    # Saved as the command line does; one OpenMP thread keeps boosting fast on a busy machine.
    with threadpool_limits(limits=1, user_api="openmp"):
        model = models.train(read_logs(("train.csv", labelled)), "boosting")
    ModelStore(isolated).save("boost", model)
    at = goto(new_app(), "model")
    assert_clean(at)
    assert at.dataframe[0].value["model"].tolist() == ["boost@1"]
    at.selectbox(key=state.MODEL_PICK).set_value("boost@1")
    at = click(at, "Load model")
    assert_clean(at)
    assert metric(at, "ROC AUC") == f"{model.cv['roc_auc']:.3f}"
    # A boosting model's importance is measured on data; without data the page says so.
    assert any("Load data" in i.value for i in at.info)


USE_TIMESTAMPS = "Use timestamps (rates and gaps)"


def save_as(at, name: str):
    at.text_input(key=state.MODEL_NAME).set_value(name)
    return click(at, "Save model")


def test_training_without_timestamps_gives_a_model_for_logs_without_them(
    labelled: bytes,
) -> None:
    at = goto(upload(new_app(), ("train.csv", labelled)), "model")
    (box,) = [c for c in at.checkbox if c.label == USE_TIMESTAMPS]
    assert box.value is True, "on by default"
    assert "only score logs that have a Timestamp" in box.proto.help
    assert_clean(save_as(train(at), "timed"))
    assert at.session_state[state.MODEL].model.vocabulary.timestamps

    at.checkbox(key=state.USE_TIMESTAMPS).uncheck()
    train(at)
    assert not at.session_state[state.MODEL].model.vocabulary.timestamps
    assert_clean(save_as(at, "untimed"))
    table = at.dataframe[0].value
    needs = dict(zip(table["model"], table["needs Timestamp"], strict=True))
    assert needs == {"timed@1": "yes", "untimed@1": "no"}

    upload(at, ("new.csv", csv_bytes(seed=5, labelled=False, timestamps=False)))
    goto(at, "decisions")
    assert_clean(at)
    assert metric(at, "Users flagged")


def test_no_timestamps_checkbox_for_a_log_without_timestamps() -> None:
    at = goto(upload(new_app(), ("train.csv", csv_bytes(seed=6, timestamps=False))), "model")
    assert USE_TIMESTAMPS not in [c.label for c in at.checkbox]
    train(at)
    assert_clean(at)
    assert not at.session_state[state.MODEL].model.vocabulary.timestamps


REPLACE = "Replace (save as a new version)"


def test_saving_under_a_taken_name_asks_then_replacing_adds_a_version(
    labelled: bytes, isolated: Path
) -> None:
    at = save_as(train(upload(new_app(), ("train.csv", labelled)), "logistic"), "shared")
    model_store = ModelStore(isolated)
    before = model_store.card("shared")["bundle_sha256"]
    train(at, "boosting")
    assert REPLACE not in [c.label for c in at.checkbox]

    save_as(at, "shared")
    assert not at.exception
    (error,) = at.error
    with pytest.raises(ModelExistsError) as refused:
        model_store.save("shared", at.session_state[state.MODEL].model)
    assert error.value == str(refused.value), "the store's message, as the CLI and API say it"
    (warning,) = at.warning
    assert "'shared'" in warning.value and "already saved" in warning.value
    assert "next version" in warning.value and "earlier versions are kept" in warning.value
    assert [v["version"] for v in model_store.versions("shared")] == [1], "nothing saved"
    assert model_store.card("shared")["bundle_sha256"] == before
    assert at.session_state[state.MODEL].name is None

    at.checkbox(key=state.REPLACE_MODEL).check()
    at = click(at, "Save model")
    assert_clean(at)
    assert at.session_state[state.MODEL].name == "shared@2"
    assert model_store.card("shared")["model_type"] == "boosting", "'shared' means the newest"
    assert model_store.card("shared@1")["bundle_sha256"] == before, "version 1 is kept"
    assert [card["name"] for card in model_store.list()] == ["shared"]


def test_saved_models_list_every_version_and_the_default_and_load_any(
    labelled: bytes, isolated: Path
) -> None:
    at = save_as(train(upload(new_app(), ("train.csv", labelled)), "logistic"), "shared")
    train(at, "boosting")
    save_as(at, "shared")
    at.checkbox(key=state.REPLACE_MODEL).check()
    click(at, "Save model")
    train(at, "logistic")
    save_as(at, "other")
    assert at.session_state[state.MODEL].name == "other@1"

    table = at.dataframe[0].value
    assert table["model"].tolist() == ["other@1", "shared@2", "shared@1"]
    assert table["type"].tolist() == ["logistic", "boosting", "logistic"]
    default = dict(zip(table["model"], table["default"], strict=True))
    assert default == {"other@1": "", "shared@2": "", "shared@1": "yes"}, "a save never promotes"
    pick = at.selectbox(key=state.MODEL_PICK)
    assert pick.options == ["other@1", "shared@2", "shared@1"]

    for ref, model_type in (("shared@1", "logistic"), ("shared@2", "boosting")):
        at.selectbox(key=state.MODEL_PICK).set_value(ref)
        at = click(at, "Load model")
        assert_clean(at)
        active = at.session_state[state.MODEL]
        assert (active.name, active.model.model_type) == (ref, model_type)
        assert active.model.cv == ModelStore(isolated).card(ref)["cv"]
        assert f"Active model: {ref}" in [h.value for h in at.subheader]


def test_the_default_model_is_preselected(labelled: bytes, isolated: Path) -> None:
    at = save_as(train(upload(new_app(), ("train.csv", labelled))), "first")
    train(at)
    save_as(at, "second")
    ModelStore(isolated).promote("second")
    at = goto(new_app(), "model")
    assert at.selectbox(key=state.MODEL_PICK).value == "second@1"


def test_a_tick_to_replace_applies_only_to_the_name_it_was_given_for(
    labelled: bytes, isolated: Path
) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)))
    save_as(at, "one")
    train(at)
    save_as(at, "two")
    train(at)
    save_as(at, "one")
    at.checkbox(key=state.REPLACE_MODEL).check()
    save_as(at, "two")  # ticked for 'one', then the name was changed
    assert not at.exception
    (warning,) = at.warning
    assert "'two'" in warning.value
    (error,) = at.error
    assert "'two' already exists" in error.value
    assert at.checkbox(key=state.REPLACE_MODEL).value is False
    assert at.session_state[state.MODEL].name is None
    assert [v["version"] for v in ModelStore(isolated).versions("two")] == [1]


def test_a_failed_training_shows_its_reason_in_the_open(
    labelled: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fails(*args, **kwargs):
        raise MemoryError("not enough memory for 2,000,000 users")

    monkeypatch.setattr(models, "train", fails)
    at = train(upload(new_app(), ("train.csv", labelled)))
    (status,) = at.status
    assert (status.label, status.state) == ("Training failed", "error")
    assert not status.error, "the reason is not hidden in the collapsed progress box"
    (error,) = at.error
    assert "MemoryError" in error.value and "not enough memory" in error.value


def test_a_log_without_fake_users_says_at_load_time_that_it_cannot_train() -> None:
    only_real = "UserId,Event,Category,Fake\n" + "".join(
        f"u{i},click_ad,Motor,0\nu{i},phone_call,Jobs,0\n" for i in range(40)
    )
    at = upload(new_app(), ("real.csv", only_real.encode()))
    (info,) = [i.value for i in at.info]
    assert "0 fake and 40 real users" in info and "can still be scored" in info
    goto(at, "model")
    assert not [b for b in at.button if b.label == "Train model"]
    assert any("0 fake and 40 real users" in i.value for i in at.info)


def test_an_unsaved_model_stays_a_candidate_beside_the_next(
    labelled: bytes, isolated: Path
) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)), "logistic")
    first = at.session_state[state.MODEL]
    assert not at.table, "one model: nothing to compare"
    words = " ".join(c.value for c in at.caption)
    assert "of 100 users flagged about" in words and "rest on" in words
    assert any(
        m.value.startswith("**What it costs.** At your costs (M 1, F 4)") for m in at.markdown
    )

    at = train(at, "boosting")
    assert_clean(at)
    second = at.session_state[state.MODEL]
    assert second.model.model_type == "boosting"
    assert [c.key for c in at.session_state[state.CANDIDATES]] == [first.key, second.key]
    (table,) = at.table
    assert table.value.index.tolist() == [second.label, first.label], "the active one first"
    (advice,) = at.success
    expected = quality.recommend(
        [quality.Candidate.of(m.label, m.model) for m in (second, first)], 1.0, 4.0
    )
    assert advice.value == f"**Recommendation.** {expected.reason}"

    # The figures of the candidate that is not active; make it active.
    at.radio(key=state.CANDIDATE_SHOWN_INPUT).set_value(first.key).run()
    assert f"Candidate: {first.label}" in [h.value for h in at.subheader]
    assert metric(at, "Brier score") == f"{first.model.cv['brier']:.4f}"
    at = click(at, "Make this the active model")
    assert_clean(at)
    assert at.session_state[state.MODEL].key == first.key
    assert f"Active model: {first.label}" in [h.value for h in at.subheader]

    # Save the candidate that is not active: it gets its name, and the active one stays.
    at.radio(key=state.CANDIDATE_SHOWN_INPUT).set_value(second.key).run()
    at = save_as(at, "boosted")
    assert_clean(at)
    assert [c["name"] for c in ModelStore(isolated).list()] == ["boosted"]
    assert at.session_state[state.MODEL].key == first.key
    names = {c.key: c.name for c in at.session_state[state.CANDIDATES]}
    assert names == {first.key: None, second.key: "boosted@1"}


def test_at_most_three_candidates_and_the_dropped_one_is_named(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    trained = []
    for _ in range(4):
        at = train(at, "logistic")
        trained.append(at.session_state[state.MODEL])
    assert [c.key for c in at.session_state[state.CANDIDATES]] == [m.key for m in trained[1:]]
    (note,) = [w.value for w in at.warning if "left the candidates" in w.value]
    assert note.startswith(trained[0].label) and "not saved, so it is gone" in note
    assert len(at.radio(key=state.CANDIDATE_SHOWN_INPUT).options) == 3
    assert len({m.label for m in trained}) == 4, "each candidate has its own name"
    at = goto(at, "model")
    assert not [w for w in at.warning if "left the candidates" in w.value], "said once"


def test_retraining_on_verdicts_is_compared_on_the_same_folds_and_audited(
    labelled: bytes,
) -> None:
    """An unlabelled log trains once verdicts label enough users (the page says how many
    more are needed before); the new model is compared with the one it replaces on the same
    folds; training and saving are in the audit trail."""
    from fakeusers.audit import Actor, AuditTrail
    from fakeusers.database import Database
    from fakeusers.reading import read_logs
    from fakeusers.verdicts import NewVerdict, VerdictStore

    unlabelled = csv_bytes(seed=3, labelled=False)
    truth = read_logs([("l.csv", csv_bytes(seed=3))])  # the same users, with their labels
    fakes = truth.user_ids[truth.labels == 1]
    reals = truth.user_ids[truth.labels == 0]
    db = Database()  # the test's database (FAKEUSERS_DB_URL), as the dashboard opens it
    store = VerdictStore(db)
    store.record([NewVerdict(u, "fake") for u in fakes[:3]], Actor("ana"))
    store.record([NewVerdict(u, "real") for u in reals[:40]], Actor("ana"))

    at = train(upload(new_app(), ("train.csv", labelled)), "logistic")  # the model it replaces
    replaced = at.session_state[state.MODEL]
    at = goto(upload(at, ("unlabelled.csv", unlabelled)), "model")
    assert_clean(at)
    assert at.checkbox(key=state.WITH_VERDICTS).value, "an unlabelled log needs the verdicts"
    assert any("Record 2 more fake verdicts" in i.value for i in at.info)
    assert not [b for b in at.button if b.label == "Train model"]

    store.record([NewVerdict(u, "fake") for u in fakes[3:20]], Actor("ana"))
    state.verdicts_changed()  # as if written by this process: re-read now, not in 30 s
    at.run()
    assert any("60 users of the log have one (20 fake, 40 real)" in c.value for c in at.caption)
    at = train(at, "logistic")
    assert_clean(at)
    new = at.session_state[state.MODEL]
    assert new.model.training["verdicts"]["added"] == 60
    assert new.model.cv["users"] == 60
    key, before, both = at.session_state[state.SAME_FOLDS]
    assert (key, before) == (new.key, replaced.label)
    assert set(both) == {"current", "new"} and both["new"]["roc_auc"] is not None
    shown = [d.value for d in at.dataframe if "figure" in d.value.columns]
    assert shown and shown[0]["figure"].tolist()[:3] == [
        "ROC AUC",
        "average precision",
        "Brier score",
    ]
    assert any("on the same 60 users" in m.value for m in at.markdown)
    assert not [i for i in at.info if "No model to compare" in i.value], "compared below"

    at = save_as(at, "june")
    trail = AuditTrail(db).entries()
    assert trail["action"].tolist() == ["save", "train", "verdict", "train", "verdict", "verdict"]
    assert trail["model"].iloc[0] == "june@1"
