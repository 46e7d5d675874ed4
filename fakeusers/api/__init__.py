"""The REST API: ``/predict`` and ``/train`` for other systems, documented at ``/docs``.

Run it with ``python -m fakeusers serve [--host 127.0.0.1] [--port 8000] [--models-dir D]``;
tests build one app per model store with :func:`create_app`. The package follows FastAPI's
"bigger applications" layout:

- :mod:`.schemas`: what requests and answers hold (pydantic models, the OpenAPI document);
- :mod:`.bodies`: request limits and body parsing, from HTTP to ``(name, bytes)`` logs;
- :mod:`.routes`: the endpoints, thin shells around :mod:`fakeusers.scoring`,
  :mod:`fakeusers.training` and :class:`fakeusers.store.ModelStore`;
- :mod:`.errors`: the library's typed errors as HTTP statuses.

What API users read (endpoints, body types, status codes) is :data:`DESCRIPTION`, served
in the OpenAPI document.
"""

from __future__ import annotations

import logging
import os

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

import fakeusers
from fakeusers.api.bodies import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, BodyLimit, size_limit
from fakeusers.api.budgets import (
    MAX_SCORINGS_ENV,
    MAX_TRAININGS_ENV,
    MemoryBudget,
    Slots,
    from_env,
)
from fakeusers.api.errors import add_exception_handlers, status_table
from fakeusers.api.review import router as review_router
from fakeusers.api.routes import router
from fakeusers.database import Database
from fakeusers.limits import format_size
from fakeusers.store import MODELS_DIR_ENV, ModelStore

__all__ = ["DEFAULT_MAX_BYTES", "DESCRIPTION", "MAX_BYTES_ENV", "create_app", "serve"]

_log = logging.getLogger("fakeusers.api")

DESCRIPTION = f"""
Scores click logs with the models of one model store: the probability that each user is
fake, and, given the two costs or a review capacity, whom to flag.

- `POST /predict` takes the log as JSON columns (`{{"UserId": [...], "Event": [...],
  "Category": [...]}}`), as a `text/csv` body, or as a multipart upload (field `file`). It
  returns one entry per distinct user, in order of first appearance. With `cost_fp` (M,
  blocking a real user) and `cost_fn` (F, missing a fake), users with p >= M / (M + F) are
  flagged; with `top_k`, the K most likely fakes; with `threshold`, users with
  p >= threshold (both priced when costs are given too). With costs, `expected_cost` comes
  with `expected_cost_interval`, where the realised cost falls 90% of the time.
  `model` is `NAME` (its current version) or `NAME@VERSION`; without it, the store's default
  model. The answer names the model that scored as `NAME@VERSION`. On the model's own
  training log the probabilities are its out-of-fold ones, and `out_of_fold` says so.
- `POST /train` trains a model on a labelled CSV (with a `Fake` column) and saves it; a
  taken name is refused unless `replace=true`, which adds a version (earlier ones are kept).
  `ignore_timestamps=true` trains a model that scores logs without timestamps.
- `GET /models`, `GET /models/{{ref}}` and `GET /models/{{name}}/versions` return model cards:
  training data, cross-validated metrics, library versions.
- `GET /verdicts` lists the verdict that holds per user; `POST /verdicts` records analysts'
  verdicts (`fake`: a confirmed bot, always flagged; `real`: cleared, never flagged), as JSON
  or as a CSV file `UserId,verdict[,note]`, all or nothing. `/predict` applies them whenever
  it decides (with costs, `top_k` or `threshold`), and `why` says for each user whether the
  model or a verdict decided.
- `POST /models/{{ref}}/promote` makes a model the default, the one `/predict` uses when no
  model is named. The first model saved in a store is its default until another is promoted.

Logs are read exactly as by the command line (`python -m fakeusers`), with the same
warnings and the same refusals. Every error is JSON `{{"detail": "<what is wrong and what to
do>"}}`:

{status_table()}

A 422 for a request that does not match the schema also carries `errors`, a list of
`{{loc, msg, type}}`.
"""


