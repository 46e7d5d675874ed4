"""Tests for fakeusers.explain: per-user features and per-feature contributions.

References are computed independently: features of the whole log, the model's own
probabilities, and a loop that changes one feature at a time.
"""

from __future__ import annotations

import doctest
import io

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv
import pytest

from fakeusers import explain
from fakeusers.demo import generate_log
from fakeusers.explain import ablation, contributions, describe, reference_values, user_features
from fakeusers.features import featurize
from fakeusers.models import score, train
from fakeusers.reading import read_logs
from fakeusers.reasons import explain_in_words


def read_generated(n_events: int, seed: int, timestamps: bool):
    buf = io.BytesIO()
    pacsv.write_csv(generate_log(n_events, seed=seed, timestamps=timestamps), buf)
    return read_logs(("log.csv", buf.getvalue()))


@pytest.fixture(scope="module")
def log():
    return read_generated(20_000, seed=7, timestamps=True)


@pytest.fixture(scope="module")
def logistic(log):
    return train(log, "logistic")


@pytest.fixture(scope="module")
def boosting(log):
    return train(log, "boosting")


def test_doctests() -> None:
    assert doctest.testmod(explain).failed == 0


@pytest.mark.parametrize("timestamps", [True, False])
def test_user_features_equal_the_whole_logs_features(timestamps: bool) -> None:
    small = read_generated(5_000, seed=3, timestamps=timestamps)
    model_vocab = train(small, "logistic").vocabulary
    everyone = featurize(small, model_vocab)
    users = np.random.default_rng(0).permutation(small.n_users)[:40]
    some = user_features(small, model_vocab, users)
    pd.testing.assert_frame_equal(some, everyone.iloc[users])


def test_user_features_refuses_repeated_or_unknown_users(log, logistic) -> None:
    with pytest.raises(ValueError, match="distinct"):
        user_features(log, logistic.vocabulary, [1, 1])
    with pytest.raises(IndexError):
        user_features(log, logistic.vocabulary, [log.n_users])
    assert user_features(log, logistic.vocabulary, []).shape == (0, len(logistic.feature_names))


def test_logistic_contributions_add_up_to_the_models_log_odds(log, logistic) -> None:
    users = np.arange(0, log.n_users, 7)
    X = user_features(log, logistic.vocabulary, users)
    contrib = contributions(logistic, X)
    intercept = logistic.pipeline.named_steps["model"].intercept_[0]
    p = score(logistic, log)["is_fake_probability"].to_numpy()[users]
    log_odds = contrib.sum(axis=1).to_numpy() + intercept
    np.testing.assert_allclose(1 / (1 + np.exp(-log_odds)), p, rtol=1e-9, atol=1e-12)


def test_boosting_contributions_are_treeshap_and_add_up_to_the_log_odds(log, boosting) -> None:
    """Up to the same base value for every user, as the logistic ones do."""
    assert explain.method(boosting).startswith("TreeSHAP")
    assert not explain.needs_reference(boosting)
    users = np.arange(0, log.n_users, 7)
    X = user_features(log, boosting.vocabulary, users)
    contrib = contributions(boosting, X)
    f = boosting.pipeline.decision_function(X)
    base = f - contrib.sum(axis=1).to_numpy()
    np.testing.assert_allclose(base, base[0], rtol=0, atol=1e-9)
    assert abs(contrib.to_numpy()).max() > 0.5, "the fake signals push some users hard"


def test_boosting_ablation_is_the_drop_when_one_feature_becomes_typical(log, boosting) -> None:
    ref = reference_values(boosting, log)
    users = [0, 5, 11]
    X = user_features(log, boosting.vocabulary, users)
    contrib = ablation(boosting, X, ref.to_numpy())
    f = boosting.pipeline.decision_function
    for i in range(len(users)):
        row = X.iloc[[i]]
        for name in X.columns[::5]:
            changed = row.copy()
            changed[name] = ref[name]
            expected = f(row)[0] - f(changed)[0]
            assert contrib.iloc[i][name] == pytest.approx(expected, abs=1e-9)


def test_boosting_user_who_is_typical_everywhere_has_no_contributions(log, boosting) -> None:
    ref = reference_values(boosting, log)
    typical = pd.DataFrame([ref.to_numpy()], columns=ref.index, index=["typical"])
    assert (ablation(boosting, typical, ref.to_numpy()).to_numpy() == 0).all()


def test_reference_is_the_median_of_a_fixed_sample(log, boosting) -> None:
    ref = reference_values(boosting, log, sample=300, seed=1)
    pd.testing.assert_series_equal(ref, reference_values(boosting, log, sample=300, seed=1))
    users = np.sort(np.random.default_rng(1).choice(log.n_users, size=300, replace=False))
    expected = featurize(log, boosting.vocabulary).iloc[users].median()
    np.testing.assert_allclose(ref.to_numpy(), expected.to_numpy())
    everyone = reference_values(boosting, log, sample=10**9)
    np.testing.assert_allclose(
        everyone.to_numpy(), featurize(log, boosting.vocabulary).median().to_numpy()
    )


@pytest.mark.parametrize("model_name", ["logistic", "boosting"])
def test_the_riskiest_users_are_pushed_up_by_the_fake_signals(log, model_name, request) -> None:
    model = request.getfixturevalue(model_name)
    p = score(model, log)["is_fake_probability"].to_numpy()
    riskiest = np.argsort(-p)[:10]
    X = user_features(log, model.vocabulary, riskiest)
    contrib = contributions(model, X)
    reasons = explain_in_words(contrib, X, model.profile["real_percentiles"])
    # The synthetic fakes over-use click_ad and send_email: that is what must lead, and well
    # beyond what real users do.
    first = [rs[0] for rs in reasons]
    assert sum(("send_email" in r.text or "click_ad" in r.text) for r in first) >= 8
    assert all(r.real_percentile is not None for r in first)
    assert sum(r.real_percentile >= 90 for r in first) >= 8
    assert all("of real users" in r.text and "more likely" in r.text for r in first)


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("event_click_ad_share", 0.456, "click_ad share 46%"),
        ("category_Real_State_count", 12.0, "Real_State count 12"),
        ("event_other_count", 2.0, "other count 2"),
        ("n_events", 1234.0, "events 1,234"),
        ("events_per_minute", 7.25, "events per minute 7.25"),
        ("min_gap_seconds", float("nan"), "shortest gap missing"),
        ("event_switch_rate", 0.5, "event switch rate 0.50"),
        ("something_new", 3.0, "something new 3"),
    ],
)
def test_describe_reads_like_an_analyst_would_say_it(feature, value, text) -> None:
    assert describe(feature, value) == text


@pytest.mark.parametrize("model_name", ["logistic", "boosting"])
def test_nobody_to_explain_gives_no_rows_not_an_error(log, model_name, request) -> None:
    """When a rule flags nobody (M=500, F=4; K=0) the flagged list is empty, not a crash."""
    model = request.getfixturevalue(model_name)
    X = user_features(log, model.vocabulary, np.zeros(0, dtype=np.int64))
    contrib = contributions(model, X)
    assert contrib.shape == (0, len(model.feature_names))
    assert explain_in_words(contrib, X) == []
