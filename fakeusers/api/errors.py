"""Errors as HTTP answers: every typed error of the library gets its status, in JSON.

The library raises typed errors (:mod:`fakeusers.errors`) whose messages say what is wrong
and what to do; here they become ``{"detail": message}`` with the status of their type
(:data:`STATUS`). Nothing else decides a status: a route raises the library's error and this
module answers. No traceback ever reaches a client: an unexpected error is a 500 that says
it is a bug, and the traceback goes to the server log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from fakeusers.api.schemas import ErrorResponse, ValidationErrorResponse
from fakeusers.errors import (
    BusyError,
    DatabaseUnavailableError,
    FakeusersError,
    InputTooLargeError,
    ModelExistsError,
    ModelNotFoundError,
    ModelUnusableError,
    StoreUnavailableError,
)

__all__ = ["STATUS", "WHEN", "add_exception_handlers", "responses", "status_table"]

#: The status of each typed error; the most specific type wins (others: FakeusersError).
STATUS: dict[type[FakeusersError], int] = {
    ModelNotFoundError: 404,
    ModelExistsError: 409,
    ModelUnusableError: 409,
    InputTooLargeError: 413,
    StoreUnavailableError: 503,
    BusyError: 429,
    DatabaseUnavailableError: 503,
    FakeusersError: 422,
}

#: When each error status is answered, as the OpenAPI document tells API users.
WHEN = {
    400: "the multipart body is malformed",
    401: "API keys exist (`python -m fakeusers keys`) and the request has no valid "
    "`Authorization: Bearer KEY`",
    403: "the key's scope does not allow the call (predict < review < admin)",
    404: "no such model or version, or no default model",
    409: "`/train` with a name that is taken, without `replace=true`; a stored model that "
    "cannot be used (broken, tampered with, not a fakeusers model, other scikit-learn)",
    413: "the request, or a log after gunzip, is over the server's limit; or the server has "
    "not enough memory for the log",
    415: "the `/predict` body is neither JSON, CSV nor multipart",
    422: "a log, option, model name or reference that cannot be used",
    429: "as many trainings or scorings are running as the server allows: try again after "
    "`Retry-After` seconds",
    500: "a bug in fakeusers (the server log has the details)",
    503: "the model store, or the review database (verdicts, API keys), cannot be read or written",
}

_log = logging.getLogger("fakeusers.api")
_BUG = "Internal error: this is a bug in fakeusers. The server log has the details."
_NO_MEMORY = "Not enough memory for this log on the server; split it into smaller files."


def status_table() -> str:
    """The statuses and when they are answered, as a Markdown table."""
    rows = [f"| {status} | {when} |" for status, when in sorted(WHEN.items())]
    return "\n".join(["| status | when |", "|---|---|", *rows])


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that may answer ``statuses``, for the OpenAPI document."""
    return {
        s: {
            "model": ValidationErrorResponse if s == 422 else ErrorResponse,
            "description": WHEN[s][0].upper() + WHEN[s][1:] + ".",
        }
        for s in statuses
    }


def add_exception_handlers(app: FastAPI) -> None:
    """Answer the library's typed errors, bad requests and bugs as JSON on ``app``."""
    app.add_exception_handler(ClientDisconnect, _gone)
    app.add_exception_handler(FakeusersError, _typed_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(MemoryError, _out_of_memory)
    app.add_exception_handler(Exception, _bug)


async def _typed_error(request: Request, exc: Exception) -> JSONResponse:
    status = next(STATUS[t] for t in type(exc).__mro__ if t in STATUS)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
    return JSONResponse(status_code=status, content={"detail": str(exc)}, headers=headers)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    shown = "; ".join(f"{_where(e['loc'])}: {e['msg'].rstrip('.')}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    detail = f"The request is not valid: {shown}{more}. See /docs for the expected shape."
    return JSONResponse(status_code=422, content={"detail": detail, "errors": errors})


async def _gone(request: Request, exc: Exception) -> Response:
    # The client left mid-request: nothing to answer, and not a bug (no traceback).
    _log.info(
        "%s %s: the client disconnected before sending it all", request.method, request.url.path
    )
    return Response(status_code=400)


async def _out_of_memory(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=413, content={"detail": _NO_MEMORY})


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    # Starlette logs the traceback after this response; the client gets JSON only.
    return JSONResponse(status_code=500, content={"detail": _BUG})


def _where(loc: list[str | int]) -> str:
    """'Fake[3] in the body', 'top_k in the query string' for an error location."""
    source, *path = loc or ["body"]
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    place = {"body": "the body", "query": "the query string", "path": "the URL"}.get(
        str(source), str(source)
    )
    return f"{text} in {place}" if text else place
