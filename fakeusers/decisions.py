"""Turn probabilities into decisions that cost the least money.

The analyst sets two costs: ``cost_fp`` (M), the cost of blocking a real user
(a false positive), and ``cost_fn`` (F), the cost of letting a fake user through
(a false negative). With calibrated probabilities the cost-minimising rule is to
flag a user when ``p >= M / (M + F)`` (Elkan, *The Foundations of
Cost-Sensitive Learning*, IJCAI 2001). Beside that rule, :func:`flag_top_k`
serves analysts whose review capacity, not costs, sets how many users to flag.

The inputs are checked by :mod:`fakeusers.decisioninputs`; the cost of every threshold (the
cost curve) is :mod:`fakeusers.costcurve`'s, the interval of the realised cost
:mod:`fakeusers.costspread`'s arithmetic.

Everything here is pure numpy: no pandas, no streamlit, no loop over users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from fakeusers.costspread import realised_cost_interval
from fakeusers.decisioninputs import (
    check_costs,
    check_flags,
    check_labels,
    check_probabilities,
    check_same_length,
    check_threshold,
    show,
)
from fakeusers.errors import FakeusersError

__all__ = [
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


def cost_threshold(cost_fp: float, cost_fn: float) -> float:
    """Return the probability above which flagging a user costs less than not.

    Flagging a user with probability ``p`` costs ``(1 - p) * M`` on average,
    letting them through costs ``p * F``; the two are equal at ``M / (M + F)``.

    Parameters
    ----------
    cost_fp : float
        M, the cost of blocking a real user (false positive). From 0 to
        :data:`~fakeusers.decisioninputs.MAX_COST`.
    cost_fn : float
        F, the cost of letting a fake user through (false negative). From 0 to
        :data:`~fakeusers.decisioninputs.MAX_COST`.

    Returns
    -------
    float
        ``M / (M + F)``, in [0, 1].

    Raises
    ------
    FakeusersError
        If a cost is negative, above :data:`~fakeusers.decisioninputs.MAX_COST`, not a number,
        or both costs are zero.

    Examples
    --------
    >>> cost_threshold(1, 3)
    0.25
    >>> cost_threshold(5, 0)
    1.0
    """
    m, f = check_costs(cost_fp, cost_fn)
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
    return check_probabilities(p) >= check_threshold(threshold)


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
    arr = check_probabilities(p)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise FakeusersError(
            "The number of users to flag must be a whole number, zero or more; "
            f"got {show(k)}. "
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
    m, f = check_costs(cost_fp, cost_fn)
    arr = check_probabilities(p)
    flags = check_flags(flagged)
    check_same_length(arr, "probabilities", flags, "flags")
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
    m, f = check_costs(cost_fp, cost_fn)
    arr = check_probabilities(p)
    flags = check_flags(flagged)
    check_same_length(arr, "probabilities", flags, "flags")
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
    m, f = check_costs(cost_fp, cost_fn)
    y = check_labels(y_true)
    flags = check_flags(flagged)
    check_same_length(y, "labels", flags, "flags")
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
    forced: ArrayLike | None = None,
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
    forced : array-like of int, shape (n,), optional
        Analysts' verdicts: 1 (confirmed fake) is always flagged, 0 (cleared) never, -1 as
        the rule says. The top K are then chosen among users without a verdict, and the
        expected cost counts a verdict as certain (no cost for a flagged confirmed fake or a
        cleared user let through).

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
    m, f = check_costs(cost_fp, cost_fn)
    arr = check_probabilities(p)
    y = None if y_true is None else check_labels(y_true)
    if y is not None:
        check_same_length(arr, "probabilities", y, "labels")
    if top_k is not None and threshold is not None:
        raise FakeusersError(
            "Flag either the top K users or the users above a threshold, not both."
        )
    known = None
    if forced is not None:
        known = np.asarray(forced, dtype=np.int8)
        check_same_length(arr, "probabilities", known, "verdicts")
    if top_k is not None:
        if known is None:
            flagged = flag_top_k(arr, top_k)
        else:  # the K are chosen among the users without a verdict
            free = np.flatnonzero(known < 0)
            flagged = np.zeros(arr.size, dtype=bool)
            flagged[free] = flag_top_k(arr[free], top_k)
    else:
        threshold = cost_threshold(m, f) if threshold is None else check_threshold(threshold)
        flagged = arr >= threshold
    if known is not None:
        flagged = (flagged & (known != 0)) | (known == 1)
        arr = np.where(known == 1, 1.0, np.where(known == 0, 0.0, arr))
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
