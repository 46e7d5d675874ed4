"""What a model's quality figures mean for the analyst's decision, and which model to keep.

Every figure is computed on a model's out-of-fold probabilities for its training users (the
ones :func:`fakeusers.models.train` records), so it measures users the model had not seen.

- :func:`in_plain_words` says in one sentence each what ROC AUC, average precision, the
  Brier score, log loss, the reliability curve and the cost at the analyst's costs mean for
  the decision.
- :func:`compare` sets two models trained on the same users side by side, figure by figure,
  and tells a difference that a resample of the users could reverse (within noise) from
  one that it could not. :func:`recommend` picks the model to keep among several, and says
  why.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 0, 0, 1] * 50)
>>> p = np.where(y == 1, 0.7, 0.1)
>>> print(in_plain_words(y, p, 1.0, 4.0).average_precision)  # doctest: +ELLIPSIS
Average precision 1.000 ... about 100 are fake, and 100 of 100 fake users are caught.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from fakeusers.decisions import cost_threshold, outcome
from fakeusers.models import TrainedModel, reliability_table

__all__ = [
    "Candidate",
    "Comparison",
    "Difference",
    "Meaning",
    "Recommendation",
    "compare",
    "in_plain_words",
    "recommend",
]

#: A reliability point resting on fewer users than this is called noisy.
FEW_USERS = 30
#: Resamples of the users behind "within noise" for ROC AUC and average precision.
RESAMPLES = 200
_EPS = 1e-15


@dataclass(frozen=True)
class Meaning:
    """One plain sentence per figure of the Model page (see :func:`in_plain_words`)."""

    roc_auc: str
    average_precision: str
    brier: str
    log_loss: str
    reliability: str
    cost: str


def _share(x: float) -> str:
    """``x`` as "N of 100", N rounded (never "100" unless it is exactly all)."""
    n = round(100 * x)
    if n == 100 and x < 1:
        n = 99
    if n == 0 and x > 0:
        n = 1
    return f"{n}"


def _base_rate(y: np.ndarray) -> float:
    return float(np.mean(y)) if y.size else 0.0


def in_plain_words(
    y: np.ndarray, p: np.ndarray, cost_fp: float | None, cost_fn: float | None
) -> Meaning:
    """What each quality figure of a model means for the decision, in one sentence each.

    Parameters
    ----------
    y, p : numpy.ndarray, shape (n,)
        Labels (1 fake, 0 real) and out-of-fold probabilities of the training users.
    cost_fp, cost_fn : float or None
        The analyst's costs M and F; None when they cannot set a threshold (both zero).

    Returns
    -------
    Meaning
    """
    y = np.asarray(y, dtype=np.int64)
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    base = _base_rate(y)
    both = 0 < base < 1
    auc = float(roc_auc_score(y, p)) if both else None
    ap = float(average_precision_score(y, p)) if both else None
    brier = float(np.mean((p - y) ** 2))
    brier_ref = base * (1 - base)
    clipped = np.clip(p, _EPS, 1 - _EPS)
    log_loss = float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))
    ll_ref = -(base * math.log(base) + (1 - base) * math.log(1 - base)) if both else float("nan")

    roc = (
        "ROC AUC is undefined: the training users are all of one kind."
        if auc is None
        else f"ROC AUC {auc:.3f}: of 100 pairs of one fake and one real user, the model gives "
        f"the fake one the higher probability in about {_share(auc)}. It measures how well "
        "the model sorts users, not whether its probabilities are right."
    )

    threshold = None
    if cost_fp is not None and cost_fn is not None:
        threshold = cost_threshold(cost_fp, cost_fn)
    if ap is None:
        precision = "Average precision is undefined: the training users are all of one kind."
    else:
        precision = (
            f"Average precision {ap:.3f} sums up precision at every threshold (a model that "
            f"guesses scores the share of fakes, {base:.3f})."
        )
        if threshold is not None:
            flags = p >= threshold
            got = outcome(y, flags, cost_fp, cost_fn)
            if flags.any():
                precision += (
                    f" At your threshold {threshold:.3g}, of 100 users flagged about "
                    f"{_share(got.precision)} are fake, and {_share(got.recall)} of 100 fake "
                    "users are caught."
                )
            else:
                precision += f" At your threshold {threshold:.3g} nobody would be flagged."

    brier_text = (
        f"Brier score {brier:.4f}: the average squared gap between a user's probability and "
        f"the truth (1 fake, 0 real); knowing only the share of fakes ({base:.1%}) scores "
        f"{brier_ref:.4f}. The costs and the threshold rest on these probabilities: lower is "
        "better."
    )
    log_text = (
        f"Log loss {log_loss:.4f} (knowing only the share of fakes: {ll_ref:.4f}) is what the "
        "model is tuned on; it punishes confident mistakes hardest, such as a fake user given "
        "P(fake) 0.01."
    )
    return Meaning(
        roc_auc=roc,
        average_precision=precision,
        brier=brier_text,
        log_loss=log_text,
        reliability=_reliability_sentence(y, p),
        cost=_cost_sentence(y, p, cost_fp, cost_fn, threshold),
    )


def _reliability_sentence(y: np.ndarray, p: np.ndarray) -> str:
    table = [row for row in reliability_table(y, p) if row["users"]]
    if not table:
        return "No users: no reliability curve."
    n = sum(row["users"] for row in table)
    gap = sum(
        row["users"] * abs(row["observed_fake_rate"] - row["mean_predicted"]) for row in table
    )
    text = (
        f"On the diagonal, a probability is the share of fakes it promises; on average these "
        f"probabilities are {gap / n:.3f} off (weighted by users)."
    )
    solid = [row for row in table if row["users"] >= FEW_USERS]
    if solid:
        worst = max(solid, key=lambda row: abs(row["observed_fake_rate"] - row["mean_predicted"]))
        text += (
            f" The largest gap among points of {FEW_USERS}+ users: users given about "
            f"{worst['mean_predicted']:.2f} were fake {worst['observed_fake_rate']:.0%} of the "
            f"time ({worst['users']:,} users)."
        )
    few = [row for row in table if row["users"] < FEW_USERS]
    if few:
        text += (
            f" {len(few)} of the {len(table)} points rest on fewer than {FEW_USERS} users "
            "(small dots): read them as noise."
        )
    return text


def _cost_sentence(
    y: np.ndarray,
    p: np.ndarray,
    cost_fp: float | None,
    cost_fn: float | None,
    threshold: float | None,
) -> str:
    if threshold is None or cost_fp is None or cost_fn is None:
        return "Set two costs that are not both zero to see what the model's decisions cost."
    got = outcome(y, p >= threshold, cost_fp, cost_fn)
    nobody = float(np.count_nonzero(y)) * cost_fn
    return (
        f"At your costs (M {cost_fp:g}, F {cost_fn:g}) flagging P(fake) ≥ {threshold:.3g} would "
        f"have cost {got.realised_cost:,.0f} on these {y.size:,} users ({got.fp:,} real users "
        f"blocked, {got.fn:,} fakes missed), against {nobody:,.0f} for blocking nobody: "
        f"{1000 * got.realised_cost / max(y.size, 1):,.1f} per 1,000 users."
    )


# Comparing models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A model to compare: its name on the page, and its out-of-fold labels and probabilities.

    ``users`` identifies the training users (their log's fingerprint); models are comparable
    only when it and the labels agree.
    """

    name: str
    model_type: str
    y: np.ndarray
    p: np.ndarray
    users: str | None = None

    @classmethod
    def of(cls, name: str, model: TrainedModel) -> Candidate:
        return cls(
            name,
            model.model_type,
            np.asarray(model.oof_y, dtype=np.int64),
            np.asarray(model.oof_p, dtype=np.float64),
            model.training.get("fingerprint_sha256"),
        )

    def figures(self, cost_fp: float | None, cost_fn: float | None) -> dict[str, float | None]:
        """ROC AUC, average precision, Brier score, log loss and the realised cost at the
        costs (None without costs, or for the ranking figures with one class only)."""
        y = self.y
        p = np.clip(self.p, _EPS, 1 - _EPS)
        both = 0 < y.sum() < y.size
        ap, auc = _ranking_scores(y, _thresholds(self.p), np.ones(y.size)) if both else (None,) * 2
        cost = None
        if cost_fp is not None and cost_fn is not None:
            flags = self.p >= cost_threshold(cost_fp, cost_fn)
            cost = outcome(y, flags, cost_fp, cost_fn).realised_cost
        return {
            "ROC AUC": auc,
            "average precision": ap,
            "Brier": float(np.mean((self.p - y) ** 2)),
            "log loss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))),
            "cost at your costs": cost,
        }

    def comparable(self, other: Candidate) -> bool:
        """Whether both were cross-validated on the same users with the same labels."""
        return (
            self.users == other.users
            and self.y.shape == other.y.shape
            and bool(np.array_equal(self.y, other.y))
        )


