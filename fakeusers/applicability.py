"""Does a model fit a log? The log against a profile of the model's training data.

A model's probabilities are calibrated on logs like its training log, and the cost rule
``p >= M / (M + F)`` rests on that calibration. When a log looks different (users who do
three times as many events, a different mix of events, events the model never saw), the
probabilities, the flags and the expected cost can be far off while the screen looks as on a
good day. :func:`check` says how far a decision can be trusted:

- per-feature shift: the population stability index (PSI) of each feature on the training
  deciles recorded in the model card (:func:`profile`);
- the probabilities' shift: the PSI of ``p`` against the training users' out-of-fold
  probabilities, in fixed bins where decisions are made (0.02, 0.05, 0.1, ... 0.9);
- the share of users the rule flags against the share it flags of the training users
  (out-of-fold) at the same threshold;
- events and categories the model never saw (they are all counted as ``other``).

Thresholds are sample-size aware. On two samples of one population, ``PSI * n_eff`` is
about chi-square with ``bins - 1`` degrees of freedom (``n_eff = 1 / (1/n + 1/N)``), so a
PSI is read against the conventional levels (0.1 moderate, 0.25 major) *plus* the 99.9th
percentile of that noise: on a log of 100 users a PSI of 0.3 is noise, on 50,000 it is a
shift. ``benchmarks/bench_applicability.py`` measures the false-alarm rate on resamples of
one population and the time the check adds to scoring.

Examples
--------
>>> result = check(model, log, X, p, Rule.of(cost_fp=1, cost_fn=9))  # doctest: +SKIP
>>> result.status, result.reasons[0]  # doctest: +SKIP
('does_not_fit', 'The model flags 63% of these users at threshold 0.1; ...')
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from fakeusers.encoding import count_codes
from fakeusers.features import OTHER

__all__ = ["STATUSES", "Applicability", "Measured", "check", "measure", "profile"]

#: Every status, from best to worst; ``unknown`` when the model has no profile to compare to.
STATUSES = ("fits", "shifted", "does_not_fit", "unknown")
PROFILE_VERSION = 1

# Conventional PSI levels: below 0.1 no real change, above 0.25 a major one.
PSI_MODERATE = 0.1
PSI_MAJOR = 0.25
# Above these levels, PSI is also read against the noise of two samples of one population:
# the chi-square quantile at 1 - NOISE_ALPHA, about 40 features tested per log.
NOISE_ALPHA = 1e-3
# The flagged share is "far" from training's when this many times larger or smaller, and
# the difference is more than NOISE_Z binomial standard errors.
SHARE_RATIO_MODERATE = 1.5
SHARE_RATIO_MAJOR = 3.0
NOISE_Z = 3.3
# Rows with values the model never saw: a few are noted, many make the log unfit.
UNSEEN_MODERATE = 0.01
UNSEEN_MAJOR = 0.2
# Features at a major shift that make the log unfit on their own, without the
# probabilities or the flags moving (at least this many, or this share of the features).
MAJOR_FEATURES = 3
MAJOR_FEATURES_SHARE = 0.1
SHOWN_FEATURES = 3
SAMPLED_USERS = 10_000
# The probabilities are binned where decisions are made, not by their deciles: most users are
# near 0, and a model fitted on all users (the one that scores) puts them at 0.001 where its
# cross-validation models said 0.002, a shift of no consequence that deciles would magnify.
PROBABILITY_EDGES = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
_DECILES = np.arange(10, 100, 10)
_PERCENTILES = np.arange(1, 100)

_WORDS = {
    "fits": "the log fits the model",
    "shifted": "the log has shifted from the model's training data",
    "does_not_fit": "the log does not fit the model: flags and costs are unreliable",
    "unknown": "cannot tell whether the log fits the model",
}


# The profile recorded at training ----------------------------------------------------------


def _number(value: float) -> float | None:
    """A JSON number, short (6 significant digits); None for NaN."""
    value = float(value)
    return None if math.isnan(value) else float(f"{value:.6g}")


def _binned(values: np.ndarray, edges: tuple[float, ...] | None = None) -> dict[str, Any]:
    """Decile edges of ``values`` (or the ``edges`` given) and the share of values in each
    bin they make."""
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    deciles = np.percentile(present, _DECILES) if present.size else np.zeros(0)
    edges = np.unique([_number(v) for v in (deciles if edges is None else edges)])
    counts = np.bincount(np.searchsorted(edges, present), minlength=edges.size + 1)
    n = max(values.size, 1)
    return {
        "deciles": [_number(v) for v in deciles],
        "edges": [float(v) for v in edges],
        "shares": [_number(c / n) for c in counts],
        "missing": _number((values.size - present.size) / n),
    }


def profile(X: pd.DataFrame, y: np.ndarray, oof_p: np.ndarray) -> dict[str, Any]:
    """What the model card records of the training data, JSON-friendly.

    ``features`` holds each feature's training deciles (over all users) and the share of
    users in each bin they make, for the PSI; ``probability`` the same for the out-of-fold
    probabilities, in fixed bins (``PROBABILITY_EDGES``); ``real_percentiles`` the 1st to
    99th percentile of each feature over the real users (label 0), to put a user's values in
    words.
    """
    y = np.asarray(y)
    real = X.to_numpy(dtype=np.float64)[y == 0]
    percentiles = {}
    for j, name in enumerate(X.columns):
        column = real[:, j][~np.isnan(real[:, j])]
        levels = np.percentile(column, _PERCENTILES) if column.size else []
        percentiles[name] = [_number(v) for v in levels]
    return {
        "version": PROFILE_VERSION,
        "users": int(len(X)),
        "features": {name: _binned(X[name].to_numpy()) for name in X.columns},
        "probability": _binned(oof_p, PROBABILITY_EDGES),
        "real_percentiles": {"levels": _PERCENTILES.tolist(), "features": percentiles},
    }


# Measuring a log ---------------------------------------------------------------------------


def _bin_counts(matrix: np.ndarray, references: list[dict[str, Any]]) -> list[np.ndarray]:
    """For each column of ``matrix``, how many values fall in each bin of its reference, and
    last how many are missing; all columns in one vectorised pass."""
    width = max((len(r["edges"]) for r in references), default=0)
    edges = np.full((len(references), width), np.inf)
    for j, reference in enumerate(references):
        edges[j, : len(reference["edges"])] = reference["edges"]
    # A value's bin is the number of edges below it (as ``searchsorted``); padded edges are
    # infinite, so no value reaches them. A missing value goes to the last slot.
    below = np.zeros(matrix.shape, dtype=np.int64)
    for k in range(width):  # a column of edges at a time: summing a short axis is slow
        below += matrix > edges[:, k]
    below[np.isnan(matrix)] = width + 1
    slots = width + 2
    flat = (np.arange(len(references)) * slots + below).ravel()
    counts = np.bincount(flat, minlength=len(references) * slots).reshape(-1, slots)
    return [
        np.append(counts[j, : len(r["edges"]) + 1], counts[j, -1]) for j, r in enumerate(references)
    ]


def _psi(reference: dict[str, Any], counts: np.ndarray, n_reference: int) -> tuple[float, float]:
    """PSI of binned ``counts`` (:func:`_bin_counts`) against a binned reference, and the PSI
    that is noise at this size.

    Empty bins get half a user on both sides, so a bin no training user fell in does not
    make the index infinite.
    """
    observed = counts.astype(np.float64)
    expected = np.append(
        np.asarray(reference["shares"], dtype=np.float64), reference.get("missing") or 0.0
    )
    used = (expected > 0) | (observed > 0)
    observed, expected = observed[used], expected[used]
    n = max(int(counts.sum()), 1)
    o = (observed + 0.5) / (n + 0.5 * observed.size)
    e = (expected * n_reference + 0.5) / (n_reference + 0.5 * expected.size)
    psi = float(np.sum((o - e) * np.log(o / e)))
    return psi, _noise(observed.size - 1, n, n_reference)


def _noise(dof: int, n: int, n_reference: int) -> float:
    """The PSI two samples of one population exceed with probability NOISE_ALPHA."""
    if dof < 1:
        return 0.0
    from scipy.special import chdtri

    return float(chdtri(dof, NOISE_ALPHA)) * (1.0 / n + 1.0 / n_reference)


def _level(psi: float, noise: float) -> int:
    """0 no shift, 1 moderate, 2 major."""
    if psi > PSI_MAJOR + noise:
        return 2
    if psi > PSI_MODERATE + noise:
        return 1
    return 0


def _describe_feature(name: str) -> str:
    """A feature's name in words: ``event_click_ad_share`` -> ``share of click_ad events``."""
    fixed = {
        "n_events": "events per user",
        "n_distinct_events": "distinct events per user",
        "n_distinct_categories": "distinct categories per user",
        "event_switches": "switches between events",
        "category_switches": "switches between categories",
        "event_switch_rate": "rate of switches between events",
        "category_switch_rate": "rate of switches between categories",
        "event_entropy": "variety of events",
        "category_entropy": "variety of categories",
        "longest_event_run": "longest run of one event",
        "span_seconds": "time between a user's first and last event",
        "events_per_minute": "events per minute",
        "median_gap_seconds": "typical time between events",
        "min_gap_seconds": "shortest time between events",
    }
    if name in fixed:
        return fixed[name]
    for prefix, words in (("event_", "{} events"), ("category_", "rows in category {}")):
        for suffix, kind in (("_count", "number of "), ("_share", "share of ")):
            if name.startswith(prefix) and name.endswith(suffix):
                return kind + words.format(name[len(prefix) : -len(suffix)])
    return name.replace("_", " ")


