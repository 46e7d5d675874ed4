"""The inputs of a decision, checked: costs, probabilities, flags, labels and thresholds.

Every function of :mod:`fakeusers.decisions` and :mod:`fakeusers.costcurve` checks what it is
given with these, so a bad value is refused in the same words wherever it enters: what is
wrong, and what to enter instead.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from fakeusers.errors import FakeusersError

__all__ = [
    "MAX_COST",
    "check_costs",
    "check_flags",
    "check_labels",
    "check_probabilities",
    "check_same_length",
    "check_threshold",
    "show",
]

#: The largest cost accepted for M or F: 10**15, a thousand trillion, more than one user can
#: cost in any currency. Every figure priced with the costs (sums over billions of users, the
#: cube of a cost in the skew of the cost interval) then stays far from float overflow.
MAX_COST = 1e15

_COST_NAMES = {
    "M": "the cost of blocking a real user",
    "F": "the cost of letting a fake user through",
}


def show(value: object) -> str:
    """Show a value as the user typed it: ``-1``, not ``np.float64(-1.0)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_cost(value: object, short: str) -> float:
    long = _COST_NAMES[short]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise FakeusersError(
            f"Costs must be zero or positive numbers; got {short}={show(value)}. "
            f"Enter {long} ({short}) as a number, such as 10."
        )
    cost = float(value)
    if not math.isfinite(cost) or cost < 0:
        raise FakeusersError(
            f"Costs must be zero or positive numbers; got {short}={show(value)}. "
            f"Enter {long} ({short}) as a positive amount."
        )
    if cost > MAX_COST:
        raise FakeusersError(
            f"Costs must be at most 1e15 (a thousand trillion); got {short}={show(value)}. "
            "Enter both costs in a larger unit, such as thousands or millions: the threshold "
            "depends only on their ratio."
        )
    return cost


def check_costs(cost_fp: float, cost_fn: float) -> tuple[float, float]:
    """M and F as floats: each from 0 to :data:`MAX_COST`, not both zero."""
    m = _check_cost(cost_fp, "M")
    f = _check_cost(cost_fn, "F")
    if m == 0 and f == 0:
        raise FakeusersError(
            "Both costs are zero, so every decision would cost nothing. Enter a positive "
            "cost for blocking a real user (M), for letting a fake user through (F), or both."
        )
    return m, f


def check_probabilities(p: ArrayLike) -> np.ndarray:
    """One probability per user, in [0, 1], as a flat float64 array."""
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
            f"{show(arr[bad])} at entry {bad + 1} of {arr.size}. Score the users with a model "
            "that outputs probabilities (not raw scores or percentages)."
        )
    return arr


def check_flags(flagged: ArrayLike) -> np.ndarray:
    """One flag per user (True/False or 1/0), as a flat boolean array."""
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


def check_labels(y_true: ArrayLike) -> np.ndarray:
    """One label per user (1 fake, 0 real), as a flat boolean array: True for fake."""
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
        value = show(np.asarray(y_true)[bad])
        raise FakeusersError(
            f"Labels must be 0 (real user) or 1 (fake user); got {value} at entry "
            f"{bad + 1} of {arr.size}. Check the Fake column of the log."
        )
    return is_fake


def check_same_length(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    """Refuse two per-user arrays of different lengths, naming both."""
    if a.size != b.size:
        raise FakeusersError(
            f"Got {a.size} {a_name} but {b.size} {b_name}; give one of each per user, "
            "in the same order."
        )


def check_threshold(threshold: float) -> float:
    """A threshold as a float: any number but NaN (above 1 flags nobody)."""
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or math.isnan(threshold):
        raise FakeusersError(
            f"The threshold must be a number; got {show(threshold)}. Enter a value between 0 and 1."
        )
    return float(threshold)