@dataclass(frozen=True)
class Difference:
    """One figure of two models: values, which is better, and whether beyond noise.

    ``better`` is 0 (the first model), 1 (the second) or None (equal).
    """

    figure: str
    first: float
    second: float
    better: int | None
    beyond_noise: bool
    form: str


@dataclass(frozen=True)
class Comparison:
    """Two comparable models figure by figure, in the order that decides between them."""

    first: Candidate
    second: Candidate
    differences: tuple[Difference, ...]

    def winner(self) -> int:
        """0 or 1: the first figure that differs beyond noise decides; else the simpler
        model (logistic), and between two of a kind the lower log loss."""
        for diff in self.differences:
            if diff.beyond_noise and diff.better is not None:
                return diff.better
        types = (self.first.model_type, self.second.model_type)
        if types[0] != types[1] and "logistic" in types:
            return types.index("logistic")
        by_loss = next(d for d in self.differences if d.figure == "log loss")
        return by_loss.better or 0


def _paired(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mean of ``a - b`` and its standard error (per-user differences)."""
    d = a - b
    if d.size < 2:
        return float(d.mean()) if d.size else 0.0, 0.0
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


def _thresholds(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Users ordered by falling probability, and each one's threshold (ties share one)."""
    order = np.argsort(-p, kind="stable")
    _, group = np.unique(-p[order], return_inverse=True)
    return order, group


def _ranking_scores(
    y: np.ndarray, ranked: tuple[np.ndarray, np.ndarray], w: np.ndarray
) -> tuple[float, float]:
    """Average precision and ROC AUC with users weighted by ``w`` (resample counts).

    ``ranked`` is :func:`_thresholds` of the probabilities. The definitions are
    scikit-learn's (tied probabilities are one threshold): with unit weights the values are
    ``average_precision_score`` and ``roc_auc_score``.
    """
    order, group = ranked
    wy = np.bincount(group, weights=(w * y)[order])
    wn = np.bincount(group, weights=(w * (1 - y))[order])
    pos, neg = wy.sum(), wn.sum()
    tp, fp = np.cumsum(wy), np.cumsum(wn)
    flagged = tp + fp
    precision = np.divide(tp, flagged, out=np.zeros_like(tp), where=flagged > 0)
    ap = float(np.sum(wy * precision) / pos)
    auc = float(np.sum(wy * (neg - fp) + 0.5 * wy * wn) / (pos * neg))
    return ap, auc


def _ranking_differences(
    y: np.ndarray, pa: np.ndarray, pb: np.ndarray, resamples: int, seed: int
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """(AP, AUC) of a, of b, and the standard errors of their differences over resamples
    of the users."""
    ra, rb = _thresholds(pa), _thresholds(pb)
    ones = np.ones(y.size)
    a, b = _ranking_scores(y, ra, ones), _ranking_scores(y, rb, ones)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(resamples):
        w = np.bincount(rng.integers(0, y.size, y.size), minlength=y.size).astype(np.float64)
        if 0 < np.sum(w * y) < w.sum():
            (ap_a, auc_a), (ap_b, auc_b) = _ranking_scores(y, ra, w), _ranking_scores(y, rb, w)
            diffs.append((ap_a - ap_b, auc_a - auc_b))
    se = np.std(np.asarray(diffs), axis=0, ddof=1) if len(diffs) > 1 else np.zeros(2)
    return a, b, (float(se[0]), float(se[1]))


def _difference(
    figure: str, a: float, b: float, se: float, lower_is_better: bool, form: str
) -> Difference:
    better = None if a == b else int(b < a) if lower_is_better else int(b > a)
    return Difference(figure, float(a), float(b), better, bool(abs(a - b) > 2 * se), form)


def compare(
    first: Candidate,
    second: Candidate,
    cost_fp: float | None,
    cost_fn: float | None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Comparison:
    """Two models trained on the same users, figure by figure.

    The order is the one that decides: the realised cost at the analyst's costs (what the
    decision costs), the Brier score (calibration, on which the costs rest), log loss, then
    average precision and ROC AUC (ranking). A difference is beyond noise when it exceeds
    twice its standard error: paired over users for the cost, Brier score and log loss,
    from ``resamples`` resamples of the users for average precision and ROC AUC.

    Raises
    ------
    ValueError
        When the two were not cross-validated on the same users (see
        :meth:`Candidate.comparable`).
    """
    if not first.comparable(second):
        raise ValueError(f"{first.name} and {second.name} were trained on different users")
    y = first.y
    pa = np.clip(first.p, _EPS, 1 - _EPS)
    pb = np.clip(second.p, _EPS, 1 - _EPS)
    differences = []
    if cost_fp is not None and cost_fn is not None:
        t = cost_threshold(cost_fp, cost_fn)

        def costs(p: np.ndarray) -> np.ndarray:
            flags = p >= t
            return np.where(flags & (y == 0), cost_fp, 0.0) + np.where(
                ~flags & (y == 1), cost_fn, 0.0
            )

        ca, cb = costs(first.p), costs(second.p)
        _, se = _paired(ca, cb)
        differences.append(
            _difference("cost at your costs", ca.sum(), cb.sum(), se * y.size, True, ",.0f")
        )
    ba, bb = (pa - y) ** 2, (pb - y) ** 2
    _, se = _paired(ba, bb)
    differences.append(_difference("Brier", ba.mean(), bb.mean(), se, True, ".4f"))
    la = -(y * np.log(pa) + (1 - y) * np.log(1 - pa))
    lb = -(y * np.log(pb) + (1 - y) * np.log(1 - pb))
    _, se = _paired(la, lb)
    differences.append(_difference("log loss", la.mean(), lb.mean(), se, True, ".4f"))
    if 0 < y.sum() < y.size:
        a, b, se = _ranking_differences(y, first.p, second.p, resamples, seed)
        differences.append(_difference("average precision", a[0], b[0], se[0], False, ".3f"))
        differences.append(_difference("ROC AUC", a[1], b[1], se[1], False, ".3f"))
    return Comparison(first, second, tuple(differences))


@dataclass(frozen=True)
class Recommendation:
    """Which model to keep, and why; ``keep`` is None when the models cannot be compared."""

    keep: str | None
    reason: str


def _reason(comparison: Comparison) -> Recommendation:
    w = comparison.winner()
    kept = (comparison.first, comparison.second)[w]
    other = (comparison.first, comparison.second)[1 - w]

    def oriented(diff: Difference) -> str:
        # The kept model's value first.
        a, b = (diff.first, diff.second) if w == 0 else (diff.second, diff.first)
        return f"{diff.figure} ({a:{diff.form}} vs {b:{diff.form}})"

    for_it = [d for d in comparison.differences if d.beyond_noise and d.better == w]
    against = [d for d in comparison.differences if d.beyond_noise and d.better not in (w, None)]
    noise = [d for d in comparison.differences if not d.beyond_noise or d.better is None]
    parts = []
    if for_it:
        parts.append("it does better on " + ", ".join(oriented(d) for d in for_it))
    else:
        simpler = kept.model_type == "logistic" and other.model_type != "logistic"
        parts.append(
            "no figure differs beyond noise, and "
            + (
                "it is the simpler model, with exact explanations"
                if simpler
                else "its log loss is lower"
            )
        )
    if against:
        parts.append("it does worse on " + ", ".join(oriented(d) for d in against))
    if noise and for_it:
        parts.append(
            "the differences in " + ", ".join(oriented(d) for d in noise) + " are within noise"
        )
    reason = f"Keep {kept.name} rather than {other.name}: " + "; ".join(parts) + "."
    return Recommendation(kept.name, reason)


def recommend(
    candidates: Sequence[Candidate],
    cost_fp: float | None,
    cost_fn: float | None,
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Recommendation | None:
    """Which of several models to keep, with the reason; None for fewer than two.

    The first candidate (the active model) is compared with every other trained on the
    same users; the winner of each comparison meets the next (see :meth:`Comparison.winner`),
    and the reason is the last comparison the kept model won or lost. Models trained on
    other users are named as not comparable.
    """
    if len(candidates) < 2:
        return None
    champion = candidates[0]
    rivals = [c for c in candidates[1:] if champion.comparable(c)]
    strangers = [c.name for c in candidates[1:] if not champion.comparable(c)]
    note = (
        f" Not compared: {', '.join(strangers)}, trained on other users; figures from "
        "different users do not compare."
        if strangers
        else ""
    )
    if not rivals:
        return Recommendation(
            None,
            f"No model to compare {champion.name} with: {', '.join(strangers)} "
            f"{'was' if len(strangers) == 1 else 'were'} trained on other users, and figures "
            "from different users do not compare. Train them on the same log to compare.",
        )
    last = None
    for rival in rivals:
        last = compare(champion, rival, cost_fp, cost_fn, resamples=resamples, seed=seed)
        champion = (champion, rival)[last.winner()]
    assert last is not None
    said = _reason(last)
    return Recommendation(said.keep, said.reason + note)
