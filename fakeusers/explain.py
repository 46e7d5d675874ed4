"""Why a user got their probability: per-feature contributions, in log-odds.

A positive contribution pushes the user towards "fake", a negative one towards "real". The
unit is the log-odds of the model (``log(p / (1 - p))``), the scale on which both model types
add up their evidence.

**logistic** -- the model is linear in the imputed, standardised features ``z``, so feature
``j`` contributes ``coef_j * z_j``: zero for a user at the training mean, and the
contributions add up exactly, ``intercept + sum(contributions) = log-odds``.

**boosting** -- scikit-learn gives no per-user attribution for
``HistGradientBoostingClassifier``; the tree structure that TreeSHAP or Saabas-style path
attribution would walk is private (``_predictors``) and changes between releases, and a model
store that must load bundles across upgrades should not depend on it. Permutation importance
is a global, data-hungry measure, not a per-user one. We use *reference ablation*:

    contribution_j(x) = f(x) - f(x with feature j set to its reference value)

where ``f`` is the model's log-odds (the public ``decision_function``) and the reference is
the feature's median over a sample of the log's users (:func:`reference_values`). It answers
the analyst's question as asked -- "how much less fake would this user look if this one
feature were typical?" -- with public API only, exactly and deterministically, at the cost of
one vectorised prediction per feature *for the selected users only*. The median, not the
mean, because counts and gaps are skewed and a mean user does not exist. Its limits, stated on
the dashboard as "pushes up / down", not "explains x %": contributions do not add up to the
log-odds (an interaction is counted in each feature it involves), and of two correlated
features (a count and its share) each can look small when changed alone. The training medians
are not stored with a boosting model, so the reference is the scored log's typical user; for
a log like the training data that is nearly the same thing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from fakeusers.errors import FakeusersError
from fakeusers.features import Vocabulary, featurize
from fakeusers.models import TrainedModel
from fakeusers.reading import Log

__all__ = [
    "REFERENCE_SAMPLE",
    "contributions",
    "describe",
    "importance",
    "reference_values",
    "top_reasons",
    "user_features",
]

#: Users sampled to compute the reference (median) values for boosting models.
REFERENCE_SAMPLE = 2_000
# Rows per decision_function call in the ablation: bounds memory to a few tens of MB.
_ABLATION_ROWS = 200_000


def user_features(log: Log, vocabulary: Vocabulary, users: ArrayLike) -> pd.DataFrame:
    """Features of some users only, computed from their rows alone.

    Every feature of a user depends only on that user's rows, so this equals the matching rows
    of ``featurize(log, vocabulary)`` at a fraction of the cost when few users are asked for.

    Parameters
    ----------
    log : Log
    vocabulary : Vocabulary
        The model's vocabulary.
    users : array-like of int
        Distinct user indices (positions in ``log.user_ids``), in the order wanted.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``UserId`` in the order of ``users``.
    """
    codes = np.asarray(users, dtype=np.int64).ravel()
    if codes.size and (codes.min() < 0 or codes.max() >= log.n_users):
        raise IndexError(f"user indices must be in [0, {log.n_users}); got {codes.tolist()[:5]}")
    if np.unique(codes).size != codes.size:
        raise ValueError("user indices must be distinct")
    if codes.size == 0:  # featurize needs at least one row
        return pd.DataFrame(
            columns=vocabulary.feature_names(),
            index=pd.Index([], dtype=object, name="UserId"),
            dtype=np.float64,
        )
    position = np.full(log.n_users, -1, dtype=np.int64)
    position[codes] = np.arange(codes.size)
    row_position = position[log.user_codes]
    rows = np.flatnonzero(row_position >= 0)
    subset = Log(
        user_ids=log.user_ids[codes],
        user_codes=row_position[rows].astype(np.int32),
        event_values=log.event_values,
        event_codes=log.event_codes[rows],
        category_values=log.category_values,
        category_codes=log.category_codes[rows],
        labels=None if log.labels is None else log.labels[codes],
        timestamps=None if log.timestamps is None else log.timestamps[rows],
        report=log.report,
    )
    return featurize(subset, vocabulary)


def reference_values(
    model: TrainedModel, log: Log, *, sample: int = REFERENCE_SAMPLE, seed: int = 0
) -> pd.Series:
    """The median of each feature over a random sample of the log's users.

    Parameters
    ----------
    model : TrainedModel
    log : Log
    sample : int
        At most this many users (all of them in a smaller log).
    seed : int
        Seeds the sample, so the reference is the same on every call.

    Returns
    -------
    pandas.Series
        Indexed by feature name. A feature missing for every sampled user (a gap feature in
        a log of one-event users) has a NaN reference, which the boosting model handles as
        "missing".
    """
    rng = np.random.default_rng(seed)
    n = min(sample, log.n_users)
    users = np.sort(rng.choice(log.n_users, size=n, replace=False))
    X = user_features(log, model.vocabulary, users)
    values = X.to_numpy(dtype=np.float64)
    medians = np.full(values.shape[1], np.nan)
    present = ~np.isnan(values).all(axis=0)
    medians[present] = np.nanmedian(values[:, present], axis=0)
    return pd.Series(medians, index=X.columns, name="reference")


def contributions(
    model: TrainedModel, X: pd.DataFrame, reference: pd.Series | None = None
) -> pd.DataFrame:
    """Each feature's contribution to each user's log-odds of being fake.

    Parameters
    ----------
    model : TrainedModel
    X : pandas.DataFrame
        Features of the users to explain, columns ``model.feature_names`` (see
        :func:`user_features`).
    reference : pandas.Series, optional
        Reference value of each feature (:func:`reference_values`); required for boosting,
        ignored for logistic.

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``X``; positive values push towards "fake".

    Raises
    ------
    FakeusersError
        When a boosting model gets no reference, or the model type is unknown.
    """
    X = X[model.feature_names]
    if X.empty:  # nobody to explain (nobody flagged): scikit-learn refuses empty input
        return pd.DataFrame(0.0, index=X.index, columns=X.columns)
    if model.model_type == "logistic":
        z = model.pipeline[:-1].transform(X)
        coef = model.pipeline.named_steps["model"].coef_[0]
        return pd.DataFrame(z * coef, index=X.index, columns=X.columns)
    if model.model_type == "boosting":
        if reference is None:
            raise FakeusersError(
                "Explaining a boosting model needs reference values; compute them with "
                "reference_values(model, log)."
            )
        return _ablation(model, X, reference[model.feature_names].to_numpy(dtype=np.float64))
    raise FakeusersError(f"Cannot explain a model of type {model.model_type!r}.")


def _ablation(model: TrainedModel, X: pd.DataFrame, reference: np.ndarray) -> pd.DataFrame:
    """f(x) - f(x with feature j at its reference), for every user and feature j.

    All ablated copies of a chunk of users go through one ``decision_function`` call: copy
    ``j`` of the chunk has column ``j`` replaced.
    """
    values = X.to_numpy(dtype=np.float64)
    n, k = values.shape
    out = np.empty((n, k))
    chunk = max(1, _ABLATION_ROWS // max(k, 1))
    for start in range(0, n, chunk):
        block = values[start : start + chunk]
        m = block.shape[0]
        stacked = np.broadcast_to(block, (k + 1, m, k)).copy()
        stacked[np.arange(1, k + 1), :, np.arange(k)] = reference[:, None]
        frame = pd.DataFrame(stacked.reshape(-1, k), columns=X.columns)
        f = model.pipeline.decision_function(frame).reshape(k + 1, m)
        out[start : start + m] = (f[0] - f[1:]).T
    return pd.DataFrame(out, index=X.index, columns=X.columns)


_LABELS = {
    "n_events": "events",
    "n_distinct_events": "distinct events",
    "n_distinct_categories": "distinct categories",
    "event_switches": "event switches",
    "category_switches": "category switches",
    "event_switch_rate": "event switch rate",
    "category_switch_rate": "category switch rate",
    "event_entropy": "event entropy",
    "category_entropy": "category entropy",
    "longest_event_run": "longest run of one event",
    "span_seconds": "time span",
    "events_per_minute": "events per minute",
    "median_gap_seconds": "median gap",
    "min_gap_seconds": "shortest gap",
}


def describe(feature: str, value: float) -> str:
    """A feature and a user's value of it, as an analyst reads it.

    Examples
    --------
    >>> describe("event_send_email_share", 0.52)
    'send_email share 52%'
    >>> describe("category_Real_State_count", 3.0)
    'Real_State count 3'
    >>> describe("median_gap_seconds", 2.25)
    'median gap 2.2 s'
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        shown = "missing"
    elif feature.endswith("_share"):
        shown = f"{value:.0%}"
    elif feature.endswith("_seconds"):
        shown = f"{value:,.1f} s"
    elif float(value).is_integer():
        shown = f"{int(value):,}"
    else:
        shown = f"{value:,.2f}"
    for prefix in ("event_", "category_"):
        for suffix in ("_count", "_share"):
            if feature.startswith(prefix) and feature.endswith(suffix) and feature not in _LABELS:
                name = feature[len(prefix) : -len(suffix)]
                return f"{name} {suffix[1:]} {shown}"
    return f"{_LABELS.get(feature, feature.replace('_', ' '))} {shown}"