def _fmt(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


@dataclasses.dataclass(frozen=True)
class Measured:
    """The rule-independent part of a check, computed once per scoring.

    :meth:`at` adds the part that depends on the rule (the flagged share).
    """

    has_profile: bool
    n_users: int
    n_training_users: int
    n_features_tested: int
    psi_max: float | None
    features: list[dict[str, Any]]
    probability: dict[str, Any] | None
    unseen: dict[str, Any]
    p: np.ndarray = dataclasses.field(repr=False)
    oof_p: np.ndarray = dataclasses.field(repr=False)
    training_log: bool = False

    def at(self, rule: Any) -> Applicability:
        """The check's result under ``rule`` (a :class:`fakeusers.scoring.Rule` or None)."""
        return _judge(self, _flag_share(self, rule))


def measure(model: Any, log: Any, X: pd.DataFrame | None, p: np.ndarray) -> Measured:
    """Everything :func:`check` needs that does not depend on the rule.

    ``X`` is the log's features (:func:`fakeusers.features.featurize` with the model's
    vocabulary); None for the model's own training log, which fits by definition.
    """
    prof = (getattr(model, "profile", None) or {}) if X is not None else {}
    n_ref = int(prof.get("users") or 0)
    features: list[dict[str, Any]] = []
    probability = None
    psis: list[float] = []
    if prof and n_ref:
        references = {
            name: reference
            for name, reference in (prof.get("features") or {}).items()
            if f"_{OTHER}_" not in name and name in X.columns  # unseen values: see below
        }
        rows = _sample(len(X))
        sample = X if rows is None else X.iloc[rows]  # before the columns: a copy of 10k rows
        matrix = sample[list(references)].to_numpy(dtype=np.float64)
        counted = _bin_counts(matrix, list(references.values()))
        for j, (name, reference) in enumerate(references.items()):
            psi, noise = _psi(reference, counted[j], n_ref)
            psis.append(psi)
            level = _level(psi, noise)
            if level:
                values = matrix[:, j]
                features.append(
                    {
                        "feature": name,
                        "description": _describe_feature(name),
                        "psi": round(psi, 4),
                        "noise": round(noise, 4),
                        "level": level,
                        "median_training": (reference.get("deciles") or [None] * 9)[4],
                        "median_here": None
                        if np.isnan(values).all()
                        else _number(np.nanmedian(values)),
                    }
                )
        features.sort(key=lambda f: f["psi"] - f["noise"], reverse=True)
        if prof.get("probability"):
            (counts,) = _bin_counts(np.asarray(p, dtype=np.float64)[:, None], [prof["probability"]])
            psi, noise = _psi(prof["probability"], counts, n_ref)
            probability = {
                "psi": round(psi, 4),
                "noise": round(noise, 4),
                "level": _level(psi, noise),
                "mean_training": _number(np.mean(model.oof_p)) if len(model.oof_p) else None,
                "mean_here": _number(np.mean(p)) if len(p) else None,
            }
    return Measured(
        has_profile=bool(prof) and bool(n_ref),
        n_users=int(len(p)),
        n_training_users=n_ref or int(len(getattr(model, "oof_p", []))),
        n_features_tested=len(psis),
        psi_max=round(max(psis), 4) if psis else None,
        features=features,
        probability=probability,
        unseen=_unseen(model, log),
        p=np.asarray(p, dtype=np.float64),
        oof_p=np.asarray(getattr(model, "oof_p", np.zeros(0)), dtype=np.float64),
        training_log=X is None,
    )


def _sample(n_users: int) -> np.ndarray | None:
    """Which users' features to compare on a large log: a fixed random sample of
    ``SAMPLED_USERS`` (None: all of them).

    The PSI of a sample that size is within noise of the whole log's (the thresholds use
    the sample's size), and the check's cost stays flat however large the log.
    """
    if n_users <= SAMPLED_USERS:
        return None
    return np.random.default_rng(0).integers(0, n_users, SAMPLED_USERS)


def _unseen(model: Any, log: Any) -> dict[str, Any]:
    """Events and categories of the log that the model's vocabulary does not know."""
    out: dict[str, Any] = {"events": [], "categories": [], "row_share": 0.0}
    n_rows = len(log.event_codes)
    if not n_rows:
        return out
    unknown_rows = None  # built only when some value is unknown, the rare case
    for key, codes, values, known in (
        ("events", log.event_codes, log.event_values, model.vocabulary.events),
        ("categories", log.category_codes, log.category_values, model.vocabulary.categories),
    ):
        unknown = [i for i, v in enumerate(values) if v not in known]
        if not unknown:  # the common case: no need to count the rows (40 ms at 10M)
            continue
        counts = count_codes(codes, len(values))
        new = [i for i in unknown if counts[i]]
        new.sort(key=lambda i: -counts[i])
        out[key] = [{"value": values[i], "rows": int(counts[i])} for i in new]
        if new:
            lookup = np.zeros(len(values), dtype=bool)
            lookup[new] = True
            unknown_rows = lookup[codes] if unknown_rows is None else unknown_rows | lookup[codes]
    if unknown_rows is not None:
        out["row_share"] = float(unknown_rows.mean())
    return out


def _flag_share(measured: Measured, rule: Any) -> dict[str, Any] | None:
    """The share of users flagged here and of training users (out-of-fold) at one threshold.

    In cost mode the threshold is ``M / (M + F)``; with a review capacity K, the lowest
    probability among the K flagged users.
    """
    if rule is None or not measured.n_users or not measured.oof_p.size:
        return None
    threshold = rule.threshold
    if threshold is None:
        k = min(rule.top_k or 0, measured.n_users)
        if k == 0:
            return None
        threshold = float(np.partition(-measured.p, k - 1)[k - 1] * -1)
    here = float(np.mean(measured.p >= threshold))
    training = float(np.mean(measured.oof_p >= threshold))
    n, big_n = measured.n_users, measured.oof_p.size
    # Binomial noise of both shares, with half a user so that a share of 0 is not exact.
    base = (training * big_n + here * n + 0.5) / (big_n + n + 1)
    se = math.sqrt(base * (1 - base) * (1 / n + 1 / big_n))
    significant = abs(here - training) > NOISE_Z * se
    ratio = (here + 0.5 / n) / (training + 0.5 / big_n)
    far = max(ratio, 1 / ratio)
    level = 0
    if significant and far >= SHARE_RATIO_MAJOR:
        level = 2
    elif significant and far >= SHARE_RATIO_MODERATE:
        level = 1
    return {
        "threshold": threshold,
        "share_here": here,
        "share_training": training,
        "level": level,
    }


# The verdict -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Applicability:
    """How far a decision on this log can be trusted, and why.

    Attributes
    ----------
    status : {"fits", "shifted", "does_not_fit", "unknown"}
    reasons : list of str
        In plain words, most important first.
    shifted_features : list of dict
        The features that moved most (``feature``, ``description``, ``psi``, ``noise``,
        ``median_training``, ``median_here``), at most three.
    psi_max : float or None
        The largest PSI over the features; None without a profile.
    probability : dict or None
        The probabilities' shift: ``psi``, ``noise``, ``mean_training``, ``mean_here``.
    flagged_share : dict or None
        ``threshold``, ``share_here``, ``share_training`` (out-of-fold); None without a rule.
    unseen : dict
        ``events`` and ``categories`` the model never saw (``value``, ``rows``), and the
        ``row_share`` of rows that have one.
    """

    status: str
    reasons: list[str]
    shifted_features: list[dict[str, Any]]
    psi_max: float | None
    probability: dict[str, Any] | None
    flagged_share: dict[str, Any] | None
    unseen: dict[str, Any]

    @property
    def in_words(self) -> str:
        """The status in words: ``the log does not fit the model: ...``."""
        return _WORDS[self.status]

    def warning(self) -> str | None:
        """One line for a command line or a log; None when the log fits."""
        if self.status == "fits":
            return None
        return f"{self.in_words}: {' '.join(self.reasons[:2])}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "status": self.status,
            "in_words": self.in_words,
            "reasons": list(self.reasons),
            "shifted_features": [dict(f) for f in self.shifted_features],
            "psi_max": self.psi_max,
            "probability": None if self.probability is None else dict(self.probability),
            "flagged_share": None if self.flagged_share is None else dict(self.flagged_share),
            "unseen": {
                "events": [dict(v) for v in self.unseen["events"]],
                "categories": [dict(v) for v in self.unseen["categories"]],
                "row_share": self.unseen["row_share"],
            },
        }


