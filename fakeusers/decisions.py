"""Turn probabilities into decisions that cost the least money.

The analyst sets two costs: ``cost_fp`` (M), the cost of blocking a real user
(a false positive), and ``cost_fn`` (F), the cost of letting a fake user through
(a false negative). With calibrated probabilities the cost-minimising rule is to
flag a user when ``p >= M / (M + F)`` (Elkan, *The Foundations of
Cost-Sensitive Learning*, IJCAI 2001). Beside that rule, :func:`flag_top_k`
serves analysts whose review capacity, not costs, sets how many users to flag.

:class:`CostCurve` is built once per scoring (one sort) and then answers every
change of the cost sliders with a few vectorised multiply-adds, so the
dashboard can redraw the cost curve on each slider move.

Everything here is pure numpy: no pandas, no streamlit, no loop over users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from fakeusers.costspread import realised_cost_interval
from fakeusers.errors import FakeusersError

__all__ = [
    "MAX_COST",
    "CostCurve",
    "Decision",
    "Outcome",
    "cost_interval",
    "cost_threshold",
    "decide",
    "expected_cost",
    "flag_by_threshold",
    "flag_top_k",
    "outcome",
]

#: The largest cost accepted for M or F: 10**15, a thousand trillion, more than one user can
#: cost in any currency. Every figure priced with the costs (sums over billions of users, the
#: cube of a cost in the skew of the cost interval) then stays far from float overflow.
MAX_COST = 1e15

_COST_NAMES = {
    "M": "the cost of blocking a real user",
    "F": "the cost of letting a fake user through",
}


def _show(value: object) -> str:
    """Show a value as the user typed it: ``-1``, not ``np.float64(-1.0)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_cost(value: object, short: str) -> float:
    long = _COST_NAMES[short]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise FakeusersError(
            f"Costs must be zero or positive numbers; got {short}={_show(value)}. "
            f"Enter {long} ({short}) as a number, such as 10."
        )
    cost = float(value)
    if not math.isfinite(cost) or cost < 0:
        raise FakeusersError(
            f"Costs must be zero or positive numbers; got {short}={_show(value)}. "
            f"Enter {long} ({short}) as a positive amount."
        )
    if cost > MAX_COST:
        raise FakeusersError(
            f"Costs must be at most 1e15 (a thousand trillion); got {short}={_show(value)}. "
            "Enter both costs in a larger unit, such as thousands or millions: the threshold "
            "depends only on their ratio."
        )
    return cost


def _check_costs(cost_fp: float, cost_fn: float) -> tuple[float, float]:
    m = _check_cost(cost_fp, "M")
    f = _check_cost(cost_fn, "F")
    if m == 0 and f == 0:
        raise FakeusersError(
            "Both costs are zero, so every decision would cost nothing. Enter a positive "
            "cost for blocking a real user (M), for letting a fake user through (F), or both."
        )
    return m, f


