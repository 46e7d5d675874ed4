"""The one path from labelled logs to a saved model, for the command line and the API.

The dashboard trains first and saves later (the analyst looks at the model before naming
it), so it calls :func:`fakeusers.models.train` and :meth:`ModelStore.save` itself; the
rules (names, versions, "name taken") stay in the store either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from fakeusers import DEFAULT_MODEL
from fakeusers.reading import Log, Source, read_logs

__all__ = ["train_and_save"]


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
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> tuple[dict[str, Any], Log]:
    """Read labelled logs, cross-validate and fit a model, save it; return (card, log).

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
    model = train(
        log, model_type, random_state=seed, use_timestamps=use_timestamps, progress=progress
    )
    return store.save(name, model, replace=replace), log
