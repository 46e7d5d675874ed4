"""The one path from a log to a decision, called by every face.

The command line (``predict``, ``evaluate``), the REST API (``/predict``) and every dashboard
page call :func:`score_log` (or :func:`score_sources`, which also reads the files and loads the
model) and render the :class:`ScoredLog` it returns. Nothing here knows which face called:

- the decision rule is one value, :class:`Rule`, validated once in :meth:`Rule.of`;
- a log that is the model's own training log (recognised by the fingerprint in its card) is
  scored with the model's *out-of-fold* probabilities, and the result says so, so that costs
  and metrics measured on it are what the model does on users it has not seen;
- the reasons for a user's probability (:meth:`ScoredLog.reasons`) come from
  :mod:`fakeusers.explain`, and the flagged list from :meth:`ScoredLog.flagged_csv`.

Examples
--------
>>> rule = Rule.of(cost_fp=1, cost_fn=9)  # doctest: +SKIP
>>> scored = score_sources(["logs.csv"], store=ModelStore(), rule=rule)  # doctest: +SKIP
>>> scored.decision.n_flagged, scored.model_ref  # doctest: +SKIP
(352, 'june@2')
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fakeusers.costcurve import CostCurve
from fakeusers.decisions import Decision, cost_threshold, decide
from fakeusers.errors import FakeusersError
from fakeusers.log import Log
from fakeusers.reading import Source, listed, read_logs, start_reading
from fakeusers.reasons import Reason

if TYPE_CHECKING:  # pandas loads with the model, while the logs are read (score_sources)
    import pandas as pd

__all__ = ["Rule", "ScoredLog", "score_log", "score_sources"]

#: How long loading a model waits for the reading to start (see :func:`score_sources`):
#: numba starts in 0.3 s, but compiles its kernels for seconds the first time on a machine.
_WAIT_FOR_READING = 2.0


@dataclasses.dataclass(frozen=True)
class Rule:
    """Whom to flag: by costs (``p >= M / (M + F)``), the K riskiest users, or a threshold.

    Attributes
    ----------
    cost_fp : float or None
        M, the cost of blocking a real user.
    cost_fn : float or None
        F, the cost of letting a fake user through.
    top_k : int or None
        Review capacity: flag the K riskiest users. With costs as well, the costs price
        the top-K decision; without them, no cost is computed.
    typed_threshold : float or None
        A threshold the analyst typed: flag ``p >= typed_threshold``. Priced by the costs
        when they are given, as ``top_k`` is.
    """

    cost_fp: float | None = None
    cost_fn: float | None = None
    top_k: int | None = None
    typed_threshold: float | None = None

    @classmethod
    def of(
        cls,
        cost_fp: float | None = None,
        cost_fn: float | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> Rule | None:
        """Validate a rule as the user gave it; None when nothing was given (score only).

        Exactly one thing decides whom to flag: ``threshold`` when given, else ``top_k``,
        else the costs' ``M / (M + F)``.

        Raises
        ------
        FakeusersError
            One cost without the other, a negative or non-finite cost, both costs zero,
            a ``top_k`` that is not a whole number >= 0, a ``threshold`` outside [0, 1], or
            ``top_k`` and ``threshold`` together.

        Examples
        --------
        >>> Rule.of(cost_fp=1, cost_fn=3).threshold
        0.25
        >>> Rule.of() is None
        True
        >>> Rule.of(threshold=0.25).describe()
        'threshold 0.2500 (typed)'
        """
        if (cost_fp is None) != (cost_fn is None):
            raise FakeusersError(
                "Give both costs: M, the cost of blocking a real user (--cost-fp, cost_fp), "
                "and F, the cost of missing a fake user (--cost-fn, cost_fn)."
            )
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int | np.integer) or top_k < 0
        ):
            raise FakeusersError(
                f"The review capacity K must be a whole number of users, 0 or more; got {top_k!r}."
            )
        if threshold is not None:
            if (
                isinstance(threshold, bool)
                or not isinstance(threshold, Real)
                or not 0 <= threshold <= 1
            ):
                raise FakeusersError(
                    "The threshold is a probability: a number from 0 to 1 (users with "
                    f"P(fake) >= threshold are flagged); got {threshold!r}."
                )
            if top_k is not None:
                raise FakeusersError(
                    "Give either a review capacity K (--top-k, top_k) or a threshold "
                    "(--threshold, threshold), not both: each decides whom to flag."
                )
        if cost_fp is None and top_k is None and threshold is None:
            return None
        if cost_fp is not None:
            cost_threshold(cost_fp, cost_fn)  # refuses bad costs, saying how to fix them
            cost_fp, cost_fn = float(cost_fp), float(cost_fn)
        return cls(
            cost_fp,
            cost_fn,
            None if top_k is None else int(top_k),
            None if threshold is None else float(threshold),
        )

    @property
    def has_costs(self) -> bool:
        return self.cost_fp is not None

    @property
    def threshold(self) -> float | None:
        """The typed threshold; else ``M / (M + F)`` in cost mode; None in top-K mode."""
        if self.typed_threshold is not None:
            return self.typed_threshold
        if self.top_k is not None or self.cost_fp is None:
            return None
        return cost_threshold(self.cost_fp, self.cost_fn)

    def describe(self) -> str:
        """The rule in words, for summaries: ``threshold M/(M+F) = 0.1000``, ``top 200``."""
        if self.typed_threshold is not None:
            return f"threshold {self.typed_threshold:.4f} (typed)"
        if self.top_k is not None:
            return f"the top {self.top_k:,} (review capacity)"
        return f"threshold M/(M+F) = {self.threshold:.4f}"


def _shared(method: Callable[[ScoredLog], Any]) -> property:
    """A property of a scoring computed once, and shared by every rule's copy of it."""
    name = method.__name__

    @functools.wraps(method)
    def getter(self: ScoredLog) -> Any:
        # Two threads may both compute a missing value; both get the same result.
        if name not in self._memo:
            self._memo[name] = method(self)
        return self._memo[name]

    return property(getter)


