"""The cost of every threshold, for any pair of costs: what the cost curve draws.

:class:`CostCurve` is built once per scoring (one sort) and then answers every change of the
cost sliders with a few vectorised multiply-adds, so the dashboard can redraw the cost curve on
each slider move; :meth:`CostCurve.optimum` finds the cheapest threshold where there is one.
The rule that decides (``p >= M / (M + F)``) is :mod:`fakeusers.decisions`'.

Everything here is pure numpy: no pandas, no streamlit, no loop over users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fakeusers.decisioninputs import (
    check_costs,
    check_labels,
    check_probabilities,
    check_same_length,
)
from fakeusers.errors import FakeusersError

__all__ = ["CostCurve"]


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, eq=False)
class CostCurve:
    """Cost of every possible threshold, for any pair of costs.

    Build it once per scoring with :meth:`from_scores`; each cost change is
    then a linear combination of precomputed arrays (no sorting), cheap
    enough to redraw the curve on every slider move. Arrays are read-only so
    a cached curve cannot be changed by accident.

    Attributes
    ----------
    thresholds : numpy.ndarray of float, shape (t,)
        Candidate thresholds in **descending** order: first a value just above
        the highest probability (``numpy.nextafter(max(p), inf)``; it flags
        nobody), then every distinct probability. Flagging ``p >= thresholds[i]``
        reproduces row ``i`` exactly.
    n_flagged : numpy.ndarray of int, shape (t,)
        Users flagged at each threshold; starts at 0, ends at n.
    expected_fp : numpy.ndarray of float, shape (t,)
        Expected real users among the flagged, ``sum(1 - p)`` over flagged.
    expected_fn : numpy.ndarray of float, shape (t,)
        Expected fake users let through, ``sum(p)`` over not flagged.
    fp, fn : numpy.ndarray of int, shape (t,), or None
        Real users flagged and fake users let through, when labels were given.
    n_users : int
        Number of users scored.

    Examples
    --------
    >>> curve = CostCurve.from_scores([0.1, 0.8, 0.8], y_true=[0, 1, 0])
    >>> curve.thresholds.round(2).tolist(), curve.n_flagged.tolist()
    ([0.8, 0.8, 0.1], [0, 2, 3])
    >>> curve.realised_costs(cost_fp=1, cost_fn=3).tolist()
    [3.0, 1.0, 2.0]
    >>> curve.optimum(cost_fp=1, cost_fn=3)
    (0.8, 1.0)
    >>> curve.optimum(cost_fp=1, cost_fn=1) is None  # flagging everyone is cheapest
    True
    """

    thresholds: np.ndarray
    n_flagged: np.ndarray
    expected_fp: np.ndarray
    expected_fn: np.ndarray
    fp: np.ndarray | None
    fn: np.ndarray | None
    n_users: int

    @classmethod
    def from_scores(cls, p: ArrayLike, y_true: ArrayLike | None = None) -> CostCurve:
        """Build the curve from probabilities (and labels, when known).

        One O(n log n) sort plus cumulative sums.

        Parameters
        ----------
        p : array-like of float, shape (n,)
            Probability that each user is fake, in [0, 1].
        y_true : array-like of 0/1, shape (n,), optional
            1 for a fake user, 0 for a real one. Enables realised costs.

        Returns
        -------
        CostCurve
        """
        arr = check_probabilities(p)
        y = None if y_true is None else check_labels(y_true)
        if y is not None:
            check_same_length(arr, "probabilities", y, "labels")
        n = arr.size
        order = np.argsort(arr)[::-1]
        p_desc = arr[order]
        # Last position of each run of equal probabilities: flagging p >= v
        # flags everyone up to and including the run of v.
        run_ends = np.flatnonzero(p_desc[1:] != p_desc[:-1]) if n else np.empty(0, np.intp)
        n_flagged = np.concatenate(([0], run_ends + 1, [n] if n else [])).astype(np.int64)
        top = np.nextafter(p_desc[0] if n else 1.0, np.inf)
        thresholds = np.concatenate(([top], p_desc[n_flagged[1:] - 1]))
        # Prefix sums for the flagged and suffix sums for the rest keep both
        # small near their ends; "total - prefix" would lose them to cancellation.
        prefix_not_fake = np.concatenate(([0.0], np.cumsum(1.0 - p_desc)))
        suffix_fake = np.concatenate((np.cumsum(p_desc[::-1])[::-1], [0.0]))
        fp = fn = None
        if y is not None:
            y_desc = y[order]
            prefix_fake = np.concatenate(([0], np.cumsum(y_desc, dtype=np.int64)))
            fp = _readonly(n_flagged - prefix_fake[n_flagged])
            fn = _readonly(prefix_fake[-1] - prefix_fake[n_flagged])
        return cls(
            thresholds=_readonly(thresholds),
            n_flagged=_readonly(n_flagged),
            expected_fp=_readonly(prefix_not_fake[n_flagged]),
            expected_fn=_readonly(suffix_fake[n_flagged]),
            fp=fp,
            fn=fn,
            n_users=n,
        )

    def expected_costs(self, cost_fp: float, cost_fn: float) -> np.ndarray:
        """Return the expected cost at each threshold, ``M * expected_fp + F * expected_fn``.

        Parameters
        ----------
        cost_fp, cost_fn : float
            M and F, as in :func:`~fakeusers.decisions.cost_threshold`.

        Returns
        -------
        numpy.ndarray of float, aligned with :attr:`thresholds`.
        """
        m, f = check_costs(cost_fp, cost_fn)
        return m * self.expected_fp + f * self.expected_fn

    def realised_costs(self, cost_fp: float, cost_fn: float) -> np.ndarray:
        """Return the realised cost at each threshold, ``M * fp + F * fn``.

        Parameters
        ----------
        cost_fp, cost_fn : float
            M and F, as in :func:`~fakeusers.decisions.cost_threshold`.

        Returns
        -------
        numpy.ndarray of float, aligned with :attr:`thresholds`.

        Raises
        ------
        FakeusersError
            If the curve was built without labels.
        """
        m, f = check_costs(cost_fp, cost_fn)
        if self.fp is None or self.fn is None:
            raise FakeusersError(
                "Realised costs need labels, and these scores have none. Upload a log with a "
                "Fake column, or use the expected costs."
            )
        return m * self.fp + f * self.fn

    def optimum(
        self, cost_fp: float, cost_fn: float, *, realised: bool = True
    ) -> tuple[float, float] | None:
        """Return the threshold with the lowest cost, and that cost, where there is one.

        Only a real minimum is returned: one that costs less than flagging nobody and is
        not the threshold that flags everyone. When the cost still falls at an end of the
        threshold range, or the curve is flat (no users, or all costs zero), moving the
        threshold further would cost the same or less, so there is no threshold to
        recommend: None.

        Parameters
        ----------
        cost_fp, cost_fn : float
            M and F, as in :func:`~fakeusers.decisions.cost_threshold`.
        realised : bool, default True
            Minimise the realised cost when labels are known; with
            ``realised=False``, or without labels, minimise the expected cost.

        Returns
        -------
        (threshold, cost) : tuple of float, or None
            Among equal costs, the highest threshold (fewest users blocked).
            Costs within 1e-12 times the largest cost on the curve count as
            equal, so rounding in the sums cannot decide who gets blocked.

        Examples
        --------
        >>> CostCurve.from_scores([0.1, 0.5, 0.75]).optimum(cost_fp=1, cost_fn=1)
        (0.75, 0.85)
        >>> CostCurve.from_scores([0.5]).optimum(cost_fp=1, cost_fn=1) is None  # flat
        True
        """
        if realised and self.fp is not None:
            costs = self.realised_costs(cost_fp, cost_fn)
        else:
            costs = self.expected_costs(cost_fp, cost_fn)
        # Thresholds descend, so the first near-minimal index is the highest threshold.
        tolerance = 1e-12 * costs.max()
        if costs.max() - costs.min() <= tolerance:
            return None
        i = int(np.argmax(costs <= costs.min() + tolerance))
        if i == 0 or i == costs.size - 1:
            return None
        return float(self.thresholds[i]), float(costs[i])
