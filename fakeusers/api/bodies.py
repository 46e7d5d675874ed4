"""Request limits and bodies: what arrives over HTTP becomes ``(name, bytes)`` logs and options.

Every log, whatever the body type (JSON columns, a ``text/csv`` or Parquet body, multipart
uploads), is handed on as named bytes for :func:`fakeusers.reading.read_logs`, so the API
accepts and refuses exactly what the command line does, in the same words. Two limits protect the
server: the request body (:class:`BodyLimit`, before and while it is received) and the logs
once decompressed (:func:`bounded_sources`), both at the server's ``max_bytes``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fakeusers.api.schemas import PredictOptions, PredictRequest
from fakeusers.errors import FakeusersError, InputTooLargeError
from fakeusers.limits import limit_from_env, parse_size
from fakeusers.parquetread import PARQUET_MAGIC, decoded_size, is_parquet
from fakeusers.sources import gunzip

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_BYTES_ENV",
    "BodyLimit",
    "bounded_sources",
    "predict_body",
    "size_limit",
    "upload_sources",
]

#: Environment variable with the largest request (and log after gunzip) the server accepts.
MAX_BYTES_ENV = "FAKEUSERS_API_MAX_BYTES"
#: 100 MiB: a log of about 3M events as CSV.
DEFAULT_MAX_BYTES = 100 * 2**20

Source = tuple[str, bytes]

_GZIP_MAGIC = b"\x1f\x8b"
_CSV_TYPES = ("text/csv", "application/csv")
_PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet")
#: Bytes of no declared format: read as the reader recognises them (Parquet, gzip, CSV).
_BYTES_TYPE = "application/octet-stream"
_JSON_BODY = "JSON body"
_CSV_BODY = "CSV body"
_PARQUET_BODY = "Parquet body"
_BYTES_BODY = "Request body"
_OPTION_NAMES = tuple(PredictOptions.model_fields)


def size_limit(value: int | None = None) -> int:
    """The server's size limit: ``value``, else ``$FAKEUSERS_API_MAX_BYTES``, else 100 MiB.

    Raises
    ------
    FakeusersError
        When the limit is not a size (see :func:`fakeusers.limits.parse_size`).
    """
    if value is None:
        return limit_from_env(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)
    return parse_size(value)


def too_large(limit: int, what: str) -> str:
    """The 413 message: what is too large, the limit, and what to do."""
    return (
        f"{what} is larger than this server accepts ({limit:,} bytes). Split the log into "
        f"smaller files and send them one at a time, or raise {MAX_BYTES_ENV} on the server "
        "(a byte count or a size such as 200MB)."
    )


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with a JSON 413, before or while reading.

    FastAPI's own ``max_body_size`` answers a body whose declared length is too large in
    plain text, whatever the app responds; this API promises JSON errors.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            response = JSONResponse({"detail": too_large(self.limit, "The request")}, 413)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, too_large(self.limit, "The request"))
            return message

        await self.app(scope, counting_receive, send)


def bounded_sources(sources: list[Source], limit: int) -> tuple[list[Source], int]:
    """The sources with gzip undone, and their size, refused past ``limit`` bytes together.

    A Parquet log counts as the text its columns decode to: compressed pages and dictionaries
    make it far smaller than that, as gzip makes a CSV. The size returned is counted so, for
    the memory budget.

    The reader's bounded gunzip does the work, so a small bomb cannot fill memory; a damaged
    gzip is passed on unchanged for the reader to refuse in its own words.

    Raises
    ------
    InputTooLargeError
        When the logs, decompressed, hold more than ``limit`` bytes.
    """
    out = []
    budget = limit
    for name, data in sources:
        plain = data
        if data[:2] == _GZIP_MAGIC:
            try:
                plain = gunzip(name, data, budget)
            except InputTooLargeError:
                raise InputTooLargeError(too_large(limit, f"{name}, decompressed,")) from None
            except FakeusersError:
                plain = data
        size = len(plain)
        if is_parquet((name, plain)):
            try:
                size = decoded_size(name, plain, budget)
            except InputTooLargeError:
                raise InputTooLargeError(too_large(limit, f"{name}, decoded,")) from None
            except FakeusersError:
                pass  # damaged: the reader refuses it in its own words
        if size > budget:
            raise InputTooLargeError(too_large(limit, f"{name}, decompressed,"))
        budget -= size
        out.append((name, plain))
    return out, limit - budget


def upload_name(filename: str | None) -> str:
    """The name messages use for an upload: its file name without any folder."""
    return Path(filename or "").name or "uploaded file"


def upload_sources(files: list[UploadFile]) -> list[Source]:
    """The uploaded files of a form that FastAPI parsed, as named bytes."""
    return [(upload_name(f.filename), f.file.read()) for f in files]


async def predict_body(
    request: Request, query: PredictOptions, limit: int
) -> tuple[list[Source], PredictOptions]:
    """The logs and the options of a ``/predict`` request, whatever its body type.

    Returns
    -------
    sources : list of (name, bytes)
        The logs as sent (still compressed, if they were).
    options : PredictOptions
        From the query string and the body; each option from one of them only.

    Raises
    ------
    HTTPException
        415 for a body that is neither JSON, CSV, Parquet, bytes (``application/octet-stream``,
        read as the reader recognises them) nor multipart; 400 for broken multipart.
    RequestValidationError
        A JSON body or form fields that do not match the schema.
    FakeusersError
        A multipart form without a log, a field given twice, an option given twice; a
        Parquet body that is not Parquet.
    """
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        # Parsing a large body takes time: in the thread pool, like the scoring.
        return await run_in_threadpool(_json_body, await request.body(), query)
    if media_type in _CSV_TYPES:
        return [(_CSV_BODY, await request.body())], query
    if media_type in _PARQUET_TYPES:
        body = await request.body()
        if body[:4] != PARQUET_MAGIC:
            raise FakeusersError(
                f"The body is sent as {media_type} but is not a Parquet file (it does not "
                "start with PAR1). Send the file's bytes as they are (curl --data-binary "
                "@log.parquet), or a CSV log as text/csv."
            )
        return [(_PARQUET_BODY, body)], query
    if media_type == _BYTES_TYPE:
        return [(_BYTES_BODY, await request.body())], query
    if media_type == "multipart/form-data":
        form = await request.form(max_part_size=limit)
        try:
            sources = await _form_sources(form)
            return sources, merge_options(query, _form_options(form))
        finally:
            await form.close()
    shown = f"'{media_type}'" if media_type else "none"
    raise HTTPException(
        415,
        f"Content-Type is {shown}. Send the log as application/json (columns as arrays), "
        "text/csv (the CSV file as the body), application/vnd.apache.parquet (a Parquet "
        "file as the body) or multipart/form-data (a file field named 'file'), e.g. "
        "curl -H 'Content-Type: text/csv' --data-binary @log.csv ...",
    )


#: The most values a JSON ``/predict`` body may hold, counted before it is parsed: parsed,
#: each string costs ~100 bytes of Python objects, so a 95 MB body of 5M rows once took 5.6 GB.
MAX_JSON_VALUES_ENV = "FAKEUSERS_API_MAX_JSON_VALUES"
DEFAULT_MAX_JSON_VALUES = 3_000_000


def _json_body(body: bytes, query: PredictOptions) -> tuple[list[Source], PredictOptions]:
    """A JSON ``/predict`` body as a CSV log, and the options from it and the query string.

    Raises
    ------
    InputTooLargeError
        When the body holds more values than the budget (``FAKEUSERS_API_MAX_JSON_VALUES``),
        counted by its commas before anything is built.
    """
    from fakeusers.api.budgets import from_env

    budget = from_env(MAX_JSON_VALUES_ENV, DEFAULT_MAX_JSON_VALUES)
    values = body.count(b",") + 1  # an upper bound on the elements, in one pass
    if values > budget:
        raise InputTooLargeError(
            f"The JSON body holds up to {values:,} values; this server parses at most "
            f"{budget:,} ({MAX_JSON_VALUES_ENV}). Send the log as text/csv instead: it is read "
            "without building a Python object per value."
        )
    try:
        parsed = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid_body(exc) from None
    return [(_JSON_BODY, _csv_bytes(parsed))], merge_options(query, parsed)


def merge_options(query: PredictOptions, body: PredictOptions) -> PredictOptions:
    """The options given in the query string and in the body; each may come from one only."""

    def given(options: PredictOptions) -> dict[str, Any]:
        return {n: getattr(options, n) for n in _OPTION_NAMES if getattr(options, n) is not None}

    from_query, from_body = given(query), given(body)
    twice = sorted(from_query.keys() & from_body.keys())
    if twice:
        raise FakeusersError(
            f"{', '.join(twice)} given both in the query string and in the body; give each "
            "option once."
        )
    return PredictOptions.model_validate({**from_query, **from_body})


def _csv_bytes(request: PredictRequest) -> bytes:
    """The JSON columns as CSV, quoted by pyarrow, for the one reader every body goes through."""
    arrays = {
        name: pa.array(values, pa.int8() if name == "Fake" else pa.string())
        for name, values in request.columns().items()
    }
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(arrays), sink, pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


def _invalid_body(exc: ValidationError) -> RequestValidationError:
    """Report a body that does not match its model as FastAPI reports other fields."""
    errors = exc.errors(include_url=False)
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def _form_options(form: FormData) -> PredictOptions:
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if key == "file":
            continue
        if key in fields:
            raise FakeusersError(f"The form field {key!r} is given twice; give it once.")
        # An HTML form sends empty fields as "": that means "not given".
        if value != "":
            fields[key] = value
    try:
        return PredictOptions.model_validate(fields)
    except ValidationError as exc:
        raise _invalid_body(exc) from None


async def _form_sources(form: FormData) -> list[Source]:
    sources = []
    for part in form.getlist("file"):
        if isinstance(part, StarletteUploadFile):
            sources.append((upload_name(part.filename), await part.read()))
        else:  # a text field (curl -F 'file=<log.csv') rather than a file
            sources.append((upload_name(None), part.encode("utf-8")))
    if not sources:
        raise FakeusersError(
            "No log in the form: send the CSV as a file field named 'file' "
            "(curl -F file=@log.csv ...)."
        )
    return sources
