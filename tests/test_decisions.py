"""Tests for fakeusers.decisions: cost rule, top-K, costs, outcomes and the cost curve.

Brute-force references are plain Python loops over users, written independently of
the vectorised code under test.
"""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fakeusers import decisions
from fakeusers.decisions import (
    MAX_COST,
    CostCurve,
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

# numpy's first calls are slow enough to trip hypothesis' per-example deadline.
no_deadline = settings(deadline=None)

# Mix in a few round values so ties between users (and exact 0 and 1) are common.
probability = st.one_of(
    st.floats(0.0, 1.0, allow_nan=False),
    st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]),
)
probabilities = arrays(np.float64, st.integers(0, 40), elements=probability)
# Costs are amounts of money: zero, whole numbers, or from a millionth to a million.
cost = st.one_of(st.just(0.0), st.integers(0, 1000), st.floats(1e-6, 1e6))
costs = st.tuples(cost, cost).filter(lambda mf: mf[0] > 0 or mf[1] > 0)


@st.composite
def scored_users(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    p = draw(probabilities)
    y = draw(arrays(np.int64, p.size, elements=st.integers(0, 1)))
    return p, y


def brute_expected_cost(p, flagged, m, f) -> float:
    return math.fsum((1 - pi) * m if fl else pi * f for pi, fl in zip(p, flagged, strict=True))


def brute_counts(y, flagged) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for yi, fl in zip(y, flagged, strict=True):
        if fl and yi:
            tp += 1
        elif fl:
            fp += 1
        elif yi:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def brute_realised_cost(y, flagged, m, f) -> float:
    _, fp, fn, _ = brute_counts(y, flagged)
    return fp * m + fn * f


def close(a: float, b: float, scale: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9 * scale)


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return p, (rng.random(n) < p).astype(int)


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


# --- CostCurve ------------------------------------------------------------------------


@no_deadline
@given(scored_users(), costs)
def test_cost_curve_matches_brute_force_at_every_threshold(users, mf):
    p, y = users
    m, f = mf
    curve = CostCurve.from_scores(p, y_true=y)
    expected = curve.expected_costs(m, f)
    realised = curve.realised_costs(m, f)
    assert curve.n_users == p.size
    assert len(curve.thresholds) == len(np.unique(p)) + 1
    for i, t in enumerate(curve.thresholds):
        flagged = [pi >= t for pi in p]
        _, fp, fn, _ = brute_counts(y, flagged)
        assert curve.n_flagged[i] == sum(flagged)
        assert (curve.fp[i], curve.fn[i]) == (fp, fn)
        assert close(curve.expected_fp[i], math.fsum(1 - pi for pi in p if pi >= t), p.size)
        assert close(curve.expected_fn[i], math.fsum(pi for pi in p if pi < t), p.size)
        scale = (m + f) * p.size
        assert close(expected[i], brute_expected_cost(p, flagged, m, f), scale)
        assert realised[i] == pytest.approx(brute_realised_cost(y, flagged, m, f))


@no_deadline
@given(probabilities)
def test_cost_curve_thresholds_descend_from_nobody_to_everybody(p):
    curve = CostCurve.from_scores(p)
    assert (np.diff(curve.thresholds) < 0).all()
    assert (np.diff(curve.n_flagged) > 0).all()
    assert curve.n_flagged[0] == 0
    assert (p < curve.thresholds[0]).all()
    if p.size:
        assert curve.n_flagged[-1] == p.size
        assert set(curve.thresholds[1:].tolist()) == set(p.tolist())
    assert curve.fp is None
    assert curve.fn is None


@no_deadline
@given(scored_users(), costs, st.booleans())
def test_optimum_is_the_brute_force_minimum_over_all_thresholds(users, mf, realised):
    p, y = users
    m, f = mf
    curve = CostCurve.from_scores(p, y_true=y)
    best = curve.optimum(m, f, realised=realised)

    def brute(t: float) -> float:
        flagged = [pi >= t for pi in p]
        if realised:
            return brute_realised_cost(y, flagged, m, f)
        return brute_expected_cost(p, flagged, m, f)

    # Every threshold that matters: each distinct p, and one that flags nobody.
    candidates = [*set(p.tolist()), 1.5]
    brute_min = min(brute(t) for t in candidates)
    scale = (m + f) * max(p.size, 1)
    if best is None:
        # No real minimum: flagging nobody or everyone is as cheap as anything.
        ends = (brute(1.5), brute(float(p.min())) if p.size else brute(1.5))
        assert any(close(end, brute_min, scale) for end in ends)
        return
    t_best, c_best = best
    assert brute(1.5) > brute_min
    assert 0 < sum(pi >= t_best for pi in p) < p.size
    assert close(c_best, brute_min, scale)
    assert close(brute(t_best), brute_min, scale)
    # Every threshold that blocks fewer users costs more: ties go to blocking fewer.
    n_best = sum(pi >= t_best for pi in p)
    for t in candidates:
        if sum(pi >= t for pi in p) < n_best:
            assert brute(t) > brute_min


def test_optimum_breaks_ties_towards_blocking_fewer():
    # M = F: flagging 0.75 alone or 0.75 and 0.5 both cost 0.85; fewer blocked wins.
    t, c = CostCurve.from_scores([0.1, 0.5, 0.75]).optimum(cost_fp=1, cost_fn=1)
    assert t == 0.75
    assert c == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("p", "y", "m", "f"),
    [
        ([0.5], None, 1, 1),  # flat: flagging or not costs 0.5 either way
        ([], None, 1, 1),  # no users
        ([0.2, 0.7], [0, 0], 1, 0),  # realised costs all zero at F = 0 and no fakes flagged
        ([0.0, 0.0], None, 0, 1),  # expected costs all zero
    ],
)
def test_optimum_is_none_on_a_flat_curve(p, y, m, f):
    assert CostCurve.from_scores(p, y_true=y).optimum(m, f) is None


