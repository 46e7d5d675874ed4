"""Tests for fakeusers.decisions: cost rule, top-K, costs, outcomes, the cost interval, and
the checks of fakeusers.decisioninputs on every function that takes costs, probabilities,
labels or flags (the cost curve's too).

Brute-force references (``tests.support``) are plain Python loops over users, written
independently of the vectorised code under test.
"""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fakeusers import decisions
from fakeusers.costcurve import CostCurve
from fakeusers.decisioninputs import MAX_COST
from fakeusers.decisions import (
    Decision,
    Outcome,
    cost_threshold,
    decide,
    expected_cost,
    flag_by_threshold,
    flag_top_k,
    outcome,
)
from fakeusers.errors import FakeusersError
from tests.support import (
    brute_counts,
    brute_expected_cost,
    brute_realised_cost,
    calibrated,
    close,
    cost,
    costs,
    no_deadline,
    probabilities,
    scored_users,
)

# --- cost_threshold -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("m", "f", "expected"),
    [(1, 3, 0.25), (1, 1, 0.5), (3, 1, 0.75), (1, 9, 0.1), (0, 5, 0.0), (5, 0, 1.0)],
)
def test_cost_threshold_known_values(m, f, expected):
    assert cost_threshold(m, f) == pytest.approx(expected, abs=1e-15)


@no_deadline
@given(costs)
def test_cost_threshold_is_m_over_m_plus_f_in_unit_interval(mf):
    m, f = mf
    t = cost_threshold(m, f)
    assert 0.0 <= t <= 1.0
    assert t == pytest.approx(m / (m + f), rel=1e-15, abs=1e-300)


@no_deadline
@given(costs, cost)
def test_cost_threshold_rises_with_m_and_falls_with_f(mf, extra):
    m, f = mf
    assert cost_threshold(m + extra, f) >= cost_threshold(m, f)
    assert cost_threshold(m, f + extra) <= cost_threshold(m, f)


@pytest.mark.parametrize(
    ("m", "f", "says"),
    [
        (-1, 3, "blocking a real user"),
        (1, -3, "letting a fake user through"),
        (float("nan"), 3, "M=nan"),
        (1, float("inf"), "F=inf"),
        ("10", 3, "as a number"),
        (None, 3, "as a number"),
        (True, 3, "as a number"),
        (0, 0, "Both costs are zero"),
    ],
)
def test_cost_threshold_rejects_bad_costs_and_says_what_to_enter(m, f, says):
    with pytest.raises(FakeusersError, match=says):
        cost_threshold(m, f)


# --- flag_by_threshold ----------------------------------------------------------------


@no_deadline
@given(probabilities, st.floats(-0.5, 1.5), st.floats(-0.5, 1.5))
def test_flag_count_does_not_grow_with_the_threshold(p, t1, t2):
    low, high = sorted((t1, t2))
    flagged_low = flag_by_threshold(p, low)
    flagged_high = flag_by_threshold(p, high)
    assert flagged_low.dtype == bool
    assert flagged_low.tolist() == [pi >= low for pi in p]
    assert flagged_high.sum() <= flagged_low.sum()
    assert not (flagged_high & ~flagged_low).any()


def test_flag_by_threshold_includes_users_exactly_at_the_threshold():
    assert flag_by_threshold([0.25, 0.2499, 1.0], 0.25).tolist() == [True, False, True]


# --- flag_top_k -----------------------------------------------------------------------


@no_deadline
@given(probabilities, st.integers(0, 50))
def test_flag_top_k_flags_the_k_highest_earliest_first(p, k):
    flagged = flag_top_k(p, k)
    assert flagged.dtype == bool
    assert flagged.sum() == min(k, p.size)
    if flagged.any() and not flagged.all():
        assert p[flagged].min() >= p[~flagged].max()
    # Reference: rank by probability, then by position; the first k win.
    ranked = sorted(range(p.size), key=lambda i: (-p[i], i))
    assert set(np.flatnonzero(flagged).tolist()) == set(ranked[:k])


def test_flag_top_k_breaks_ties_by_position():
    p = [0.5, 0.9, 0.5, 0.5, 0.1]
    assert flag_top_k(p, 3).tolist() == [True, True, True, False, False]
    assert flag_top_k(p, 2).tolist() == [True, True, False, False, False]


@pytest.mark.parametrize("k", [-1, 1.5, "3", None, True])
def test_flag_top_k_rejects_bad_k(k):
    with pytest.raises(FakeusersError, match="whole number"):
        flag_top_k([0.1, 0.2], k)


def test_flag_top_k_accepts_numpy_integers():
    assert flag_top_k([0.1, 0.2], np.int64(1)).tolist() == [False, True]


# --- expected_cost and outcome --------------------------------------------------------


