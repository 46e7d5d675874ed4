"""Why a user is flagged, in sentences a reviewer can use.

A reason is one feature that pushes the user towards "fake", said three ways:

- the user's value in words: ``"34 category switches in 42 events"``;
- against the real users the model was trained on, from the 1st to 99th percentiles the
  model card records (:func:`fakeusers.applicability.profile`): ``"more than 99% of real
  users"``;
- the push as odds: the feature's contribution ``c`` to the log-odds
  (:mod:`fakeusers.explain`) multiplies the odds of being fake by ``exp(c)``:
  ``"makes being fake 9.8× more likely"``.

Contributions add up to the model's log-odds for both model types (logistic: coefficient ×
standardised value; boosting: TreeSHAP), so "9.8× more likely" means: this feature alone
multiplies the odds the model gives this user, all else being as it is.

Examples
--------
``"34 category switches in 42 events: more than 99% of real users; makes being fake 9.8×
more likely"``
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from fakeusers.features import OTHER

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MIN_CONTRIBUTION",
    "N_REASONS",
    "Reason",
    "explain_in_words",
    "odds_words",
    "value_words",
]

#: Reasons given per user.
N_REASONS = 3
#: The smallest push that counts as a reason: it multiplies the odds of being fake by 1.1.
MIN_CONTRIBUTION = math.log(1.1)
#: The odds factor above which the sentence says "more than ...×".
_ODDS_CAP = 1_000.0

_PHRASES = {
    "n_events": "{v} events",
    "n_distinct_events": "{v} different events",
    "n_distinct_categories": "{v} different categories",
    "event_switches": "{v} event switches",
    "category_switches": "{v} category switches",
    "event_switch_rate": "a new event at {v} of steps",
    "category_switch_rate": "a new category at {v} of steps",
    "event_entropy": "event variety (entropy) {v}",
    "category_entropy": "category variety (entropy) {v}",
    "longest_event_run": "the same event {v} times in a row",
    "span_seconds": "active for {v}",
    "events_per_minute": "{v} events per minute",
    "median_gap_seconds": "{v} between events (median)",
    "min_gap_seconds": "{v} shortest gap between events",
}
# Timing features are missing for a user with a single event (no gap to measure).
_MISSING = {
    "span_seconds": "no time span (a single event)",
    "events_per_minute": "no rate (a single event)",
    "median_gap_seconds": "no gap between events (a single event)",
    "min_gap_seconds": "no gap between events (a single event)",
}
# Features counted in events, for which "in N events" gives the scale.
_COUNTS = {"event_switches", "category_switches", "longest_event_run"}


@dataclass(frozen=True)
class Reason:
    """One feature that pushes a user towards "fake".

    Attributes
    ----------
    feature : str
        The feature's name (a column of :func:`fakeusers.features.featurize`).
    value : float or None
        The user's value; None when missing (a gap of a one-event user).
    contribution : float
        Its push on the log-odds of being fake (positive).
    odds_factor : float
        ``exp(contribution)``: how many times it multiplies the odds of being fake.
    real_percentile : float or None
        Where the value falls among the real users of the training data, in percent (50 is
        the median real user); None when the model card has no percentiles for it.
    text : str
        All of it as one sentence.
    """

    feature: str
    value: float | None
    contribution: float
    odds_factor: float
    real_percentile: float | None
    text: str

    def to_dict(self) -> dict:
        return asdict(self)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:,.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:,.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.1f} days"


def _number(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def value_words(feature: str, value: float | None, n_events: float | None = None) -> str:
    """A user's value of a feature, as an analyst says it.

    Examples
    --------
    >>> value_words("category_switches", 34, 42)
    '34 category switches in 42 events'
    >>> value_words("event_send_email_share", 0.52)
    "'send_email' in 52% of events"
    >>> value_words("median_gap_seconds", 2.25)
    '2.2 s between events (median)'
    >>> value_words("min_gap_seconds", None)
    'no gap between events (a single event)'
    """
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    for prefix, what in (("event_", ""), ("category_", "category ")):
        for suffix in ("_count", "_share"):
            if feature.startswith(prefix) and feature.endswith(suffix) and feature not in _PHRASES:
                name = feature[len(prefix) : -len(suffix)]
                shown = f"{what}'{name}'" if name != OTHER else f"unknown {prefix[:-1]}s"
                if missing:
                    return f"{shown}: missing"
                if suffix == "_share":
                    return f"{shown} in {value:.0%} of events"
                scale = f" in {_number(n_events)} events" if n_events is not None else ""
                return f"{shown} {_number(value)} times{scale}"
    if missing:
        return _MISSING.get(feature, f"{feature.replace('_', ' ')}: missing")
    if feature.endswith("_seconds"):
        shown = _duration(float(value))
    elif feature.endswith("_rate"):
        shown = f"{value:.0%}"
    elif feature.endswith("_entropy"):
        shown = f"{value:.2f}"
    elif feature == "events_per_minute":
        shown = f"{value:,.1f}"
    else:
        shown = _number(value)
    phrase = _PHRASES.get(feature, feature.replace("_", " ") + " {v}").format(v=shown)
    if feature in _COUNTS and n_events is not None:
        phrase += f" in {_number(n_events)} events"
    return phrase


def odds_words(contribution: float) -> str:
    """A push on the log-odds as a factor on the odds of being fake.

    Examples
    --------
    >>> odds_words(2.28)
    'makes being fake 9.8× more likely'
    >>> odds_words(3.2)
    'makes being fake 25× more likely'
    >>> odds_words(9.0)
    'makes being fake more than 1,000× more likely'
    """
    factor = math.exp(min(contribution, 700.0))
    if factor >= _ODDS_CAP:
        return f"makes being fake more than {_ODDS_CAP:,.0f}× more likely"
    shown = f"{factor:.0f}" if factor >= 10 else f"{factor:.1f}"
    return f"makes being fake {shown}× more likely"


def _comparative(feature: str, higher: bool) -> str:
    if feature.endswith("_seconds"):
        return "longer" if higher else "shorter"
    if feature.endswith(("_share", "_rate", "_entropy")):
        return "higher" if higher else "lower"
    return "more" if higher else "fewer"


def _against_real(feature: str, below: int, at_most: int) -> str:
    """Words for a value above ``below`` and at least ``at_most`` of the 99 percentile
    levels of real users."""
    above = 99 - at_most
    if below >= 50 and below >= above:
        return f"{_comparative(feature, True)} than {below}% of real users"
    if above >= 50:
        return f"{_comparative(feature, False)} than {above}% of real users"
    return "typical of real users"


def explain_in_words(
    contributions: pd.DataFrame,
    X: pd.DataFrame,
    real_percentiles: dict | None = None,
    n: int = N_REASONS,
) -> list[list[Reason]]:
    """The ``n`` features that push each user towards "fake" the most, as reasons.

    Parameters
    ----------
    contributions : pandas.DataFrame
        Per-feature log-odds contributions (:func:`fakeusers.explain.contributions`).
    X : pandas.DataFrame
        The same users' features, for the values.
    real_percentiles : dict, optional
        The model card's ``profile["real_percentiles"]`` (``levels`` 1..99 and per-feature
        values); without it the sentences give the value and the odds only.
    n : int
        Reasons per user at most. Only a feature that multiplies the odds of being fake by
        at least 1.1 (``MIN_CONTRIBUTION``) is a reason, so a user may get fewer, or none.

    Returns
    -------
    list of list of Reason
        One list per row of ``contributions``, strongest push first.
    """
    names = list(contributions.columns)
    C = contributions.to_numpy(dtype=np.float64)
    V = X[names].to_numpy(dtype=np.float64)
    n_users = C.shape[0]
    if n_users == 0 or not names:
        return [[] for _ in range(n_users)]
    k = min(n, len(names))
    top = np.argpartition(-C, k - 1, axis=1)[:, :k]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(C, top, 1), axis=1), 1)
    chosen_c = np.take_along_axis(C, top, 1)
    chosen_v = np.take_along_axis(V, top, 1)
    events = X["n_events"].to_numpy(dtype=np.float64) if "n_events" in X.columns else None
    # Where each chosen value falls among real users: levels strictly below and at most.
    below = np.full(top.shape, -1, dtype=np.int64)
    at_most = np.full(top.shape, -1, dtype=np.int64)
    recorded = (real_percentiles or {}).get("features", {})
    for j in np.unique(top):
        levels = recorded.get(names[j])
        if not levels or len(levels) != 99 or any(v is None for v in levels):
            continue
        where = top == j
        values = chosen_v[where]
        ok = ~np.isnan(values)
        b = np.full(values.shape, -1)
        a = np.full(values.shape, -1)
        b[ok] = np.searchsorted(levels, values[ok], side="left")
        a[ok] = np.searchsorted(levels, values[ok], side="right")
        below[where], at_most[where] = b, a
    out: list[list[Reason]] = []
    for i in range(n_users):
        reasons = []
        for r in range(k):
            c = float(chosen_c[i, r])
            if not c >= MIN_CONTRIBUTION:
                break
            j = int(top[i, r])
            feature = names[j]
            value = None if np.isnan(chosen_v[i, r]) else float(chosen_v[i, r])
            scale = None if events is None else float(events[i])
            words = [value_words(feature, value, scale)]
            percentile = None
            if below[i, r] >= 0:
                words.append(_against_real(feature, int(below[i, r]), int(at_most[i, r])))
                percentile = (below[i, r] + at_most[i, r]) / 2 + 0.5
            text = f"{': '.join(words)}; {odds_words(c)}"
            reasons.append(Reason(feature, value, c, math.exp(min(c, 700.0)), percentile, text))
        out.append(reasons)
    return out
