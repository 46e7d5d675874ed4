"""The one path from labelled logs to a saved model, for the command line and the API.

The dashboard trains first and saves later (the analyst looks at the model before naming
it), so it calls :func:`fakeusers.models.train` and :meth:`ModelStore.save` itself; the
rules (names, versions, "name taken") stay in the store either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np

from fakeusers import DEFAULT_MODEL
from fakeusers.errors import FakeusersError
from fakeusers.reading import Log, Source, read_logs

__all__ = ["compare_on_same_folds", "train_and_save", "verdict_summary"]


def train_and_save(
    sources: Source | Sequence[Source],
    *,
    store: Any,
    name: str | None = None,
    model_type: str = DEFAULT_MODEL,
    seed: int = 0,
    use_timestamps: bool = True,
    replace: bool = False,
    progress: Callable[[str], None] | None = None,
    verdicts: Mapping[str, Any] | None = None,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> tuple[dict[str, Any], Log]:
    """Read labelled logs, cross-validate and fit a model, save it; return (card, log).

    With ``verdicts`` (user ID to ``fake``/``real``) the labels are the log's overridden by
    the verdicts and extended to unlabelled users who have one
    (:func:`fakeusers.verdicts.with_verdict_labels`): a log without a ``Fake`` column trains
    when verdicts cover at least 5 fake and 5 real users.

    A taken name is refused before the logs are read (training can take minutes), and again
    by the store under its lock when saving, so of two trainings racing for one free name
    exactly one is saved. ``overlaps`` is :func:`fakeusers.reading.read_logs`'s choice for
    users repeated whole in two files.

    Raises
    ------
    ModelExistsError
        The name is taken and ``replace`` is False.
    FakeusersError
        The logs cannot be read or trained on.
    """
    from fakeusers.models import make_pipeline, train
    from fakeusers.store import default_name, validate_name

    make_pipeline(model_type)  # an unknown type is refused before any work
    name = validate_name(name) if name else default_name(model_type)
    if not replace:
        store.check_free(name)
    log = read_logs(sources, overlaps=overlaps)
    if progress is not None:
        for line in log.report.summary_lines():
            progress(line)
    counts = None
    if verdicts is not None:
        from fakeusers.verdicts import with_verdict_labels

        log, counts = with_verdict_labels(log, verdicts)
        if progress is not None:
            progress(verdict_summary(counts))
        _enough_labels(log)
    model = train(
        log, model_type, random_state=seed, use_timestamps=use_timestamps, progress=progress
    )
    if counts is not None:
        model = dataclasses.replace(model, training={**model.training, "verdicts": counts})
    return store.save(name, model, replace=replace), log


def verdict_summary(counts: dict[str, int]) -> str:
    """What verdicts did to the training labels, in one line."""
    return (
        f"Verdicts: {counts['verdicts']:,} users of the log have one ({counts['fake']:,} fake, "
        f"{counts['real']:,} real); {counts['changed']:,} labels changed, {counts['added']:,} "
        f"unlabelled users labelled, {counts['dropped']:,} users without a label left out."
    )


def _enough_labels(log: Log) -> None:
    """Refuse, saying how many more verdicts are needed, when a class is too small."""
    from fakeusers.models import MIN_USERS_PER_CLASS

    y = log.labels
    fake, real = int((y == 1).sum()), int((y == 0).sum())
    short = {
        kind: MIN_USERS_PER_CLASS - n
        for kind, n in (("fake", fake), ("real", real))
        if n < MIN_USERS_PER_CLASS
    }
    if short:
        more = " and ".join(f"{n} more {kind}" for kind, n in short.items())
        raise FakeusersError(
            f"With the verdicts, {', '.join(log.report.files)} has {fake} fake and {real} real "
            f"labelled users; training needs at least {MIN_USERS_PER_CLASS} of each. Record "
            f"{more} verdict{'s' if sum(short.values()) > 1 else ''} (review import, or the "
            "Review page), or add a labelled log."
        )


def compare_on_same_folds(
    log: Log,
    current: Any,
    new: Any,
    *,
    seed: int = 0,
    cost_fp: float | None = None,
    cost_fn: float | None = None,
) -> dict[str, dict[str, float | None]]:
    """The current model's recipe and the new one's, cross-validated on the same folds.

    A new version trained on verdict-corrected labels cannot be compared with the current
    one's card: those figures were measured on other labels and other folds. Here both
    recipes (model type, vocabulary) are cross-validated on the same 5 folds of ``log``'s
    labels, the log the new version was trained on (its out-of-fold probabilities are reused
    when they are exactly those).

    Returns
    -------
    dict
        ``{"current": metrics, "new": metrics}`` with ``roc_auc``, ``average_precision``,
        ``brier``, ``log_loss`` and, with both costs, ``cost`` (the realised cost of
        flagging p >= M / (M + F) on the out-of-fold probabilities).

    Raises
    ------
    FakeusersError
        The log cannot train (too few labels), or the current model needs timestamps the log
        does not have.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from fakeusers.decisions import decide
    from fakeusers.features import featurize
    from fakeusers.models import N_FOLDS, classification_metrics, make_pipeline, training_problem

    problem = training_problem(log)
    if problem is not None:
        raise FakeusersError(problem)
    y = log.require_labels().astype(int)
    folds = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=seed)
    out = {}
    for role, model in (("current", current), ("new", new)):
        if role == "new" and len(model.oof_y) == y.size and np.array_equal(model.oof_y, y):
            oof = np.asarray(model.oof_p)
        else:
            X = featurize(log, model.vocabulary)
            pipeline = make_pipeline(model.model_type, random_state=seed)
            oof = cross_val_predict(pipeline, X, y, cv=folds, method="predict_proba")[:, 1]
        metrics = {k: v for k, v in classification_metrics(y, oof).items() if k != "reliability"}
        if cost_fp is not None and cost_fn is not None:
            decision = decide(oof, cost_fp=cost_fp, cost_fn=cost_fn, y_true=y)
            metrics["cost"] = decision.outcome.realised_cost
        out[role] = metrics
    return out
