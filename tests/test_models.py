"""Models: cross-validation by user, calibration metrics, and the bar a model must clear."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from fakeusers.demo import generate_log
from fakeusers.errors import FakeusersError
from fakeusers.features import featurize
from fakeusers.models import (
    MODEL_TYPES,
    classification_metrics,
    make_pipeline,
    reliability_table,
    score,
    train,
)
from fakeusers.reading import read_logs


def demo_log(n_events: int, seed: int = 0, timestamps: bool = False):
    df = generate_log(n_events, seed=seed, timestamps=timestamps).to_pandas()
    return read_logs((f"demo{seed}.csv", df.to_csv(index=False).encode()))


@pytest.fixture(scope="module")
def log():
    return demo_log(100_000, seed=11)


@pytest.fixture(scope="module")
def trained(log):
    return {m: train(log, m) for m in MODEL_TYPES}


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_training_records_cross_validated_metrics(trained, log, model_type):
    model = trained[model_type]
    cv = model.cv
    assert cv["users"] == log.n_users and cv["fake_users"] == log.report.fake_users
    assert 0.95 < cv["roc_auc"] <= 1.0
    assert 0.5 < cv["average_precision"] < 1.0  # the classes overlap, as in real logs
    assert cv["brier"] < 0.05 and cv["log_loss"] < 0.2
    assert sum(row["users"] for row in cv["reliability"]) == log.n_users
    assert len(model.oof_p) == log.n_users
    assert model.training["fingerprint_sha256"] == log.fingerprint()


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_models_beat_plain_logistic_on_event_shares(trained, log, model_type):
    """The bar from the issue: AP and Brier at least as good as the plain baseline."""
    y = log.require_labels()
    X = featurize(log)
    shares = X[[c for c in X.columns if c.startswith("event_") and c.endswith("_share")]]
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    base = cross_val_predict(
        LogisticRegression(max_iter=1000), shares, y, cv=folds, method="predict_proba"
    )[:, 1]
    cv = trained[model_type].cv
    assert cv["average_precision"] >= average_precision_score(y, base) - 0.005
    assert cv["brier"] <= brier_score_loss(y, base) + 0.0005


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_probabilities_are_calibrated(trained, model_type):
    """Out of fold, observed fake rates track predicted probabilities bin by bin."""
    for row in trained[model_type].cv["reliability"]:
        if row["users"] >= 100:
            assert abs(row["observed_fake_rate"] - row["mean_predicted"]) < 0.1


def test_score_is_one_row_per_user_in_log_order(trained):
    new = demo_log(20_000, seed=12)
    scores = score(trained["logistic"], new)
    assert scores["UserId"].tolist() == new.user_ids.tolist()
    p = scores["is_fake_probability"].to_numpy()
    assert ((p >= 0) & (p <= 1)).all()
    y = new.require_labels()
    assert p[y == 1].mean() > 3 * p[y == 0].mean()


def test_same_seed_same_model(log):
    a = train(log, "boosting", random_state=5)
    b = train(log, "boosting", random_state=5)
    assert np.array_equal(a.oof_p, b.oof_p)


def test_training_refuses_too_few_users_in_a_class():
    rows = ["UserId,Event,Category,Fake"]
    rows += [f"r{i},click_ad,Phone,0" for i in range(50)]
    rows += [f"f{i},send_email,Jobs,1" for i in range(4)]
    log = read_logs(("tiny.csv", ("\n".join(rows) + "\n").encode()))
    with pytest.raises(FakeusersError, match="4 fake and 50 real users.*at least 5 of each"):
        train(log)


def test_unknown_model_type_is_refused():
    with pytest.raises(FakeusersError, match="Choose one of: logistic, boosting"):
        make_pipeline("forest")


def test_reliability_table_bins():
    y = np.array([0, 1, 1, 0])
    p = np.array([0.05, 0.95, 1.0, 0.55])
    table = reliability_table(y, p)
    assert len(table) == 10
    assert table[9]["users"] == 2 and table[9]["observed_fake_rate"] == 1.0
    assert table[5]["mean_predicted"] == 0.55 and table[3]["users"] == 0
    m = classification_metrics(y, p)
    assert m["roc_auc"] == 1.0 and m["brier"] == pytest.approx(np.mean((p - y) ** 2))