def create_app(
    models_dir: str | os.PathLike[str] | None = None,
    *,
    max_bytes: int | None = None,
    db_url: str | None = None,
) -> FastAPI:
    """Build the API over one model store.

    Parameters
    ----------
    models_dir : str or path-like, optional
        The model store; default ``$FAKEUSERS_MODELS_DIR``, else ``./models``.
    max_bytes : int, optional
        The largest request body, and the largest log after gunzip, in bytes. Default
        ``$FAKEUSERS_API_MAX_BYTES`` (a byte count or a size such as ``200MB``), else
        100 MiB.
    db_url : str, optional
        The review database (verdicts, audit trail): default ``$FAKEUSERS_DB_URL``, else
        ``sqlite:///data/fakeusers.db``. Opened on first use; the API starts without it.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    FakeusersError
        If the size limit is not a size.

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> TestClient(create_app("models")).get("/health").json()  # doctest: +SKIP
    {'status': 'ok', 'version': '0.1.0'}
    """
    limit = size_limit(max_bytes)
    # FastAPIOffline serves the Swagger UI and ReDoc assets from the package itself: /docs
    # works on a machine with no internet, where the CDN FastAPI links to is unreachable.
    app = FastAPIOffline(
        title="fakeusers",
        version=fakeusers.__version__,
        summary="Find the fake users in a marketplace's click logs and decide, in money, whom "
        "to block.",
        description=DESCRIPTION,
    )
    app.state.store = ModelStore(models_dir)
    app.state.trainings = Slots(from_env(MAX_TRAININGS_ENV, 1), "training", retry_after=60)
    app.state.scorings = Slots(
        from_env(MAX_SCORINGS_ENV, os.cpu_count() or 1), "scoring", retry_after=5
    )
    app.state.memory = MemoryBudget.from_env()
    app.state.db = Database(db_url)
    app.state.max_bytes = limit
    app.add_middleware(BodyLimit, limit=limit)
    add_exception_handlers(app)
    app.include_router(router)
    app.include_router(review_router)
    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    models_dir: str | os.PathLike[str] | None = None,
    *,
    db_url: str | None = None,
    open_anyway: bool = False,
    workers: int = 1,
) -> None:
    """Run the API with uvicorn until interrupted.

    Parameters
    ----------
    host : str
        Address to listen on. The default, 127.0.0.1, accepts connections from this machine
        only; use 0.0.0.0 to listen on all interfaces (in a container, for instance).
    port : int
        TCP port.
    models_dir : str or path-like, optional
        The model store, as in :func:`create_app`.
    db_url : str, optional
        The review database (verdicts, audit trail, API keys), as in :func:`create_app`.
    open_anyway : bool
        Listening beyond loopback with no API key was asked for (``--no-auth``): say so in
        the log.
    workers : int
        Worker processes (uvicorn's); each builds the app from the environment, so the
        store and the database are handed over as ``FAKEUSERS_MODELS_DIR`` and
        ``FAKEUSERS_DB_URL``. Budgets (trainings, scorings at once) hold per worker.
    """
    import uvicorn

    from fakeusers.api.connections import GuardedH11Protocol, connection_budget, timeouts

    header_timeout, body_timeout = timeouts()  # a bad setting fails before the server starts
    max_connections = connection_budget()
    app = create_app(models_dir, db_url=db_url)
    if open_anyway:
        _log.warning(
            "Listening on %s with --no-auth: while no API key exists, anyone who reaches this "
            "address can train, replace and promote models.",
            host,
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    _log.info(
        "Models in %s; docs at /docs; requests up to %s bytes and %s of memory together; "
        "headers within %g s, no pause over %g s in a body; at most %d connections.",
        app.state.store.root,
        f"{app.state.max_bytes:,}",
        format_size(app.state.memory.total),
        header_timeout,
        body_timeout,
        max_connections,
    )
    guards = {"http": GuardedH11Protocol, "limit_concurrency": max_connections}
    if workers > 1:
        if models_dir is not None:
            os.environ[MODELS_DIR_ENV] = str(models_dir)
        if db_url is not None:
            os.environ["FAKEUSERS_DB_URL"] = db_url
        _log.info("Starting %d worker processes.", workers)
        uvicorn.run(
            "fakeusers.api:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            **guards,
        )
        return
    uvicorn.run(app, host=host, port=port, **guards)