def _check_probabilities(p: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FakeusersError(
            "Probabilities must be numbers between 0 and 1, one per user; some values are "
            f"not numbers ({exc}). Score the users with the model again."
        ) from exc
    if arr.ndim != 1:
        raise FakeusersError(
            "Probabilities must be a flat list of numbers, one per user; got an array of "
            f"shape {arr.shape}. Pass one probability per user."
        )
    # Two reductions on the fast path; NaN makes min() NaN, which fails the check.
    if arr.size and not (arr.min() >= 0.0 and arr.max() <= 1.0):
        bad = int(np.argmin((arr >= 0.0) & (arr <= 1.0)))
        raise FakeusersError(
            "Probabilities must be numbers between 0 and 1; got "
            f"{_show(arr[bad])} at entry {bad + 1} of {arr.size}. Score the users with a model "
            "that outputs probabilities (not raw scores or percentages)."
        )
    return arr


def _check_flags(flagged: ArrayLike) -> np.ndarray:
    arr = np.asarray(flagged)
    if arr.ndim != 1:
        raise FakeusersError(
            "The flags must be a flat list of True/False values, one per user; got an array "
            f"of shape {arr.shape}."
        )
    if arr.dtype == np.bool_:
        return arr
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise FakeusersError(
            "The flags must be True/False (or 1/0) values, one per user; got other "
            "values. Flag users with flag_by_threshold or flag_top_k."
        )
    return arr.astype(np.bool_)


def _check_labels(y_true: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(y_true, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise FakeusersError(
            "Labels must be 0 (real user) or 1 (fake user); some values are not numbers "
            f"({exc}). Check the Fake column of the log."
        ) from exc
    if arr.ndim != 1:
        raise FakeusersError(
            "Labels must be a flat list of 0/1 values, one per user; got an array of shape "
            f"{arr.shape}."
        )
    is_fake = arr == 1.0
    ok = is_fake | (arr == 0.0)
    if not ok.all():
        bad = int(np.argmin(ok))
        value = _show(np.asarray(y_true)[bad])
        raise FakeusersError(
            f"Labels must be 0 (real user) or 1 (fake user); got {value} at entry "
            f"{bad + 1} of {arr.size}. Check the Fake column of the log."
        )
    return is_fake


def _check_same_length(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    if a.size != b.size:
        raise FakeusersError(
            f"Got {a.size} {a_name} but {b.size} {b_name}; give one of each per user, "
            "in the same order."
        )


def _check_threshold(threshold: float) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or math.isnan(threshold):
        raise FakeusersError(
            f"The threshold must be a number; got {_show(threshold)}. "
            "Enter a value between 0 and 1."
        )
    return float(threshold)


def cost_threshold(cost_fp: float, cost_fn: float) -> float:
    """Return the probability above which flagging a user costs less than not.

    Flagging a user with probability ``p`` costs ``(1 - p) * M`` on average,
    letting them through costs ``p * F``; the two are equal at ``M / (M + F)``.

    Parameters
    ----------
    cost_fp : float
        M, the cost of blocking a real user (false positive). From 0 to :data:`MAX_COST`.
    cost_fn : float
        F, the cost of letting a fake user through (false negative). From 0 to
        :data:`MAX_COST`.

    Returns
    -------
    float
        ``M / (M + F)``, in [0, 1].

    Raises
    ------
    FakeusersError
        If a cost is negative, above :data:`MAX_COST`, not a number, or both costs are zero.

    Examples
    --------
    >>> cost_threshold(1, 3)
    0.25
    >>> cost_threshold(5, 0)
    1.0
    """
    m, f = _check_costs(cost_fp, cost_fn)
    return m / (m + f)


def flag_by_threshold(p: ArrayLike, threshold: float) -> np.ndarray:
    """Flag the users whose probability reaches the threshold (``p >= threshold``).

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake, in [0, 1].
    threshold : float
        Users with ``p >= threshold`` are flagged. Any number; above 1 flags nobody.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Examples
    --------
    >>> flag_by_threshold([0.1, 0.5, 0.9], 0.5)
    array([False,  True,  True])
    """
    return _check_probabilities(p) >= _check_threshold(threshold)


def flag_top_k(p: ArrayLike, k: int) -> np.ndarray:
    """Flag the ``k`` users with the highest probabilities.

    Exactly ``min(k, n)`` users are flagged. Among users with equal
    probabilities at the cut, those earlier in ``p`` are flagged first, so the
    result is the same on every run. Runs in O(n) (one partition).

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake, in [0, 1].
    k : int
        How many users the analyst can review; zero or more.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Raises
    ------
    FakeusersError
        If ``k`` is negative or not a whole number.

    Examples
    --------
    >>> flag_top_k([0.2, 0.9, 0.5, 0.9], 2)
    array([False,  True, False,  True])
    >>> flag_top_k([0.7, 0.7, 0.7], 2)
    array([ True,  True, False])
    """
    arr = _check_probabilities(p)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise FakeusersError(
            "The number of users to flag must be a whole number, zero or more; "
            f"got {_show(k)}. "
            "Enter how many users you can review, such as 100."
        )
    n = arr.size
    k = int(k)
    if k >= n:
        return np.ones(n, dtype=np.bool_)
    if k == 0:
        return np.zeros(n, dtype=np.bool_)
    cut = np.partition(arr, n - k)[n - k]
    flagged = arr > cut
    missing = k - int(np.count_nonzero(flagged))
    flagged[np.flatnonzero(arr == cut)[:missing]] = True
    return flagged


def expected_cost(p: ArrayLike, flagged: ArrayLike, cost_fp: float, cost_fn: float) -> float:
    """Return the cost the probabilities predict for a set of flags.

    Each flagged user costs ``(1 - p) * M`` (the chance they are real, times the
    cost of blocking a real user); each user let through costs ``p * F``.

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake, in [0, 1].
    flagged : array-like of bool, shape (n,)
        Which users are flagged.
    cost_fp, cost_fn : float
        M and F, as in :func:`cost_threshold`.

    Returns
    -------
    float

    Examples
    --------
    >>> expected_cost([0.25, 0.75], [False, True], cost_fp=1, cost_fn=3)
    1.0
    """
    m, f = _check_costs(cost_fp, cost_fn)
    arr = _check_probabilities(p)
    flags = _check_flags(flagged)
    _check_same_length(arr, "probabilities", flags, "flags")
    return _expected_cost(arr, flags, m, f)


def _expected_cost(p: np.ndarray, flags: np.ndarray, m: float, f: float) -> float:
    return float(m * (1.0 - p[flags]).sum() + f * p[~flags].sum())


# The central interval of the realised cost ---------------------------------------------------

_INTERVAL = 0.90


def cost_interval(
    p: ArrayLike, flagged: ArrayLike, cost_fp: float, cost_fn: float, level: float = _INTERVAL
) -> tuple[float, float]:
    """Return a central interval of the cost that these flags will really incur.

    With calibrated probabilities each flagged user is real, costing M, with probability
    ``1 - p``, and each user let through is fake, costing F, with probability ``p``,
    independently. The realised cost is then ``M * A + F * B`` with ``A`` and ``B`` two
    Poisson-binomial counts; :func:`expected_cost` is its mean.

    Each count is computed exactly (from its characteristic function, by FFT) when its
    variance is below 50, and treated as normal above, where the normal is accurate; when
    both are normal, a Cornish-Fisher correction accounts for the skew. A few uncertain users
    with a large cost (one possible fake let through at F = 10,000) thus give the lumpy
    interval they really have, not a symmetric normal one.

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake, in [0, 1].
    flagged : array-like of bool, shape (n,)
        Which users are flagged.
    cost_fp, cost_fn : float
        M and F, as in :func:`cost_threshold`.
    level : float, default 0.9
        Probability that the realised cost falls in the interval.

    Returns
    -------
    (low, high) : tuple of float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles. When few users are
        uncertain, both may lie on the same side of the expected cost.

    Examples
    --------
    >>> cost_interval([0.5], [False], cost_fp=1, cost_fn=100)
    (0.0, 100.0)
    >>> cost_interval([0.0, 1.0], [False, True], cost_fp=1, cost_fn=1)
    (0.0, 0.0)
    """
    m, f = _check_costs(cost_fp, cost_fn)
    arr = _check_probabilities(p)
    flags = _check_flags(flagged)
    _check_same_length(arr, "probabilities", flags, "flags")
    if not 0 < level < 1:
        raise FakeusersError(f"The interval's level must be between 0 and 1; got {level!r}.")
    return realised_cost_interval(arr, flags, m, f, level)


@dataclass(frozen=True)
class Outcome:
    """What a set of flags did, measured against known labels.

    Attributes
    ----------
    tp, fp, fn, tn : int
        Fake users flagged, real users flagged, fake users let through, real
        users let through. They sum to the number of users.
    precision : float
        Share of flagged users that are fake, ``tp / (tp + fp)``; 0.0 when
        nobody is flagged (never NaN, so it can be shown and compared directly).
    recall : float
        Share of fake users that are flagged, ``tp / (tp + fn)``; 0.0 when
        there are no fake users.
    realised_cost : float
        ``fp * M + fn * F``.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    realised_cost: float


def outcome(y_true: ArrayLike, flagged: ArrayLike, cost_fp: float, cost_fn: float) -> Outcome:
    """Count what a set of flags got right and wrong, and what that cost.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
        1 for a fake user, 0 for a real one.
    flagged : array-like of bool, shape (n,)
        Which users are flagged.
    cost_fp, cost_fn : float
        M and F, as in :func:`cost_threshold`.

    Returns
    -------
    Outcome

    Examples
    --------
    >>> o = outcome([1, 0, 1, 0], [True, True, False, False], cost_fp=1, cost_fn=3)
    >>> (o.tp, o.fp, o.fn, o.tn, o.precision, o.recall, o.realised_cost)
    (1, 1, 1, 1, 0.5, 0.5, 4.0)
    """
    m, f = _check_costs(cost_fp, cost_fn)
    y = _check_labels(y_true)
    flags = _check_flags(flagged)
    _check_same_length(y, "labels", flags, "flags")
    return _outcome(y, flags, m, f)


def _outcome(y: np.ndarray, flags: np.ndarray, m: float, f: float) -> Outcome:
    n_flagged = int(np.count_nonzero(flags))
    n_fake = int(np.count_nonzero(y))
    tp = int(np.count_nonzero(y & flags))
    fp = n_flagged - tp
    fn = n_fake - tp
    tn = y.size - tp - fp - fn
    return Outcome(
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
        precision=tp / n_flagged if n_flagged else 0.0,
        recall=tp / n_fake if n_fake else 0.0,
        realised_cost=fp * m + fn * f,
    )


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
        arr = _check_probabilities(p)
        y = None if y_true is None else _check_labels(y_true)
        if y is not None:
            _check_same_length(arr, "probabilities", y, "labels")
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
            M and F, as in :func:`cost_threshold`.

        Returns
        -------
        numpy.ndarray of float, aligned with :attr:`thresholds`.
        """
        m, f = _check_costs(cost_fp, cost_fn)
        return m * self.expected_fp + f * self.expected_fn

    def realised_costs(self, cost_fp: float, cost_fn: float) -> np.ndarray:
        """Return the realised cost at each threshold, ``M * fp + F * fn``.

        Parameters
        ----------
        cost_fp, cost_fn : float
            M and F, as in :func:`cost_threshold`.

        Returns
        -------
        numpy.ndarray of float, aligned with :attr:`thresholds`.

        Raises
        ------
        FakeusersError
            If the curve was built without labels.
        """
        m, f = _check_costs(cost_fp, cost_fn)
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
            M and F, as in :func:`cost_threshold`.
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


@dataclass(frozen=True, eq=False)
class Decision:
    """Whom to flag, and what that is expected (and, with labels, known) to cost.

    Attributes
    ----------
    threshold : float or None
        ``M / (M + F)`` in cost mode, the analyst's own threshold when one was
        typed; None in top-K mode, where the analyst's review capacity, not the
        costs, sets who is flagged.
    flagged : numpy.ndarray of bool, shape (n,)
        Which users to flag.
    n_flagged : int
        Number of users flagged.
    share_flagged : float
        ``n_flagged / n``; 0.0 when there are no users.
    expected_cost : float
        See :func:`expected_cost`.
    expected_cost_interval : tuple of float
        The central 90% interval of the cost these flags will really incur, if the
        probabilities are calibrated; see :func:`cost_interval`.
    outcome : Outcome or None
        Confusion counts and realised cost, when labels were given.
    """

    threshold: float | None
    flagged: np.ndarray
    n_flagged: int
    share_flagged: float
    expected_cost: float
    expected_cost_interval: tuple[float, float]
    outcome: Outcome | None


def decide(
    p: ArrayLike,
    *,
    cost_fp: float,
    cost_fn: float,
    top_k: int | None = None,
    y_true: ArrayLike | None = None,
    threshold: float | None = None,
) -> Decision:
    """Decide whom to flag: by costs, by review capacity, or by a threshold typed directly.

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake, in [0, 1].
    cost_fp, cost_fn : float
        M and F, as in :func:`cost_threshold`. Used for the costs in both modes.
    top_k : int, optional
        When given, flag the ``top_k`` most likely fake users
        (:func:`flag_top_k`) instead of applying ``p >= M / (M + F)``.
    y_true : array-like of 0/1, shape (n,), optional
        Known labels; when given, the decision carries an :class:`Outcome`.
    threshold : float, optional
        When given, flag ``p >= threshold`` instead of ``p >= M / (M + F)``; the costs
        still price the decision. Not with ``top_k``.

    Returns
    -------
    Decision

    Raises
    ------
    FakeusersError
        Bad costs, probabilities, labels or K; ``top_k`` and ``threshold`` together.

    Examples
    --------
    >>> d = decide([0.1, 0.3, 0.9], cost_fp=1, cost_fn=3)
    >>> d.threshold, d.flagged.tolist(), d.n_flagged
    (0.25, [False, True, True], 2)
    >>> decide([0.1, 0.3, 0.9], cost_fp=1, cost_fn=3, top_k=1).flagged.tolist()
    [False, False, True]
    >>> decide([0.1, 0.3, 0.9], cost_fp=1, cost_fn=3, threshold=0.5).flagged.tolist()
    [False, False, True]
    """
    m, f = _check_costs(cost_fp, cost_fn)
    arr = _check_probabilities(p)
    y = None if y_true is None else _check_labels(y_true)
    if y is not None:
        _check_same_length(arr, "probabilities", y, "labels")
    if top_k is not None and threshold is not None:
        raise FakeusersError(
            "Flag either the top K users or the users above a threshold, not both."
        )
    if top_k is not None:
        flagged = flag_top_k(arr, top_k)
    else:
        threshold = cost_threshold(m, f) if threshold is None else _check_threshold(threshold)
        flagged = arr >= threshold
    n_flagged = int(np.count_nonzero(flagged))
    return Decision(
        threshold=threshold,
        flagged=flagged,
        n_flagged=n_flagged,
        share_flagged=n_flagged / arr.size if arr.size else 0.0,
        expected_cost=_expected_cost(arr, flagged, m, f),
        expected_cost_interval=realised_cost_interval(arr, flagged, m, f, _INTERVAL),
        outcome=None if y is None else _outcome(y, flagged, m, f),
    )
