"""The one path from labelled logs to a saved model, for the command line and the API.

The dashboard trains first and saves later (the analyst looks at the model before naming
it), so it calls :func:`fakeusers.models.train` and :meth:`ModelStore.save` itself; the
rules (names, versions, "name taken") stay in the store either way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fakeusers import DEFAULT_MODEL
from fakeusers.errors import FakeusersError
from fakeusers.reading import Log, Source, read_logs

__all__ = ["train_and_save", "verdict_summary"]


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
) -> tuple[dict[str, Any], Log]:
    """Read labelled logs, cross-validate and fit a model, save it; return (card, log).

    With ``verdicts`` (user ID to ``fake``/``real``) the labels are the log's overridden by
    the verdicts and extended to unlabelled users who have one
    (:func:`fakeusers.verdicts.with_verdict_labels`): a log without a ``Fake`` column trains
    when verdicts cover at least 5 fake and 5 real users.

    A taken name is refused before the logs are read (training can take minutes), and again
    by the store under its lock when saving, so of two trainings racing for one free name
    exactly one is saved.

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
    log = read_logs(sources)
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
