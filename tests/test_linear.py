"""A logistic model's scorer: the pipeline's probabilities to the last bit, without
scikit-learn, and a store that keeps the two in step."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from fakeusers.errors import ModelUnusableError
from fakeusers.features import featurize
from fakeusers.linear import LinearScorer
from fakeusers.models import PREDICT_ROWS, probabilities, train
from fakeusers.reading import read_logs
from fakeusers.store import ModelStore
from tests.support import ROOT, csv_bytes, trained


@pytest.fixture(scope="module")
def model():
    return trained(20_000, seed=2, timestamps=True)


@pytest.fixture
def store(tmp_path: Path, model) -> ModelStore:
    store = ModelStore(tmp_path / "models")
    store.save("june", model)
    return store


def other_log(seed: int = 7, n_events: int = 30_000):
    # and users of one event, who have no gaps: features the imputer fills
    single = "".join(
        f'"x{i}","click_ad","Phone",0,"2026-11-25T10:00:0{i}.000Z"\n' for i in range(5)
    )
    return read_logs([("new.csv", csv_bytes(n_events, seed, timestamps=True) + single.encode())])


def test_the_scorer_gives_the_pipelines_bits_on_a_log_it_was_not_trained_on(model):
    assert model.scorer is not None
    X = featurize(other_log(), model.vocabulary)
    assert X.isna().any().any(), "users with one event have no gaps: the imputer must fill"
    for start in range(0, len(X), 1000):
        block = X.iloc[start : start + 1000]
        np.testing.assert_array_equal(
            model.scorer.predict_proba(block), model.pipeline.predict_proba(block)
        )


def test_a_boosting_model_has_no_scorer_and_is_scored_by_its_pipeline(tmp_path):
    boosting = trained(8_000, seed=1, model_type="boosting", timestamps=False)
    assert boosting.scorer is None and LinearScorer.from_pipeline(boosting.pipeline) is None
    store = ModelStore(tmp_path / "models")
    store.save("b", boosting)
    assert not (tmp_path / "models" / "b" / "v1" / "scoring.npz").exists()
    loaded = store.load("b").model
    X = featurize(other_log(), loaded.vocabulary)
    np.testing.assert_array_equal(probabilities(loaded, X), probabilities(boosting, X))


def test_a_scorer_that_is_not_bit_equal_on_the_training_users_is_not_kept(monkeypatch):
    exact = LinearScorer.predict_proba

    def off_by_a_bit(self, X):
        p = exact(self, X)
        return np.nextafter(p, 2.0)

    monkeypatch.setattr(LinearScorer, "predict_proba", off_by_a_bit)
    log = read_logs([("train.csv", csv_bytes(8_000, 1, timestamps=False))])
    assert train(log, "logistic").scorer is None


def test_a_stored_model_scores_without_importing_scikit_learn(store, model):
    # The command line's path: load, read, score, decide; scikit-learn costs 1.5 s of CPU.
    log = store.root.parent / "new.csv"
    log.write_bytes(csv_bytes(30_000, 7, timestamps=True))
    saved = store.root.parent / "p.npy"
    code = (
        "import sys, numpy; from fakeusers.scoring import score_sources, Rule; "
        "from fakeusers.store import ModelStore; "
        f"s = score_sources({str(log)!r}, store=ModelStore({str(store.root)!r}), "
        "rule=Rule.of(cost_fp=1, cost_fn=5)); "
        f"numpy.save({str(saved)!r}, s.p); print('sklearn' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False"], "scoring imported scikit-learn"
    # and the bits the trained pipeline gives, asked in the same blocks
    X = featurize(read_logs(log), model.vocabulary)
    by_pipeline = np.concatenate(
        [
            model.pipeline.predict_proba(X.iloc[i : i + PREDICT_ROWS])[:, 1]
            for i in range(0, len(X), PREDICT_ROWS)
        ]
    )
    np.testing.assert_array_equal(np.load(saved), by_pipeline)


def test_the_pipeline_is_built_only_when_used_and_agrees_with_the_arrays(store, model):
    loaded = store.load("june").model
    assert type(loaded.__dict__["_pipeline"]).__name__ == "Deferred"
    assert loaded.predictor is loaded.scorer
    X = featurize(other_log(), loaded.vocabulary)
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(X), model.pipeline.predict_proba(X))
    assert "pipeline built" in repr(loaded)


def test_a_model_pickles_with_its_pipeline_built(store, model):
    loaded = store.load("june").model
    assert "not built yet" in repr(loaded)
    again = pickle.loads(pickle.dumps(loaded))  # a lock and a closure cannot be pickled
    assert type(again.pipeline).__name__ == "Pipeline"
    X = featurize(other_log(), loaded.vocabulary)
    np.testing.assert_array_equal(again.pipeline.predict_proba(X), model.pipeline.predict_proba(X))
    np.testing.assert_array_equal(probabilities(again, X), probabilities(model, X))


def test_the_scorer_refuses_what_the_pipeline_refuses(model):
    X = featurize(other_log(), model.vocabulary)
    with pytest.raises(ValueError, match="not the model's, in its order"):
        model.scorer.predict_proba(X[X.columns[::-1]])
    infinite = X.copy()
    infinite.iloc[3, 2] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        model.scorer.predict_proba(infinite)
    with pytest.raises(ValueError, match="infinity"):
        model.pipeline.predict_proba(infinite)
    # an array in C order gets the pipeline's bits for that array (not the frame's: the
    # product sums in another order)
    rows = np.ascontiguousarray(X.to_numpy())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        by_pipeline = model.pipeline.predict_proba(rows)
    np.testing.assert_array_equal(model.scorer.predict_proba(rows), by_pipeline)


def test_explanations_use_the_scorer_and_equal_the_pipelines(store, model):
    from fakeusers import explain

    loaded = store.load("june").model
    X = featurize(other_log(), loaded.vocabulary)
    by_scorer = explain.contributions(loaded, X)
    assert "not built yet" in repr(loaded), "explaining a logistic model built its pipeline"
    without = dataclasses.replace(model, scorer=None)
    pd.testing.assert_frame_equal(by_scorer, explain.contributions(without, X), check_exact=True)
    pd.testing.assert_series_equal(
        explain.importance(loaded)[0], explain.importance(without)[0], check_exact=True
    )


def test_tampered_scoring_arrays_are_refused_by_their_sha256(store):
    path = store.root / "june" / "v1" / "scoring.npz"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(ModelUnusableError, match="scoring.npz .*does not match the sha256"):
        store.load("june")


def test_a_bundle_that_disagrees_with_the_arrays_is_refused_when_its_pipeline_is_used(store):
    other = trained(8_000, seed=5, timestamps=True)
    data = sio.dumps(other.bundle())
    (store.root / "june" / "v1" / "model.skops").write_bytes(data)
    card = store.root / "june" / "v1" / "model.json"
    changed = {**json.loads(card.read_text()), "bundle_sha256": hashlib.sha256(data).hexdigest()}
    card.write_text(json.dumps(changed))
    loaded = store.load("june").model  # the arrays score; the bundle is checked when built
    with pytest.raises(ModelUnusableError, match="disagree"):
        loaded.pipeline  # noqa: B018


def test_a_model_saved_without_scoring_arrays_still_loads_and_scores(store, model):
    # models saved before scorers existed: the card names no scoring file
    folder = store.root / "june" / "v1"
    (folder / "scoring.npz").unlink()
    card = json.loads((folder / "model.json").read_text())
    for key in ("scoring_file", "scoring_sha256"):
        del card[key]
    (folder / "model.json").write_text(json.dumps(card))
    loaded = store.load("june").model
    assert loaded.scorer is None
    X = featurize(other_log(), loaded.vocabulary)
    np.testing.assert_array_equal(probabilities(loaded, X), probabilities(model, X))


def test_arrays_of_the_wrong_shape_make_no_scorer(model):
    arrays = model.scorer.arrays()
    arrays["scorer_coef"] = arrays["scorer_coef"][:, :-1]
    with pytest.raises(ValueError, match="inconsistent shapes"):
        LinearScorer.from_arrays(arrays)
    with pytest.raises(ValueError, match="scorer_mean"):
        LinearScorer.from_arrays({k: v for k, v in arrays.items() if k != "scorer_mean"})
