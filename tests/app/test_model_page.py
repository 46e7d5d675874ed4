"""The Model page: training with progress, metrics and curves, saving, loading from the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

from fakeusers import models
from fakeusers.reading import read_logs
from fakeusers.store import ModelStore
from pages import _state as state
from tests.app.conftest import assert_clean, click, goto, metric, new_app, train, upload


@pytest.mark.parametrize("model_type", ["logistic", "boosting"])
def test_training_shows_progress_cv_metrics_and_curves(labelled: bytes, model_type: str) -> None:
    at = train(upload(new_app(), ("train.csv", labelled)), model_type)
    assert_clean(at)
    (status,) = at.status
    assert (status.label, status.state) == ("Model trained", "complete")
    progress = " ".join(m.value for m in status.markdown)
    assert "Cross-validating" in progress and "Fitting on all users" in progress

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
    assert at.session_state[state.MODEL].name == "first"
    saved_p = at.session_state[state.MODEL].model.oof_p

    train(at, "boosting")
    assert at.session_state[state.MODEL].model.model_type == "boosting"

    trainings = []
    original = models.train
    monkeypatch.setattr(models, "train", lambda *a, **k: trainings.append(1) or original(*a, **k))
    goto(at, "model")
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["first"]
    assert table["type"].tolist() == ["logistic"]
    at.selectbox(key=state.MODEL_PICK).set_value("first")
    at = click(at, "Load model")
    assert_clean(at)
    active = at.session_state[state.MODEL]
    assert (active.name, active.model.model_type) == ("first", "logistic")
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
    ModelStore(isolated).save("boost", model, model.card())
    at = goto(new_app(), "model")
    assert_clean(at)
    assert at.dataframe[0].value["name"].tolist() == ["boost"]
    at.selectbox(key=state.MODEL_PICK).set_value("boost")
    at = click(at, "Load model")
    assert_clean(at)
    assert metric(at, "ROC AUC") == f"{model.cv['roc_auc']:.3f}"
    # A boosting model's importance is measured on data; without data the page says so.
    assert any("Load data" in i.value for i in at.info)
