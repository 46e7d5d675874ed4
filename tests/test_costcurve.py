"""Tests for fakeusers.costcurve: the cost of every threshold and the cheapest one.

Brute-force references (``tests.support``) are plain Python loops over users, written
independently of the vectorised code under test. Bad inputs are refused by the checks every
decision function shares: ``tests/test_decisions.py`` tests them on the curve too.
"""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakeusers import costcurve
from fakeusers.costcurve import CostCurve
from fakeusers.decisions import cost_threshold
from fakeusers.errors import FakeusersError
from tests.support import (
    brute_counts,
    brute_expected_cost,
    brute_realised_cost,
    calibrated,
    close,
    costs,
    no_deadline,
    probabilities,
    scored_users,
)

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


def test_docstring_examples_run():
    assert doctest.testmod(costcurve).failed == 0