@pytest.mark.parametrize(("m", "f"), [(1, 1000), (1000, 1)])
def test_optimum_is_none_where_the_cost_still_falls_at_an_end(m, f):
    # F huge: flagging everyone is cheapest; M huge: flagging nobody is.
    p = np.random.default_rng(4).uniform(0.2, 0.8, 2_000)  # M/(M+F) is outside them all
    curve = CostCurve.from_scores(p)
    assert curve.optimum(m, f) is None
    costs = curve.expected_costs(m, f)
    assert costs.argmin() in (0, costs.size - 1)


def test_optimum_uses_expected_cost_without_labels():
    curve = CostCurve.from_scores([0.1, 0.9])
    assert curve.optimum(1, 1) == curve.optimum(1, 1, realised=False)
    with pytest.raises(FakeusersError, match="need labels"):
        curve.realised_costs(1, 1)


def test_optimum_realised_and_expected_differ_when_labels_disagree_with_p():
    # The model is confident and wrong: realised cost prefers flagging nobody.
    curve = CostCurve.from_scores([0.1, 0.9, 0.9, 0.95], y_true=[0, 0, 0, 1])
    t_expected, _ = curve.optimum(1, 1, realised=False)
    t_realised, c_realised = curve.optimum(1, 1, realised=True)
    assert t_expected == 0.9
    assert t_realised == 0.95
    assert c_realised == 0.0


def test_cost_curve_arrays_are_read_only():
    curve = CostCurve.from_scores([0.2, 0.7], y_true=[0, 1])
    for arr in (curve.thresholds, curve.n_flagged, curve.expected_fp, curve.fn):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0


def test_cost_curve_of_no_users_flags_nobody():
    curve = CostCurve.from_scores([], y_true=[])
    assert curve.n_flagged.tolist() == [0]
    assert curve.optimum(1, 1) is None


# --- Elkan's rule on calibrated data ----------------------------------------------------


@pytest.mark.parametrize(("m", "f"), [(1, 1), (1, 3), (1, 9), (4, 1)])
def test_expected_cost_optimum_is_elkans_threshold_on_calibrated_data(m, f):
    p, _ = calibrated(100_000, seed=1)
    t_star = cost_threshold(m, f)
    t_opt, _ = CostCurve.from_scores(p).optimum(m, f, realised=False)
    assert abs(t_opt - t_star) < 1e-3
    # Exactly the users above M/(M+F) are flagged.
    assert ((p >= t_opt) == (p > t_star)).all()


@pytest.mark.parametrize(("m", "f"), [(1, 1), (1, 3), (1, 9), (4, 1)])
def test_realised_cost_optimum_is_near_elkans_threshold_on_calibrated_data(m, f):
    p, y = calibrated(100_000, seed=2)
    t_opt, _ = CostCurve.from_scores(p, y_true=y).optimum(m, f)
    assert abs(t_opt - cost_threshold(m, f)) < 0.05


def test_realised_optimum_moves_away_from_elkan_when_scores_are_miscalibrated():
    # Guards the test above against passing for any curve: with p squashed
    # towards 0.5 (overconfident the other way), the realised optimum is far from M/(M+F).
    p, y = calibrated(100_000, seed=3)
    squashed = 0.5 + (p - 0.5) * 0.3
    t_opt, _ = CostCurve.from_scores(squashed, y_true=y).optimum(1, 9)
    assert abs(t_opt - cost_threshold(1, 9)) > 0.2


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