def top_reasons(contrib: pd.DataFrame, X: pd.DataFrame) -> list[str]:
    """For each user, the feature that pushes their probability up the most, as text.

    Parameters
    ----------
    contrib : pandas.DataFrame
        From :func:`contributions`.
    X : pandas.DataFrame
        The same users' features (for the values shown).

    Returns
    -------
    list of str
        Such as ``"send_email share 52% (+2.31)"``; ``"no feature stands out"`` for a user
        whom no feature pushes up.
    """
    values = contrib.to_numpy(dtype=np.float64)
    if values.size == 0:
        return ["no feature stands out"] * len(contrib)
    best = np.argmax(values, axis=1)
    names = contrib.columns
    X = X[names]
    out = []
    for i, j in enumerate(best):
        c = values[i, j]
        if not c > 0:
            out.append("no feature stands out")
            continue
        out.append(f"{describe(names[j], X.iat[i, j])} (+{c:.2f})")
    return out


#: Users of the log sampled for a boosting model's importance.
IMPORTANCE_SAMPLE = 500


def importance(
    model: TrainedModel, log: Log | None = None, reference: pd.Series | None = None
) -> tuple[pd.Series, str, str] | None:
    """Feature importance of a model: values per feature, a title and the unit.

    Logistic: the coefficients on standardised features (no log needed). Boosting: the mean
    absolute contribution over a sample of up to 500 users of ``log``; None without a log.
    """
    if model.model_type == "logistic":
        coef = model.pipeline.named_steps["model"].coef_[0]
        return (
            pd.Series(coef, index=model.feature_names),
            "Coefficients (red: pushes towards fake)",
            "log-odds per standard deviation of the feature",
        )
    if log is None:
        return None
    if reference is None:
        reference = reference_values(model, log)
    rng = np.random.default_rng(0)
    n = min(IMPORTANCE_SAMPLE, log.n_users)
    users = np.sort(rng.choice(log.n_users, size=n, replace=False))
    X = user_features(log, model.vocabulary, users)
    return (
        contributions(model, X, reference).abs().mean(),
        f"Feature importance ({n:,} users of the loaded log)",
        "mean change in log-odds when the feature is set to typical",
    )
