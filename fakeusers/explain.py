"""Why a user got their probability: per-feature contributions, in log-odds.

A positive contribution pushes the user towards "fake", a negative one towards "real". The
unit is the log-odds of the model (``log(p / (1 - p))``), the scale on which both model types
add up their evidence.

**logistic** -- the model is linear in the imputed, standardised features ``z``, so feature
``j`` contributes ``coef_j * z_j``: zero for a user at the training mean, and the
contributions add up exactly, ``intercept + sum(contributions) = log-odds``.

**boosting** -- TreeSHAP (Lundberg et al., 2020), through the ``shap`` package: the exact
Shapley values of the trees' log-odds, taking the training data's own distribution along
each tree path. Like the logistic contributions they add up exactly,
``expected_value + sum(contributions) = log-odds``, so a contribution ``c`` reads the same
way for both models: the feature multiplies the odds of being fake by ``exp(c)``
(:mod:`fakeusers.reasons` says it in words). ``shap`` reads the fitted trees through
scikit-learn's private structure; should a future scikit-learn release break that, the
boosting model is explained by *reference ablation* instead, and :func:`method` says so:

    contribution_j(x) = f(x) - f(x with feature j set to its reference value)

with the reference the feature's median over a sample of the log's users
(:func:`reference_values`): "how much less fake would this user look if this one feature
were typical?". Measured on the demo data (``benchmarks/bench_explain.py``) the ablation
names the same top feature as TreeSHAP for 93% of the 200 riskiest users but does not add up
(0.57 log-odds off on average), which is why TreeSHAP is the default.
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from fakeusers.errors import FakeusersError
from fakeusers.features import Vocabulary, featurize
from fakeusers.log import Log
from fakeusers.models import TrainedModel

__all__ = [
    "REFERENCE_SAMPLE",
    "ablation",
    "contributions",
    "describe",
    "importance",
    "method",
    "needs_reference",
    "reference_values",
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
    subset = log.select_users(codes)
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


def _tree_explainer(model: TrainedModel) -> object | None:
    """shap's TreeExplainer of a boosting model, built once per model; None if shap cannot
    read the model."""
    estimator = model.pipeline.named_steps["model"]
    if estimator not in _TREES:
        try:
            import shap

            _TREES[estimator] = shap.TreeExplainer(estimator)
        except Exception:  # an incompatible shap or scikit-learn: fall back to ablation
            _TREES[estimator] = None
    return _TREES[estimator]


_TREES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def method(model: TrainedModel) -> str:
    """How :func:`contributions` explains this model, in words for a caption.

    Examples
    --------
    ``"coefficient × standardised value"`` for a logistic model.
    """
    if model.model_type == "logistic":
        return "coefficient × standardised value; they add up to the log-odds exactly"
    if _tree_explainer(model) is not None:
        return "TreeSHAP values of the trees; they add up to the log-odds exactly"
    return (
        "change in log-odds when the feature is set to the log's typical (median) value; "
        "approximate: they do not add up to the log-odds"
    )


def needs_reference(model: TrainedModel) -> bool:
    """Whether :func:`contributions` needs :func:`reference_values` for this model."""
    return model.model_type == "boosting" and _tree_explainer(model) is None


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
        Reference value of each feature (:func:`reference_values`); needed only when
        :func:`needs_reference` says so, ignored otherwise.

    Returns
    -------
    pandas.DataFrame
        Same index and columns as ``X``; positive values push towards "fake".

    Raises
    ------
    FakeusersError
        When a reference is needed and missing, or the model type is unknown.
    """
    X = X[model.feature_names]
    if X.empty:  # nobody to explain (nobody flagged): scikit-learn refuses empty input
        return pd.DataFrame(0.0, index=X.index, columns=X.columns)
    if model.model_type == "logistic":
        if model.scorer is not None:  # the same numbers, without building the pipeline
            z, coef = model.scorer.standardised(X), model.scorer.coef[0]
        else:
            z = model.pipeline[:-1].transform(X)
            coef = model.pipeline.named_steps["model"].coef_[0]
        return pd.DataFrame(z * coef, index=X.index, columns=X.columns)
    if model.model_type == "boosting":
        tree = _tree_explainer(model)
        if tree is not None:
            values = np.asarray(tree.shap_values(X.to_numpy(dtype=np.float64)))
            return pd.DataFrame(values, index=X.index, columns=X.columns)
        if reference is None:
            raise FakeusersError(
                "Explaining this boosting model needs reference values; compute them with "
                "reference_values(model, log)."
            )
        return ablation(model, X, reference[model.feature_names].to_numpy(dtype=np.float64))
    raise FakeusersError(f"Cannot explain a model of type {model.model_type!r}.")


def ablation(model: TrainedModel, X: pd.DataFrame, reference: np.ndarray) -> pd.DataFrame:
    """f(x) - f(x with feature j at its reference), for every user and feature j: the
    explanation of a boosting model when shap cannot read it (see the module docstring).

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


#: Users of the log sampled for a boosting model's importance.
IMPORTANCE_SAMPLE = 500


def importance(
    model: TrainedModel, log: Log | None = None, reference: pd.Series | None = None
) -> tuple[pd.Series, str, str] | None:
    """Feature importance of a model: values per feature, a title and the unit.

    Logistic: the coefficients on standardised features (no log needed). Boosting: the mean
    absolute contribution (TreeSHAP) over a sample of up to 500 users of ``log``; None
    without a log.
    """
    if model.model_type == "logistic":
        coef = (
            model.scorer.coef[0]
            if model.scorer is not None
            else model.pipeline.named_steps["model"].coef_[0]
        )
        return (
            pd.Series(coef, index=model.feature_names),
            "Coefficients (red: pushes towards fake)",
            "log-odds per standard deviation of the feature",
        )
    if log is None:
        return None
    if reference is None and needs_reference(model):
        reference = reference_values(model, log)
    rng = np.random.default_rng(0)
    n = min(IMPORTANCE_SAMPLE, log.n_users)
    users = np.sort(rng.choice(log.n_users, size=n, replace=False))
    X = user_features(log, model.vocabulary, users)
    unit = (
        "mean absolute change in log-odds when the feature is set to typical"
        if needs_reference(model)
        else "mean absolute TreeSHAP value, in log-odds"
    )
    return (
        contributions(model, X, reference).abs().mean(),
        f"Feature importance ({n:,} users of the loaded log)",
        unit,
    )
