"""The one path from labelled logs to a saved model, for the command line and the API.

The dashboard trains first and saves later (the analyst looks at the model before naming
it), so it calls :func:`fakeusers.models.train` and :meth:`ModelStore.save` itself; the
rules (names, versions, "name taken") stay in the store either way.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from fakeusers import DEFAULT_MODEL
from fakeusers.errors import FakeusersError
from fakeusers.log import Log
from fakeusers.progress import Progress, within
from fakeusers.reading import Source, listed, read_logs

__all__ = [
    "compare_with_current",
    "trained_on_verdicts",
    "train_and_save",
    "verdict_summary",
    "verdict_training_log",
]

# Shares of progress: reading ends at READ_SHARE, training runs to SAVE_FROM, then saving.
READ_SHARE = 0.2
SAVE_FROM = 0.97


def train_and_save(
    sources: Source | Sequence[Source],
    *,
    store: Any,
    name: str | None = None,
    model_type: str = DEFAULT_MODEL,
    seed: int = 0,
    use_timestamps: bool = True,
    replace: bool = False,
    progress: Progress | None = None,
    verdicts: Mapping[str, Any] | None = None,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> tuple[dict[str, Any], Log]:
    """Read labelled logs, cross-validate and fit a model, save it; return (card, the log as
    read).

    With ``verdicts`` (user ID to ``fake``/``real``) the labels are the log's overridden by
    the verdicts and extended to unlabelled users who have one
    (:func:`fakeusers.verdicts.with_verdict_labels`): a log without a ``Fake`` column trains
    when verdicts cover at least 5 fake and 5 real users.

    A taken name is refused before the logs are read (training can take minutes), and again
    by the store under its lock when saving, so of two trainings racing for one free name
    exactly one is saved. ``overlaps`` is :func:`fakeusers.reading.read_logs`'s choice for
    users repeated whole in two files.

    ``progress(stage, done, eta_seconds)`` (:mod:`fakeusers.progress`) hears of each stage:
    reading (then what was read, in the words of the read report), the stages of
    :func:`fakeusers.models.train`, saving, and last ``done == 1.0``.

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

    def say(stage: str, done: float, eta: float | None = None) -> None:
        if progress is not None:
            progress(stage, done, eta)

    say(f"Reading {_names(sources)} ...", 0.0)
    log = read_logs(sources, overlaps=overlaps)
    for line in log.report.summary_lines():
        say(line, READ_SHARE)
    counts, taught = None, log
    if verdicts is not None:
        taught, counts = verdict_training_log(log, verdicts)
        say(verdict_summary(counts), READ_SHARE)
    model = train(
        taught,
        model_type,
        random_state=seed,
        use_timestamps=use_timestamps,
        progress=within(progress, READ_SHARE, SAVE_FROM),
    )
    if counts is not None:
        model = trained_on_verdicts(model, counts, log)
    say(f"Saving model '{name}' in {store.root} ...", SAVE_FROM)
    card = store.save(name, model, replace=replace)
    say(f"Saved model '{card['name']}' version {card['version']}.", 1.0)
    return card, log


def _names(sources: Source | Sequence[Source]) -> str:
    """The logs' file names, for "Reading ..."."""
    return ", ".join(s[0] if isinstance(s, tuple) else os.fspath(s) for s in listed(sources))


def trained_on_verdicts(model: Any, counts: dict[str, int], log: Log) -> Any:
    """``model``, trained on ``log`` with labels from verdicts, with that recorded in its card.

    When no user was left out the model's out-of-fold probabilities are those of every user of
    ``log`` as read, so its fingerprint is recorded too: scoring ``log`` again then uses them
    (and says so), as for any model on its own training log.
    """
    training = {**model.training, "verdicts": counts}
    if counts["dropped"] == 0:
        training["read_fingerprint_sha256"] = log.fingerprint()
    return dataclasses.replace(model, training=training)


def verdict_summary(counts: dict[str, int]) -> str:
    """What verdicts did to the training labels, in one line."""
    return (
        f"Verdicts: {counts['verdicts']:,} users of the log have one ({counts['fake']:,} fake, "
        f"{counts['real']:,} real); {counts['changed']:,} labels changed, {counts['added']:,} "
        f"unlabelled users labelled, {counts['dropped']:,} users without a label left out."
    )


def verdict_training_log(log: Log, verdicts: Mapping[str, Any]) -> tuple[Log, dict[str, int]]:
    """The log to train on with analysts' verdicts, and what they changed
    (:func:`fakeusers.verdicts.with_verdict_labels`).

    Raises
    ------
    FakeusersError
        When no verdict is about a user of the log, or verdicts and labels together give
        fewer than 5 fake or 5 real users: the message says how many more verdicts of each
        kind are needed.
    """
    from fakeusers.models import MIN_USERS_PER_CLASS
    from fakeusers.verdicts import with_verdict_labels

    files = ", ".join(log.report.files)
    log, counts = with_verdict_labels(log, verdicts)
    if counts["verdicts"] == 0:
        raise FakeusersError(
            f"None of the {len(verdicts):,} verdicts in the review database is about a user of "
            f"{files}, so they would change nothing. Train without the verdicts, or check that "
            "the review database is the one the verdicts were recorded in (FAKEUSERS_DB_URL, "
            "--db-url)."
        )

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
            f"With the verdicts, {files} has {fake} fake and {real} real "
            f"labelled users; training needs at least {MIN_USERS_PER_CLASS} of each. Record "
            f"{more} verdict{'s' if sum(short.values()) > 1 else ''} (review import, or the "
            "Review page), or add a labelled log."
        )
    return log, counts


def compare_with_current(
    log: Log,
    taught: Log,
    current: Any,
    new: Any,
    *,
    cost_fp: float | None = None,
    cost_fn: float | None = None,
) -> dict[str, dict[str, float | None]]:
    """The model in use and a new version trained on verdict-corrected labels, judged on the
    same users against the same labels.

    The current model's card cannot be compared with the new one's: its figures were measured
    on other labels. Here both are judged against the corrected labels of the new version's
    training users (``taught``, made from ``log`` by :func:`verdict_training_log`): the new
    version by its out-of-fold probabilities, the current model by its probabilities as it
    stands from the one scoring path: its out-of-fold ones when ``log`` is its own training
    log, and for users it never saw when it was trained elsewhere. One case flatters it: a
    current model trained on verdicts over this same log (an earlier retraining) is scored
    in-sample on the users it was fitted on, since models do not record their users' IDs.

    Returns
    -------
    dict
        ``{"current": metrics, "new": metrics}`` with ``users``, ``fake_users``,
        ``roc_auc``, ``average_precision``, ``brier``, ``log_loss`` and, with both costs,
        ``cost`` (the realised cost of flagging p >= M / (M + F)).

    Raises
    ------
    FakeusersError
        When the current model cannot score the log (it needs timestamps the log lacks).
    """
    import pandas as pd

    from fakeusers.decisions import decide
    from fakeusers.models import classification_metrics
    from fakeusers.scoring import score_log

    y = np.asarray(taught.labels, dtype=int)
    where = pd.Index(log.user_ids).get_indexer(taught.user_ids)
    probabilities = {"current": score_log(log, current).p[where], "new": np.asarray(new.oof_p)}
    out = {}
    for role, p in probabilities.items():
        metrics = {k: v for k, v in classification_metrics(y, p).items() if k != "reliability"}
        if cost_fp is not None and cost_fn is not None:
            metrics["cost"] = decide(
                p, cost_fp=cost_fp, cost_fn=cost_fn, y_true=y
            ).outcome.realised_cost
        out[role] = metrics
    return out
