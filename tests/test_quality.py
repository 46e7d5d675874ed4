"""Quality figures in plain words, and which of two models to keep."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from fakeusers import quality
from fakeusers.quality import Candidate, compare, in_plain_words, recommend


def population(n: int = 4_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels (6% fake) and calibrated probabilities of a decent model."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(3 * score - 5)))
    y = (rng.random(n) < p).astype(np.int64)
    return y, p


def candidate(name: str, y: np.ndarray, p: np.ndarray, kind: str = "logistic", users="log-1"):
    return Candidate(name, kind, y, p, users)


def test_ranking_scores_are_scikit_learns_with_ties() -> None:
    y, p = population()
    p = np.round(p, 1)  # many ties
    ranked = quality._thresholds(p)
    ap, auc = quality._ranking_scores(y, ranked, np.ones(y.size))
    assert ap == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)


def test_plain_words_say_what_the_threshold_would_do() -> None:
    # At threshold 0.2 (M 1, F 4): 4 flagged, 3 of them fake; 1 fake of 4 missed.
    y = np.array([1, 1, 1, 0, 1] + [0] * 95)
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.1] + [0.05] * 95)
    said = in_plain_words(y, p, 1.0, 4.0)
    assert "of 100 users flagged about 75 are fake" in said.average_precision
    assert "75 of 100 fake users are caught" in said.average_precision
    assert "would have cost 5 on these 100 users (1 real users blocked, 1 fakes missed)" in (
        said.cost
    )
    assert "against 16 for blocking nobody" in said.cost
    assert said.roc_auc.startswith(f"ROC AUC {roc_auc_score(y, p):.3f}")
    assert "(4.0%) scores 0.0384" in said.brier  # knowing only the share: 0.04 × 0.96
    brier = np.mean((p - y) ** 2)
    assert f"Brier score {brier:.4f}" in said.brier


def test_plain_words_name_the_points_that_rest_on_few_users() -> None:
    y, p = population(600)
    said = in_plain_words(y, p, 1.0, 4.0)
    table = [r for r in quality.reliability_table(y, p) if r["users"]]
    few = sum(r["users"] < quality.FEW_USERS for r in table)
    assert few > 0
    assert f"{few} of the {len(table)} points rest on fewer than 30 users" in said.reliability


def test_plain_words_without_usable_costs_or_classes() -> None:
    said = in_plain_words(np.zeros(10), np.full(10, 0.1), None, None)
    assert "undefined" in said.roc_auc and "undefined" in said.average_precision
    assert said.cost.startswith("Set two costs")


def test_a_clearly_better_model_wins_beyond_noise() -> None:
    y, p = population()
    rng = np.random.default_rng(1)
    worse = np.clip(p + rng.normal(0, 0.25, p.size), 0.001, 0.999)
    good, bad = candidate("good", y, p, "boosting"), candidate("bad", y, worse)
    comparison = compare(bad, good, 1.0, 4.0)
    assert comparison.winner() == 1
    brier = next(d for d in comparison.differences if d.figure == "Brier")
    assert brier.beyond_noise and brier.better == 1
    said = recommend([bad, good], 1.0, 4.0)
    assert said is not None and said.keep == "good"
    assert said.reason.startswith(
        "Keep good rather than bad: it does better on cost at your costs ("
    )


def test_close_models_are_within_noise_and_the_simpler_one_is_kept() -> None:
    y, p = population()
    rng = np.random.default_rng(2)
    close = np.clip(p * np.exp(rng.normal(0, 0.02, p.size)), 0, 1)
    boosting, logistic = candidate("b", y, close, "boosting"), candidate("l", y, p)
    comparison = compare(boosting, logistic, 1.0, 4.0)
    assert not any(d.beyond_noise for d in comparison.differences), comparison.differences
    assert comparison.winner() == 1
    said = recommend([boosting, logistic], 1.0, 4.0)
    assert said is not None and said.keep == "l"
    assert "no figure differs beyond noise" in said.reason and "simpler" in said.reason


def test_the_same_model_twice_differs_in_nothing() -> None:
    y, p = population()
    comparison = compare(candidate("a", y, p), candidate("b", y, p), 1.0, 4.0)
    assert all(d.better is None and not d.beyond_noise for d in comparison.differences)
    assert comparison.winner() == 0, "keep the active one"


def test_models_of_other_users_are_not_compared() -> None:
    y, p = population()
    y2, p2 = population(seed=5)
    mine, theirs = candidate("mine", y, p), candidate("theirs", y2, p2, users="log-2")
    with pytest.raises(ValueError, match="different users"):
        compare(mine, theirs, 1.0, 4.0)
    said = recommend([mine, theirs], 1.0, 4.0)
    assert said is not None and said.keep is None and "other users" in said.reason
    assert recommend([mine], 1.0, 4.0) is None


def test_the_best_of_three_is_kept_and_strangers_are_named() -> None:
    y, p = population()
    rng = np.random.default_rng(3)
    noisy = np.clip(p + rng.normal(0, 0.3, p.size), 0.001, 0.999)
    noisier = np.clip(p + rng.normal(0, 0.4, p.size), 0.001, 0.999)
    y2, p2 = population(seed=5)
    said = recommend(
        [
            candidate("active", y, noisy),
            candidate("best", y, p),
            candidate("other log", y2, p2, users="log-2"),
            candidate("worst", y, noisier),
        ],
        1.0,
        4.0,
    )
    assert said is not None and said.keep == "best"
    assert "Not compared: other log" in said.reason


def test_a_candidates_figures_are_the_usual_ones() -> None:
    y, p = population()
    figures = candidate("a", y, p).figures(1.0, 4.0)
    assert figures["ROC AUC"] == pytest.approx(roc_auc_score(y, p))
    assert figures["average precision"] == pytest.approx(average_precision_score(y, p))
    assert figures["Brier"] == pytest.approx(np.mean((p - y) ** 2))
    flags = p >= 0.2
    cost = np.sum(flags & (y == 0)) * 1.0 + np.sum(~flags & (y == 1)) * 4.0
    assert figures["cost at your costs"] == cost
    assert candidate("a", y, p).figures(None, None)["cost at your costs"] is None