def _unseen_reason(unseen: dict[str, Any]) -> str | None:
    parts = []
    for key, one, many in (("events", "event", "events"), ("categories", "category", "categories")):
        values = unseen[key]
        if values:
            names = ", ".join(repr(v["value"]) for v in values[:5])
            more = f" and {len(values) - 5} more" if len(values) > 5 else ""
            noun = one if len(values) == 1 else many
            parts.append(f"{len(values)} {noun} the model never saw in training ({names}{more})")
    if not parts:
        return None
    return (
        f"The log has {' and '.join(parts)}, in {unseen['row_share']:.1%} of its rows; the "
        f"model counts them all as '{OTHER}'."
    )


def _judge(measured: Measured, share: dict[str, Any] | None) -> Applicability:
    reasons: list[tuple[int, str]] = []
    if share is not None and share["level"]:
        reasons.append(
            (
                share["level"],
                f"The model flags {share['share_here']:.1%} of these users at threshold "
                f"{share['threshold']:.3g}; at the same threshold it flagged "
                f"{share['share_training']:.1%} of its training users (out-of-fold).",
            )
        )
    unseen = measured.unseen
    unseen_level = 0
    if unseen["row_share"] >= UNSEEN_MAJOR:
        unseen_level = 2
    elif unseen["row_share"] >= UNSEEN_MODERATE:
        unseen_level = 1
    unseen_words = _unseen_reason(unseen)
    if unseen_words:
        reasons.append((unseen_level, unseen_words))
    prob = measured.probability
    if prob is not None and prob["level"]:
        reasons.append(
            (
                prob["level"],
                f"The probabilities differ from training: mean {_fmt(prob['mean_here'])} here "
                f"against {_fmt(prob['mean_training'])} (PSI {prob['psi']:.2f}).",
            )
        )
    shown = measured.features[:SHOWN_FEATURES]
    if shown:
        words = "; ".join(
            f"{f['description']} (median {_fmt(f['median_here'])} here, "
            f"{_fmt(f['median_training'])} in training; PSI {f['psi']:.2f})"
            for f in shown
        )
        more = len(measured.features) - len(shown)
        tail = f", and {more} more features moved" if more > 0 else ""
        reasons.append(
            (max(f["level"] for f in shown), f"Users behave differently here: {words}{tail}.")
        )
    reasons.sort(key=lambda r: -r[0])
    texts = [text for _, text in reasons]

    if measured.training_log:
        status, texts = "fits", ["This is the model's own training log."]
    elif not measured.has_profile:
        status = "unknown"
        texts.insert(
            0,
            "This model was saved before fakeusers recorded a profile of its training data, "
            "so whether this log is like its training log cannot be told; retrain the model "
            "to get the check.",
        )
    else:
        n_major = sum(f["level"] == 2 for f in measured.features)
        if (
            (share is not None and share["level"] == 2)
            or (prob is not None and prob["level"] == 2)
            or unseen_level == 2
            or n_major >= max(MAJOR_FEATURES, MAJOR_FEATURES_SHARE * measured.n_features_tested)
        ):
            status = "does_not_fit"
        elif any(level for level, _ in reasons):
            status = "shifted"
        else:
            status = "fits"
            texts.insert(
                0,
                f"The {measured.n_users:,} users look like the model's "
                f"{measured.n_training_users:,} training users.",
            )
    return Applicability(
        status=status,
        reasons=texts,
        shifted_features=[dict(f) for f in shown],
        psi_max=measured.psi_max,
        probability=prob,
        flagged_share=share,
        unseen=unseen,
    )


def check(model: Any, log: Any, X: pd.DataFrame | None, p: np.ndarray, rule: Any) -> Applicability:
    """Does ``model`` fit ``log``? The log's features ``X`` and probabilities ``p`` against
    the model's training profile, under ``rule`` (None: no flagged-share comparison).

    Never raises for a model without a profile: its status is ``unknown``, with the reason.
    """
    return measure(model, log, X, p).at(rule)