@dataclasses.dataclass(frozen=True, eq=False)
class ScoredLog:
    """A log scored by a model, and the decision under a rule.

    Immutable and shared (the dashboard caches it across reruns): derived values are computed
    once, on first use.

    Attributes
    ----------
    log : Log
    model : TrainedModel
    model_ref : str or None
        ``name@version`` of a stored model; None for a model not (yet) saved.
    p : numpy.ndarray of float64
        Probability that each user is fake, in the log's user order.
    out_of_fold : bool
        True when the log is the model's training log: ``p`` are then its cross-validated
        probabilities.
    rule : Rule or None
    decision : Decision or None
        Present when a rule was given.
    verdicts : numpy.ndarray of int8 or None
        Analysts' verdicts (:meth:`with_verdicts`): 1 confirmed fake (always flagged), 0
        cleared (never flagged), -1 no verdict (the rule decides).
    """

    log: Log
    model: Any
    model_ref: str | None
    p: np.ndarray
    out_of_fold: bool
    rule: Rule | None
    decision: Decision | None
    #: Analysts' verdicts per user: 1 confirmed fake, 0 cleared, -1 none; None: not applied.
    verdicts: np.ndarray | None = None
    # What does not depend on the rule, computed once and shared by every with_rule() copy.
    _memo: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)

    @property
    def user_ids(self) -> np.ndarray:
        return self.log.user_ids

    @property
    def n_users(self) -> int:
        return self.log.n_users

    @_shared
    def labels(self) -> np.ndarray | None:
        """0/1 per user when the log's labels can evaluate the model, else None."""
        labels = self.log.labels
        if labels is None or (labels < 0).any():
            return None
        return labels

    @_shared
    def _id_index(self) -> pd.Index:
        """User IDs to positions, built once (hashing many IDs takes a while)."""
        import pandas as pd

        return pd.Index(pd.array(self.log.user_id_text, dtype="str"))

    @_shared
    def n_events(self) -> np.ndarray:
        """Rows per user."""
        return self.log.events_per_user

    @_shared
    def order(self) -> np.ndarray:
        """Users by descending probability, ties in log order."""
        return np.argsort(-self.p, kind="stable")

    @_shared
    def curve(self) -> CostCurve:
        """Expected (and, with labels, realised) cost of every threshold."""
        return CostCurve.from_scores(self.p, self.labels)

    @_shared
    def metrics(self) -> dict | None:
        """ROC AUC, average precision, Brier score, log loss, reliability; None unlabelled."""
        if self.labels is None:
            return None
        from fakeusers.models import classification_metrics

        return classification_metrics(self.labels, self.p)

    @property
    def flagged(self) -> np.ndarray | None:
        """Which users are flagged (bool per user); None without a rule."""
        return None if self.decision is None else self.decision.flagged

    @functools.cached_property
    def applicability(self) -> Any:
        """Does the model fit this log? An :class:`fakeusers.applicability.Applicability`.

        What does not depend on the rule was measured by :func:`score_log`, while the
        features were at hand; the flagged share is compared under this copy's rule.
        """
        return self._memo["_measured"].at(self.rule)

    @functools.cached_property
    def ranked_flagged(self) -> np.ndarray:
        """Indices of the flagged users, highest risk first (empty without a rule)."""
        if self.decision is None:
            return np.zeros(0, dtype=np.int64)
        return self.order[self.decision.flagged[self.order]]

    def with_rule(self, rule: Rule | None) -> ScoredLog:
        """The same scores under another rule: no rescoring, one threshold pass."""
        if rule == self.rule:
            return self
        return _decided(dataclasses.replace(self, rule=rule, decision=None))

    def with_verdicts(self, verdicts: Mapping[str, Any] | None) -> ScoredLog:
        """The same scores with analysts' verdicts applied to the decision.

        Parameters
        ----------
        verdicts : mapping of user ID to ``"fake"``/``"real"`` (or an object with a
            ``verdict`` attribute, as :meth:`fakeusers.verdicts.VerdictStore.latest` returns),
            optional
            Users of other logs are ignored. None or empty: no verdicts.
        """
        codes = None
        if verdicts:
            kinds = {k: getattr(v, "verdict", v) for k, v in verdicts.items()}
            index = self._id_index.get_indexer(list(kinds))
            codes = np.full(self.n_users, -1, dtype=np.int8)
            hit = index >= 0
            fake = np.fromiter((v == "fake" for v in kinds.values()), bool, len(kinds))
            codes[index[hit]] = fake[hit]
            if not hit.any():
                codes = None
        if codes is None and self.verdicts is None:
            return self
        if codes is not None and self.verdicts is not None and np.array_equal(codes, self.verdicts):
            return self
        return _decided(dataclasses.replace(self, verdicts=codes, decision=None))

    @property
    def why(self) -> np.ndarray:
        """Why each user is flagged or not: ``model``, ``confirmed fake`` or ``cleared``."""
        out = np.full(self.n_users, "model", dtype=object)
        if self.verdicts is not None:
            out[self.verdicts == 1] = "confirmed fake"
            out[self.verdicts == 0] = "cleared"
        return out

    def notes(self) -> list[str]:
        """What the reader of the result must know besides the numbers."""
        notes = []
        if self.out_of_fold:
            notes.append(
                "These users trained the model, so their probabilities are its cross-validated "
                "(out-of-fold) ones: metrics and costs are what the model does on users it "
                "has not seen."
            )
        return notes

    # Explanations ---------------------------------------------------------------------------

    @_shared
    def _reference(self) -> pd.Series | None:
        from fakeusers import explain

        if not explain.needs_reference(self.model):
            return None
        return explain.reference_values(self.model, self.log)

    def explain(self, users: Sequence[int]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Features and per-feature contributions (log-odds) of some users."""
        from fakeusers import explain

        users = np.asarray(users, dtype=np.int64)
        X = explain.user_features(self.log, self.model.vocabulary, users)
        return X, explain.contributions(self.model, X, self._reference)

    def reasons(self, users: Sequence[int]) -> list[list[Reason]]:
        """For each of ``users``, the (up to) three features that push them towards fake the
        most, in words against the real users the model was trained on."""
        from fakeusers.reasons import explain_in_words

        X, contrib = self.explain(users)
        percentiles = (self.model.profile or {}).get("real_percentiles")
        return explain_in_words(contrib, X, percentiles)

    def explanation_method(self) -> str:
        """How the contributions behind the reasons are computed, for a caption."""
        from fakeusers import explain

        return explain.method(self.model)

    @_shared
    def importance(self) -> tuple[pd.Series, str, str]:
        """Feature importance of the model on this log: values, title and unit."""
        from fakeusers import explain

        return explain.importance(self.model, self.log, self._reference)

    # Users ----------------------------------------------------------------------------------

    def find_users(self, query: str, limit: int = 50) -> np.ndarray:
        """Up to ``limit`` users whose ID contains ``query``, highest risk first.

        Without a query: the riskiest users.
        """
        import pyarrow.compute as pc

        query = query.strip()
        if not query:
            return self.order[:limit]
        hits = np.asarray(pc.match_substring(self.log.user_id_text, query))
        return self.order[hits[self.order]][:limit]

    # Outputs --------------------------------------------------------------------------------

    def table(self, users: Sequence[int] | None = None, *, reasons: bool = False) -> pd.DataFrame:
        """Rows for some users (default: the flagged ones, riskiest first).

        Columns ``UserId, is_fake_probability, events, why`` (``model``, ``confirmed
        fake`` or ``cleared``) and, with ``reasons``, ``reason_1`` to ``reason_3`` in words.
        """
        from fakeusers.export import flagged_table

        users = self.ranked_flagged if users is None else np.asarray(users, dtype=np.int64)
        shown = [[r.text for r in rs] for rs in self.reasons(users)] if reasons else None
        return flagged_table(
            self.user_ids, self.p, self.n_events, users, shown, why=self.why[users]
        )

    def flagged_csv(self, *, for_spreadsheets: bool = True) -> bytes:
        """The flagged users as CSV, riskiest first, with reasons.

        For spreadsheets (the default) cells that a spreadsheet would run as a formula are
        neutralised; otherwise the IDs are exactly as read, for a blocking tool.
        """
        from fakeusers.export import to_csv

        return to_csv(self.table(reasons=True), for_spreadsheets=for_spreadsheets)

    def download_name(self, when: dt.datetime, *, exact_ids: bool = False) -> str:
        """A file name that says what the flagged list is: log, model, rule and time.

        Examples
        --------
        ``flagged-demo-june@2-M1-F9-20261129-1130.csv``; ``...-exact-ids.csv`` for the exact
        form.
        """
        rule = self.rule
        if rule is None:
            said = "scores"
        elif rule.top_k is not None:
            said = f"top{rule.top_k}"
        elif rule.typed_threshold is not None:
            said = f"t{rule.typed_threshold:g}"
        else:
            said = f"M{rule.cost_fp:g}-F{rule.cost_fn:g}"
        log = (
            self.log.report.files[0].rsplit("/", 1)[-1].split(".")[0]
            if self.log.report.files
            else "log"
        )
        parts = ["flagged", log, self.model_ref or "unsaved", said, f"{when:%Y%m%d-%H%M}"]
        name = "-".join(re.sub(r"[^A-Za-z0-9@._+-]+", "_", part) for part in parts)
        return name + ("-exact-ids.csv" if exact_ids else ".csv")


def score_log(
    log: Log,
    model: Any,
    rule: Rule | None = None,
    *,
    model_ref: str | None = None,
    verdicts: Mapping[str, Any] | None = None,
) -> ScoredLog:
    """Score every user of ``log`` with ``model`` and decide under ``rule``.

    Parameters
    ----------
    log : Log
    model : TrainedModel
    rule : Rule, optional
        Without one, only probabilities.
    model_ref : str, optional
        How outputs name the model (``name@version``).
    verdicts : mapping, optional
        Analysts' verdicts by user ID (see :meth:`ScoredLog.with_verdicts`).

    Raises
    ------
    FakeusersError
        When the model cannot score this log (for example it needs timestamps).
    """
    from fakeusers.applicability import measure

    out_of_fold = _is_training_log(log, model)
    if out_of_fold:
        X, p = None, np.asarray(model.oof_p, dtype=np.float64)
    else:
        from fakeusers.models import features_and_probabilities

        X, p = features_and_probabilities(model, log)
    # The features are compared with the training data now, so they need not be kept.
    memo = {"_measured": measure(model, log, X, p)}
    scored = ScoredLog(log, model, model_ref, p, out_of_fold, None, decision=None, _memo=memo)
    return scored.with_verdicts(verdicts).with_rule(rule)


def score_sources(
    sources: Source | Sequence[Source],
    *,
    store: Any,
    model: str | None = None,
    rule: Rule | None = None,
    verdicts: Mapping[str, Any] | None = None,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> ScoredLog:
    """Read logs, load a model from ``store`` (the default when ``model`` is None), score.

    The model is resolved before anything is read (a wrong name fails at once) and loaded
    while the logs are parsed. ``overlaps`` is :func:`fakeusers.reading.read_logs`'s choice
    for users repeated whole in two files.

    Raises
    ------
    ModelNotFoundError, ModelUnusableError, FakeusersError
        As :meth:`ModelStore.load` and :func:`fakeusers.reading.read_logs` raise them.
    """
    name, version = store.resolve(model)
    # What reading needs starts first (numba, for a large file), the model loads once it has:
    # both are mostly Python holding its lock, and compiled reading does not hold it, so the
    # reading starts sooner and the model loads beside it (0.1 s at 10M events).
    sources = listed(sources)
    started = start_reading(sources)
    with ThreadPoolExecutor(max_workers=1) as pool:
        loading = pool.submit(_load_for_scoring, store, f"{name}@{version}", started)
        try:
            log = read_logs(sources, overlaps=overlaps)
        except BaseException:
            # An unusable model is reported before a bad log (the read error is its context).
            loading.result()
            raise
        stored = loading.result()
    return score_log(log, stored.model, rule, model_ref=stored.ref, verdicts=verdicts)


def _load_for_scoring(store: Any, ref: str, after: threading.Event) -> Any:
    """The stored model, and what scoring it imports next loaded too (pandas for the
    features' frame, with the applicability check): while the main thread parses the logs
    rather than after (0.2 s at the command line); once ``after`` is set, or after
    :data:`_WAIT_FOR_READING` seconds (numba compiling its kernels on a new machine)."""
    after.wait(_WAIT_FOR_READING)
    stored = store.load(ref)
    import fakeusers.applicability  # noqa: F401

    return stored


def _is_training_log(log: Log, model: Any) -> bool:
    training = getattr(model, "training", None) or {}
    # The log it was trained on, and (trained on verdicts) that log as read, before the
    # verdicts changed its labels.
    known = {training.get(k) for k in ("fingerprint_sha256", "read_fingerprint_sha256")} - {None}
    if not known or len(model.oof_p) != log.n_users or training.get("rows") != log.n_rows:
        return False  # cheap checks first: hashing a large log takes a while
    return log.fingerprint() in known


def _decided(scored: ScoredLog) -> ScoredLog:
    """``scored`` with the decision of its rule."""
    rule = scored.rule
    if rule is None:
        return scored
    cost_fp, cost_fn = (rule.cost_fp, rule.cost_fn) if rule.has_costs else (1.0, 1.0)
    decision = decide(
        scored.p,
        cost_fp=cost_fp,
        cost_fn=cost_fn,
        top_k=rule.top_k,
        y_true=scored.labels,
        threshold=rule.typed_threshold,
        forced=scored.verdicts,
    )
    return dataclasses.replace(scored, decision=decision)