@no_deadline
@given(probabilities, st.data(), costs)
def test_expected_cost_matches_brute_force(p, data, mf):
    m, f = mf
    flagged = data.draw(arrays(bool, p.size))
    got = expected_cost(p, flagged, m, f)
    assert close(got, brute_expected_cost(p, flagged, m, f), scale=(m + f) * p.size)


@no_deadline
@given(scored_users(), st.data(), costs)
def test_outcome_matches_brute_force_counts(users, data, mf):
    p, y = users
    m, f = mf
    flagged = data.draw(arrays(bool, p.size))
    o = outcome(y, flagged, m, f)
    tp, fp, fn, tn = brute_counts(y, flagged)
    assert (o.tp, o.fp, o.fn, o.tn) == (tp, fp, fn, tn)
    assert o.tp + o.fp + o.fn + o.tn == p.size
    assert o.realised_cost == pytest.approx(fp * m + fn * f)
    assert o.precision == (tp / (tp + fp) if tp + fp else 0.0)
    assert o.recall == (tp / (tp + fn) if tp + fn else 0.0)
    assert not math.isnan(o.precision)
    assert not math.isnan(o.recall)


def test_outcome_is_nan_free_when_nobody_is_flagged_and_nobody_is_fake():
    o = outcome([0, 0], [False, False], cost_fp=1, cost_fn=1)
    assert o == Outcome(tp=0, fp=0, fn=0, tn=2, precision=0.0, recall=0.0, realised_cost=0.0)


def test_outcome_accepts_0_1_flags_and_boolean_labels():
    o = outcome([True, False, True], [1, 1, 0], cost_fp=2, cost_fn=5)
    assert (o.tp, o.fp, o.fn, o.tn, o.realised_cost) == (1, 1, 1, 0, 7.0)


# --- decide ---------------------------------------------------------------------------


@no_deadline
@given(scored_users(), costs)
def test_decide_in_cost_mode_applies_elkans_rule(users, mf):
    p, y = users
    m, f = mf
    d = decide(p, cost_fp=m, cost_fn=f, y_true=y)
    assert isinstance(d, Decision)
    assert d.threshold == cost_threshold(m, f)
    assert d.flagged.tolist() == [pi >= d.threshold for pi in p]
    assert d.n_flagged == sum(pi >= d.threshold for pi in p)
    assert d.share_flagged == (d.n_flagged / p.size if p.size else 0.0)
    assert close(d.expected_cost, brute_expected_cost(p, d.flagged, m, f), (m + f) * p.size)
    assert d.outcome == outcome(y, d.flagged, m, f)


@no_deadline
@given(scored_users(), costs, st.integers(0, 50))
def test_decide_in_top_k_mode_follows_capacity_but_prices_with_costs(users, mf, k):
    p, y = users
    m, f = mf
    d = decide(p, cost_fp=m, cost_fn=f, top_k=k, y_true=y)
    assert d.threshold is None
    assert d.flagged.tolist() == flag_top_k(p, k).tolist()
    assert d.n_flagged == min(k, p.size)
    assert close(d.expected_cost, brute_expected_cost(p, d.flagged, m, f), (m + f) * p.size)
    assert d.outcome.realised_cost == pytest.approx(brute_realised_cost(y, d.flagged, m, f))


def test_decide_without_labels_has_no_outcome():
    d = decide([0.1, 0.3, 0.9], cost_fp=1, cost_fn=3)
    assert d.outcome is None
    assert d.flagged.tolist() == [False, True, True]
    assert d.expected_cost == pytest.approx(0.1 * 3 + 0.7 * 1 + 0.1 * 1)


def test_decide_top_k_ignores_the_cost_threshold():
    # Costs alone would flag nobody (M huge); the analyst asked for 2.
    d = decide([0.1, 0.3, 0.9], cost_fp=1e6, cost_fn=1, top_k=2)
    assert d.flagged.tolist() == [False, True, True]


# --- bad inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "says"),
    [
        ([0.1, float("nan")], r"nan at entry 2 of 2"),
        ([0.1, 1.2, 0.3], r"1\.2 at entry 2 of 3"),
        ([-0.1], r"-0\.1 at entry 1 of 1"),
        ([0.1, float("inf")], r"inf at entry 2"),
        ([[0.1, 0.2]], r"shape \(1, 2\)"),
        (["high", "low"], "not numbers"),
    ],
)
def test_bad_probabilities_are_rejected_everywhere(p, says):
    calls = [
        lambda: decide(p, cost_fp=1, cost_fn=1),
        lambda: flag_by_threshold(p, 0.5),
        lambda: flag_top_k(p, 1),
        lambda: expected_cost(p, [True] * len(p), 1, 1),
        lambda: CostCurve.from_scores(p),
    ]
    for call in calls:
        with pytest.raises(FakeusersError, match=says):
            call()


@pytest.mark.parametrize(
    ("y", "says"),
    [
        ([0, 2], r"got 2 at entry 2 of 2"),
        ([0.5, 1], r"got 0\.5 at entry 1"),
        (["no", "yes"], "not numbers"),
    ],
)
def test_bad_labels_are_rejected(y, says):
    with pytest.raises(FakeusersError, match=says):
        decide([0.1, 0.2], cost_fp=1, cost_fn=1, y_true=y)
    with pytest.raises(FakeusersError, match=says):
        CostCurve.from_scores([0.1, 0.2], y_true=y)
    with pytest.raises(FakeusersError, match=says):
        outcome(y, [True, False], 1, 1)


def test_mismatched_lengths_are_rejected():
    with pytest.raises(FakeusersError, match="2 probabilities but 3 labels"):
        decide([0.1, 0.2], cost_fp=1, cost_fn=1, y_true=[0, 1, 0])
    with pytest.raises(FakeusersError, match="2 probabilities but 1 labels"):
        CostCurve.from_scores([0.1, 0.2], y_true=[0])
    with pytest.raises(FakeusersError, match="2 probabilities but 3 flags"):
        expected_cost([0.1, 0.2], [True, False, True], 1, 1)
    with pytest.raises(FakeusersError, match="3 labels but 2 flags"):
        outcome([0, 1, 0], [True, False], 1, 1)


@pytest.mark.parametrize("flags", [[0, 2], [0.5, 1.0], [[True, False]]])
def test_bad_flags_are_rejected(flags):
    with pytest.raises(FakeusersError, match="flags must be"):
        expected_cost([0.1, 0.2], flags, 1, 1)


@pytest.mark.parametrize("threshold", [float("nan"), None, "0.5"])
def test_bad_threshold_is_rejected(threshold):
    with pytest.raises(FakeusersError, match="threshold must be a number"):
        flag_by_threshold([0.1, 0.2], threshold)


def test_bad_costs_are_rejected_everywhere():
    curve = CostCurve.from_scores([0.1, 0.9], y_true=[0, 1])
    calls = [
        lambda: decide([0.1], cost_fp=-1, cost_fn=1),
        lambda: decide([0.1], cost_fp=-1, cost_fn=1, top_k=1),
        lambda: expected_cost([0.1], [True], -1, 1),
        lambda: outcome([1], [True], -1, 1),
        lambda: curve.expected_costs(-1, 1),
        lambda: curve.realised_costs(-1, 1),
        lambda: curve.optimum(-1, 1),
    ]
    for call in calls:
        with pytest.raises(FakeusersError, match="M=-1"):
            call()


def test_docstring_examples_run():
    assert doctest.testmod(decisions).failed == 0


@pytest.mark.parametrize("huge", [1e16, 1e308, 1.5e308])
def test_costs_above_the_largest_are_refused_everywhere_saying_what_to_do(huge):
    # Priced with such costs, every figure overflowed to inf, and the interval to NaN.
    curve = CostCurve.from_scores([0.1, 0.9], y_true=[0, 1])
    calls = [
        lambda: cost_threshold(huge, huge),
        lambda: decide([0.1, 0.9], cost_fp=huge, cost_fn=huge),
        lambda: expected_cost([0.1], [True], huge, 1),
        lambda: decisions.cost_interval([0.1], [True], huge, 1),
        lambda: outcome([1], [True], huge, 1),
        lambda: curve.expected_costs(huge, 1),
        lambda: curve.optimum(huge, 1),
    ]
    for call in calls:
        with pytest.raises(FakeusersError, match=r"at most 1e15 .*; got M=.*in a larger unit"):
            call()
    with pytest.raises(FakeusersError, match="got F="):
        decide([0.1], cost_fp=1, cost_fn=huge)


@pytest.mark.parametrize("case", ["30 users", "2,000 users, both sides normal"])
def test_the_largest_costs_price_a_decision_in_finite_numbers_without_warnings(case):
    p, _, m, f = INTERVAL_CASES[case]
    y = (np.random.default_rng(7).random(p.size) < p).astype(int)
    scale = MAX_COST / max(m, f)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in numpy is a RuntimeWarning
        d = decide(p, cost_fp=m * scale, cost_fn=f * scale, y_true=y)
        curve = CostCurve.from_scores(p, y_true=y)
        costs = curve.expected_costs(m * scale, f * scale)
        curve.optimum(m * scale, f * scale)
    small = decide(p, cost_fp=m, cost_fn=f, y_true=y)
    assert np.isfinite([d.expected_cost, *d.expected_cost_interval, *costs]).all()
    # Costs only scale the money: the same flags, every figure times the scale.
    assert d.n_flagged == small.n_flagged
    assert d.expected_cost == pytest.approx(small.expected_cost * scale, rel=1e-12)
    assert d.expected_cost_interval == pytest.approx(
        tuple(x * scale for x in small.expected_cost_interval), rel=1e-9
    )
    assert d.outcome.realised_cost == pytest.approx(small.outcome.realised_cost * scale)


# --- the interval of the realised cost --------------------------------------------------


def simulated_costs(p, flagged, m, f, draws=100_000, seed=0) -> np.ndarray:
    """Brute force: draw who is fake, user by user, and price the flags."""
    rng = np.random.default_rng(seed)
    p, flagged = np.asarray(p), np.asarray(flagged)
    costs = np.empty(draws)
    for start in range(0, draws, 1_000):
        fake = rng.random((1_000, p.size)) < p
        costs[start : start + 1_000] = m * (~fake & flagged).sum(1) + f * (fake & ~flagged).sum(1)
    return costs


TWO_DOMINATE = np.concatenate([np.random.default_rng(2).beta(0.1, 8, 3_000), [0.8, 0.7]])
INTERVAL_CASES = {
    # Few users, costs that are far apart: the exact distribution is lumpy.
    "one user, F large": (np.array([0.3]), np.array([False]), 1.0, 1_000.0),
    "30 users": (np.random.default_rng(1).random(30), None, 1.0, 9.0),
    "a few flagged at M = 10,000 among 3,000 let through": (
        TWO_DOMINATE,
        TWO_DOMINATE >= 0.15,
        10_000.0,
        1.0,
    ),
    # Many uncertain users on both sides: the normal (Cornish-Fisher) path.
    "2,000 users, both sides normal": (np.random.default_rng(3).random(2_000), None, 1.0, 1.0),
    # One side exact, the other normal.
    "many let through, few flagged": (
        np.random.default_rng(4).beta(0.3, 3, 2_000),
        None,
        5.0,
        5.0,
    ),
}


@pytest.mark.parametrize("case", INTERVAL_CASES)
def test_cost_interval_matches_a_monte_carlo_of_the_outcomes(case):
    p, flagged, m, f = INTERVAL_CASES[case]
    if flagged is None:
        flagged = p >= cost_threshold(m, f)
    low, high = decisions.cost_interval(p, flagged, m, f)
    costs = simulated_costs(p, flagged, m, f)
    # Up to Monte Carlo noise (sd of a share of 100,000 near 5%: 0.0007), 5% of outcomes
    # fall below `low` and 5% above `high`; on a lattice the quantile's own atom may hold
    # the rest, so it is checked from both sides.
    tol = 0.006
    assert np.mean(costs < low) <= 0.05 + tol
    assert np.mean(costs <= low) >= 0.05 - tol
    assert np.mean(costs < high) <= 0.95 + tol
    assert np.mean(costs <= high) >= 0.95 - tol
    assert low <= high
    assert np.mean(costs) == pytest.approx(expected_cost(p, flagged, m, f), rel=0.02)


def test_cost_interval_is_a_point_when_nothing_is_uncertain():
    assert decisions.cost_interval([0.0, 1.0, 1.0], [False, True, False], 2, 3) == (3.0, 3.0)
    assert decisions.cost_interval([], [], 1, 1) == (0.0, 0.0)


def test_cost_interval_stays_within_what_can_happen():
    # 500 users at p = 0.999 let through: at most 500 * F, and never negative.
    p = np.full(500, 0.999)
    low, high = decisions.cost_interval(p, np.zeros(500, bool), 1, 2)
    assert 0 <= low <= high <= 1_000


def test_decide_carries_the_interval_around_the_expected_cost():
    p, _ = calibrated(5_000, seed=5)
    d = decide(p, cost_fp=1, cost_fn=4)
    low, high = d.expected_cost_interval
    assert low < d.expected_cost < high
    assert (low, high) == decisions.cost_interval(p, d.flagged, 1, 4)


# --- a threshold typed directly ---------------------------------------------------------


def test_decide_with_a_typed_threshold_flags_from_it_and_prices_with_the_costs():
    p = np.array([0.1, 0.3, 0.6, 0.9])
    d = decide(p, cost_fp=1, cost_fn=3, threshold=0.6)
    assert d.threshold == 0.6
    assert d.flagged.tolist() == [False, False, True, True]
    assert d.expected_cost == pytest.approx(expected_cost(p, d.flagged, 1, 3))


def test_decide_refuses_top_k_and_a_threshold_together():
    with pytest.raises(FakeusersError, match="not both"):
        decide([0.5], cost_fp=1, cost_fn=1, top_k=1, threshold=0.5)
