"""The REST API: ``/predict`` and ``/train`` for other systems, documented at ``/docs``.

Run it with ``python -m fakeusers serve [--host 127.0.0.1] [--port 8000] [--models-dir D]``;
tests build one app per model store with :func:`create_app`. Every log, whatever the body
type, goes through :func:`fakeusers.reading.read_logs`, so the API accepts and refuses
exactly what the command line does, in the same words. What API users read (endpoints,
body types, status codes) is ``DESCRIPTION``, served in the OpenAPI document.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import File, Form, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import fakeusers
from fakeusers.decisions import cost_threshold, decide, flag_top_k
from fakeusers.errors import FakeusersError, InputTooLargeError
from fakeusers.models import DEFAULT_MODEL, MODEL_TYPES, TrainedModel, score, train
from fakeusers.reading import gunzip, read_logs
from fakeusers.store import ModelStore, validate_name

__all__ = ["DEFAULT_MAX_BYTES", "DESCRIPTION", "MAX_BYTES_ENV", "create_app", "serve"]

MAX_BYTES_ENV = "FAKEUSERS_API_MAX_BYTES"
DEFAULT_MAX_BYTES = 100 * 2**20

_log = logging.getLogger("fakeusers.api")

DESCRIPTION = """
Scores click logs with the models of one model store: the probability that each user is
fake, and, given the two costs or a review capacity, whom to flag.

- `POST /predict` takes the log as JSON columns (`{"UserId": [...], "Event": [...],
  "Category": [...]}`), as a `text/csv` body, or as a multipart upload (field `file`). It
  returns one entry per distinct user, in order of first appearance. With `cost_fp` (M,
  blocking a real user) and `cost_fn` (F, missing a fake), users with p >= M / (M + F) are
  flagged; with `top_k`, the K most likely fakes.
- `POST /train` trains a model on a labelled CSV (with a `Fake` column) and saves it.
- `GET /models` and `GET /models/{name}` return model cards: training data, cross-validated
  metrics, versions.

Logs are read exactly as by the command line (`python -m fakeusers`), with the same
warnings and the same refusals. Every error is JSON `{"detail": "<what is wrong and what to
do>"}`:

| status | when |
|---|---|
| 400 | the multipart body is malformed |
| 404 | no such model, or no model at all |
| 409 | `/train` would overwrite a model without `replace=true`; a stored model is unusable |
| 413 | the request, or a log after gunzip, is over the server's limit |
| 415 | the `/predict` body is neither JSON, CSV nor multipart |
| 422 | a log, option or model name that cannot be used |
| 503 | the model store cannot be read or written |

A 422 for a request that does not match the schema also carries `errors`, a list of
`{loc, msg, type}`.
"""

_GZIP_MAGIC = b"\x1f\x8b"
_CSV_TYPES = ("text/csv", "application/csv")
_JSON_BODY = "JSON body"
_CSV_BODY = "CSV body"
_MODELS_CACHED = 4

ModelType = Literal[MODEL_TYPES]  # type: ignore[valid-type]


class Health(BaseModel):
    status: Literal["ok"] = Field(description="Always 'ok' when the server answers.")
    version: str = Field(description="The fakeusers version.", examples=[fakeusers.__version__])


class ErrorResponse(BaseModel):
    detail: str = Field(
        description="What is wrong and what to do, in the same words as the command line.",
        examples=["No model named 'rf' in /srv/models. Train one with ..."],
    )


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: 'body', 'query' or 'path', then the field.")
    msg: str = Field(description="What is wrong there.")
    type: str = Field(description="A machine-readable error type.")


class ValidationErrorResponse(ErrorResponse):
    errors: list[ErrorItem] | None = Field(
        None, description="Present when the request did not match the schema: one per problem."
    )


class PredictOptions(BaseModel):
    """How to score and decide; the same options for every body type."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    model: str | None = Field(
        None,
        description="Model name (see GET /models). Default: the newest model in the store.",
        examples=["logistic-20261124"],
    )
    cost_fp: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="M, the cost of blocking a real user (a false positive). Give with cost_fn; "
        "users with p >= M / (M + F) are flagged.",
        examples=[1.0],
    )
    cost_fn: float | None = Field(
        None,
        ge=0,
        allow_inf_nan=False,
        description="F, the cost of letting a fake user through (a false negative). "
        "Give with cost_fp.",
        examples=[9.0],
    )
    top_k: int | None = Field(
        None,
        ge=0,
        description="Flag the K users most likely to be fake (review capacity) instead of "
        "using costs.",
        examples=[100],
    )


_OPTION_NAMES = tuple(PredictOptions.model_fields)


class PredictRequest(PredictOptions):
    """A log as columns, one array per column, one element per row (action)."""

    model_config = ConfigDict(
        extra="forbid",
        coerce_numbers_to_str=True,
        json_schema_extra={
            "examples": [
                {
                    "UserId": ["42926269", "42926269", "56620948"],
                    "Event": ["click_ad", "send_email", "phone_call"],
                    "Category": ["Motor", "Motor", "Jobs"],
                    "cost_fp": 1,
                    "cost_fn": 9,
                }
            ]
        },
    )

    UserId: list[str] = Field(min_length=1, description="The user of each row.")
    Event: list[str] = Field(
        min_length=1,
        description="click_ad, click_carrousel, phone_call, send_email or send_sms; other "
        "values are counted as 'other', with a warning.",
    )
    Category: list[str] = Field(
        min_length=1,
        description="Phone, Motor, Jobs, Leisure, Holidays or Real_State; other values are "
        "counted as 'other', with a warning.",
    )
    Fake: list[Literal[0, 1]] | None = Field(
        None, description="Optional label of each row: 1 fake user, 0 real user."
    )
    Timestamp: list[str] | None = Field(
        None,
        description="Optional time of each row: ISO 8601 (2026-11-24T10:00:03Z) or epoch "
        "seconds. Needed by models trained with timestamps (card: vocabulary.timestamps).",
    )

    @model_validator(mode="after")
    def _rows_line_up(self) -> PredictRequest:
        columns = self.columns()
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name} has {n:,}" for name, n in lengths.items())
            raise PydanticCustomError(
                "unequal_columns",
                "The columns must have one value per row, so the same length: {shown}. "
                "Send equally long arrays.",
                {"shown": shown},
            )
        for name, values in columns.items():
            if name != "Fake" and any("\x00" in v for v in values):
                i = next(i for i, v in enumerate(values) if "\x00" in v)
                raise PydanticCustomError(
                    "nul_character",
                    "{name}[{i}] contains a NUL character (\\u0000), which no log value may "
                    "hold. Remove it.",
                    {"name": name, "i": i},
                )
        return self

    def columns(self) -> dict[str, list]:
        """The log's columns that were sent, in file order."""
        names = ("UserId", "Event", "Category", "Fake", "Timestamp")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


class PredictResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "logistic-20261124",
                    "UserId": ["42926269", "56620948"],
                    "is_fake_probability": [0.31, 0.02],
                    "flagged": [True, False],
                    "threshold": 0.1,
                    "n_flagged": 1,
                    "expected_cost": 0.87,
                    "warnings": [],
                }
            ]
        }
    )

    model: str = Field(description="The model that scored the log.")
    UserId: list[str] = Field(
        description="Each distinct user once, in order of first appearance in the log "
        "(IDs as read: surrounding spaces removed)."
    )
    is_fake_probability: list[float] = Field(
        description="Calibrated probability that the user is fake, aligned with UserId."
    )
    flagged: list[bool] | None = Field(
        None, description="Whom to flag, aligned with UserId. Only with costs or top_k."
    )
    threshold: float | None = Field(
        None,
        description="M / (M + F): users with p >= threshold are flagged. Only with costs or "
        "top_k; null in top_k mode.",
    )
    n_flagged: int | None = Field(None, description="How many users are flagged.")
    expected_cost: float | None = Field(
        None,
        description="The cost the probabilities predict for these flags: sum of (1 - p) * M "
        "over flagged users plus p * F over the others. Only with costs.",
    )
    warnings: list[str] = Field(
        description="What looked wrong in the log but did not stop it from being read."
    )


class ModelCard(BaseModel):
    """A model card as the store keeps it (``model.json``); extra keys may appear."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="The model name.")
    created: str | None = Field(None, description="When it was saved (UTC, ISO 8601).")
    model_type: str | None = Field(None, description="One of: " + ", ".join(MODEL_TYPES) + ".")
    params: dict[str, Any] | None = Field(None, description="The estimator's parameters.")
    vocabulary: dict[str, Any] | None = Field(
        None, description="The events and categories the model knows, and whether it uses time."
    )
    features: list[str] | None = Field(None, description="The per-user features, in order.")
    training: dict[str, Any] | None = Field(
        None,
        description="The training log: files, fingerprint_sha256, rows, users, fake_share, "
        "timestamps.",
    )
    cv: dict[str, Any] | None = Field(
        None,
        description="Cross-validated metrics over users: roc_auc, average_precision, brier, "
        "log_loss and a 10-bin reliability table.",
    )
    bundle_sha256: str | None = Field(None, description="sha256 of the fitted bundle.")
    versions: dict[str, str] | None = Field(None, description="Library versions at training.")
    error: str | None = Field(
        None, description="Only on models that cannot be used: why, and what to do."
    )


class TrainResponse(ModelCard):
    warnings: list[str] = Field(
        description="What looked wrong in the training log (not stored in the card)."
    )


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "The multipart body is malformed.",
        404: "No such model.",
        409: "The model exists (train) or cannot be used (predict).",
        413: "The request, or a log after gunzip, is larger than the server accepts.",
        415: "The body is neither JSON, CSV nor multipart.",
        422: "A log, option or name that cannot be used.",
        503: "The model store cannot be read or written.",
    }
    return {
        s: {
            "model": ValidationErrorResponse if s == 422 else ErrorResponse,
            "description": described[s],
        }
        for s in statuses
    }


class _Models:
    """The model store as the API uses it, with loaded models cached by bundle sha256."""

    def __init__(self, store: ModelStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[str, TrainedModel]] = OrderedDict()

    def list(self) -> list[dict[str, Any]]:
        try:
            return self.store.list()
        except FakeusersError as exc:
            raise HTTPException(503, str(exc)) from exc

    def card(self, name: str) -> dict[str, Any]:
        validate_name(name)
        try:
            return self.store.card(name)
        except FakeusersError as exc:
            raise self._unusable(name, exc) from exc

    def resolve(self, requested: str | None) -> tuple[str, TrainedModel]:
        """The requested model, or the newest, loaded (from the cache when unchanged)."""
        name = requested if requested is not None else self._newest()
        sha = self.card(name).get("bundle_sha256")
        with self._lock:
            cached = self._cache.get(name)
            if cached is not None and cached[0] == sha:
                self._cache.move_to_end(name)
                return name, cached[1]
        try:
            bundle, card = self.store.load(name)
        except FakeusersError as exc:
            raise self._unusable(name, exc) from exc
        if not isinstance(bundle, TrainedModel):
            raise HTTPException(
                409,
                f"Model '{name}' holds a {type(bundle).__name__}, not a fakeusers model. "
                f"Retrain it with `python -m fakeusers train LOGS --name {name}`.",
            )
        with self._lock:
            self._cache[name] = (card["bundle_sha256"], bundle)
            self._cache.move_to_end(name)
            while len(self._cache) > _MODELS_CACHED:
                self._cache.popitem(last=False)
        return name, bundle

    def exists(self, name: str) -> bool:
        return self.store.exists(name)

    def save(self, name: str, model: TrainedModel) -> dict[str, Any]:
        try:
            return self.store.save(name, model, model.card())
        except FakeusersError as exc:
            raise HTTPException(503, str(exc)) from exc

    def _newest(self) -> str:
        name = next((e["name"] for e in self.list() if "error" not in e), None)
        if name is None:
            raise HTTPException(
                404,
                f"No models in {self.store.root}. Train one first: POST /train with a labelled "
                "CSV, or python -m fakeusers train LOGS.csv --name NAME",
            )
        return name

    def _unusable(self, name: str, exc: FakeusersError) -> HTTPException:
        """404 when there is no such model; 409 when it exists but cannot be used."""
        missing = not (self.store.root / name / "model.json").is_file()
        return HTTPException(404 if missing else 409, str(exc))


def _max_bytes(value: int | None) -> int:
    if value is None:
        text = os.environ.get(MAX_BYTES_ENV, "").strip()
        if not text:
            return DEFAULT_MAX_BYTES
        try:
            value = int(text)
        except ValueError:
            raise FakeusersError(
                f"{MAX_BYTES_ENV} is {text!r}; set it to a whole number of bytes, such as "
                f"{DEFAULT_MAX_BYTES}, or unset it for the default."
            ) from None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FakeusersError(
            f"The request size limit must be a positive whole number of bytes; got {value!r}."
        )
    return value


def _too_large(limit: int, what: str) -> str:
    return (
        f"{what} is larger than this server accepts ({limit:,} bytes, "
        f"{limit / 2**20:,.0f} MB). Split the log into smaller files and send them one at a "
        f"time, or raise {MAX_BYTES_ENV} on the server."
    )


class _BodyLimit:
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
            response = JSONResponse({"detail": _too_large(self.limit, "The request")}, 413)
            await response(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, _too_large(self.limit, "The request"))
            return message

        await self.app(scope, counting_receive, send)


def _bounded_sources(sources: list[tuple[str, bytes]], limit: int) -> list[tuple[str, bytes]]:
    """The sources with gzip undone, refused with a 413 when together they exceed ``limit``.

    The reader's own bounded gunzip does the work, so a small bomb cannot fill memory; a
    damaged gzip is passed on unchanged for the reader to refuse in its own words.
    """
    out = []
    budget = limit
    for name, data in sources:
        plain = data
        if data[:2] == _GZIP_MAGIC:
            try:
                plain = gunzip(name, data, budget)
            except InputTooLargeError:
                raise HTTPException(413, _too_large(limit, f"{name}, decompressed,")) from None
            except FakeusersError:
                plain = data
        if len(plain) > budget:
            raise HTTPException(413, _too_large(limit, f"{name}, decompressed,"))
        budget -= len(plain)
        out.append((name, plain))
    return out


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


def _merge_options(query: PredictOptions, body: PredictOptions) -> PredictOptions:
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


def _check_decision(options: PredictOptions) -> None:
    given = (options.cost_fp is not None, options.cost_fn is not None)
    if any(given) and not all(given):
        raise FakeusersError(
            "Give both costs: cost_fp (M, blocking a real user) and cost_fn (F, missing a "
            "fake user)."
        )
    if options.top_k is not None and all(given):
        raise FakeusersError("Use either cost_fp/cost_fn or top_k, not both.")
    if all(given):
        cost_threshold(options.cost_fp, options.cost_fn)  # refuses both zero, before any work
    if options.model is not None:
        validate_name(options.model)


def _predict(
    models: _Models, sources: list[tuple[str, bytes]], options: PredictOptions, limit: int
) -> PredictResponse:
    _check_decision(options)
    name, model = models.resolve(options.model)
    log = read_logs(_bounded_sources(sources, limit))
    scores = score(model, log)
    p = scores["is_fake_probability"].to_numpy(dtype=np.float64)
    result: dict[str, Any] = {
        "model": name,
        "UserId": scores["UserId"].astype(str).tolist(),
        "is_fake_probability": p.tolist(),
        "warnings": list(log.report.warnings),
    }
    if options.top_k is not None:
        flagged = flag_top_k(p, options.top_k)
        result.update(flagged=flagged.tolist(), threshold=None, n_flagged=int(flagged.sum()))
    elif options.cost_fp is not None:
        d = decide(p, cost_fp=options.cost_fp, cost_fn=options.cost_fn)
        result.update(
            flagged=d.flagged.tolist(),
            threshold=d.threshold,
            n_flagged=d.n_flagged,
            expected_cost=d.expected_cost,
        )
    return PredictResponse.model_construct(**result)


def _predict_json(
    models: _Models, body: bytes, query: PredictOptions, limit: int
) -> PredictResponse:
    try:
        parsed = PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise _invalid_body(exc) from None
    sources = [(_JSON_BODY, _csv_bytes(parsed))]
    return _predict(models, sources, _merge_options(query, parsed), limit)


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


def _upload_name(filename: str | None) -> str:
    """The name messages use for an upload: its file name without any folder."""
    return Path(filename or "").name or "uploaded file"


async def _upload_sources(form: FormData) -> list[tuple[str, bytes]]:
    sources = []
    for part in form.getlist("file"):
        if isinstance(part, StarletteUploadFile):
            sources.append((_upload_name(part.filename), await part.read()))
        else:  # a text field (curl -F 'file=<log.csv') rather than a file
            sources.append((_upload_name(None), part.encode("utf-8")))
    if not sources:
        raise FakeusersError(
            "No log in the form: send the CSV as a file field named 'file' "
            "(curl -F file=@log.csv ...)."
        )
    return sources


def _predict_body_doc() -> dict[str, Any]:
    options = PredictOptions.model_json_schema()["properties"]
    return {
        "required": True,
        "description": "The log, in one of three forms. Options (model, cost_fp, cost_fn, "
        "top_k) go in the JSON object or form fields, or in the query string; each at most "
        "once.",
        "content": {
            "application/json": {"schema": PredictRequest.model_json_schema()},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A CSV log with header UserId,Event,Category[,Fake]"
                    "[,Timestamp]; plain or gzip-compressed.",
                },
                "example": "UserId,Event,Category\n42926269,click_ad,Motor\n"
                "42926269,send_email,Motor\n56620948,phone_call,Jobs\n",
            },
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more CSV logs (plain or .csv.gz), read "
                            "as one log.",
                        },
                        **options,
                    },
                    "additionalProperties": False,
                }
            },
        },
    }


def create_app(models_dir: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None):
    """Build the API over one model store.

    Parameters
    ----------
    models_dir : str or path-like, optional
        The model store; default ``$FAKEUSERS_MODELS_DIR``, else ``./models``.
    max_bytes : int, optional
        The largest request body, and the largest log after gunzip, in bytes. Default
        ``$FAKEUSERS_API_MAX_BYTES``, else 100 MB.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    FakeusersError
        If the size limit is not a positive whole number.

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> TestClient(create_app("models")).get("/health").json()  # doctest: +SKIP
    {'status': 'ok', 'version': '0.1.0'}
    """
    limit = _max_bytes(max_bytes)
    models = _Models(ModelStore(models_dir))
    # FastAPIOffline serves the Swagger UI and ReDoc assets from the package itself: /docs
    # works on a machine with no internet, where the CDN FastAPI links to is unreachable.
    app = FastAPIOffline(
        title="fakeusers",
        version=fakeusers.__version__,
        summary="Find the fake users in a marketplace's click logs and decide, in money, whom "
        "to block.",
        description=DESCRIPTION,
    )
    app.add_middleware(_BodyLimit, limit=limit)
    app.state.models = models
    app.state.max_bytes = limit

    @app.exception_handler(FakeusersError)
    async def _fakeusers_error(request: Request, exc: FakeusersError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(InputTooLargeError)
    async def _too_large_error(request: Request, exc: InputTooLargeError) -> JSONResponse:
        return JSONResponse(status_code=413, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
                "msg": e["msg"],
                "type": e["type"],
            }
            for e in exc.errors()
        ]
        shown = "; ".join(f"{_where(e['loc'])}: {e['msg'].rstrip('.')}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        detail = f"The request is not valid: {shown}{more}. See /docs for the expected shape."
        return JSONResponse(status_code=422, content={"detail": detail, "errors": errors})

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback after this response; the client still gets JSON.
        detail = "Internal error: this is a bug in fakeusers. The server log has the details."
        return JSONResponse(status_code=500, content={"detail": detail})

    @app.exception_handler(MemoryError)
    async def _out_of_memory(request: Request, exc: MemoryError) -> JSONResponse:
        detail = "Not enough memory for this log on the server; split it into smaller files."
        return JSONResponse(status_code=413, content={"detail": detail})

    @app.get("/health", response_model=Health, tags=["service"], summary="Is the server up?")
    def health() -> Health:
        return Health(status="ok", version=fakeusers.__version__)

    @app.get(
        "/models",
        response_model=None,
        tags=["models"],
        summary="List the model cards, newest first",
        responses={
            200: {"model": list[ModelCard], "description": "Broken models carry 'error'."},
            **_errors(503),
        },
    )
    def list_models() -> JSONResponse:
        return JSONResponse(models.list())

    @app.get(
        "/models/{name}",
        response_model=None,
        tags=["models"],
        summary="One model's card",
        responses={200: {"model": ModelCard}, **_errors(404, 409, 422)},
    )
    def model_card(name: str) -> JSONResponse:
        return JSONResponse(models.card(name))

    @app.post(
        "/predict",
        response_model=PredictResponse,
        response_model_exclude_unset=True,
        tags=["scoring"],
        summary="Probability that each user is fake, and whom to flag",
        description="One entry per distinct user, in order of first appearance. With "
        "cost_fp and cost_fn, users with p >= M / (M + F) are flagged; with top_k, the K "
        "most likely fakes.",
        openapi_extra={"requestBody": _predict_body_doc()},
        responses=_errors(400, 404, 409, 413, 415, 422, 503),
    )
    async def predict(
        request: Request, query: Annotated[PredictOptions, Query()]
    ) -> PredictResponse:
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type == "application/json" or media_type.endswith("+json"):
            # Parsing a large body takes time: in the thread pool, like the scoring.
            body = await request.body()
            return await run_in_threadpool(_predict_json, models, body, query, limit)
        if media_type in _CSV_TYPES:
            sources = [(_CSV_BODY, await request.body())]
            options = query
        elif media_type == "multipart/form-data":
            form = await request.form(max_part_size=limit)
            try:
                sources = await _upload_sources(form)
                options = _merge_options(query, _form_options(form))
            finally:
                await form.close()
        else:
            shown = f"'{media_type}'" if media_type else "none"
            raise HTTPException(
                415,
                f"Content-Type is {shown}. Send the log as application/json (columns as "
                "arrays), text/csv (the CSV file as the body) or multipart/form-data (a file "
                "field named 'file'), e.g. curl -H 'Content-Type: text/csv' --data-binary "
                "@log.csv ...",
            )
        return await run_in_threadpool(_predict, models, sources, options, limit)

    @app.post(
        "/train",
        status_code=201,
        response_model=None,
        tags=["models"],
        summary="Train a model on a labelled log and save it",
        description="Cross-validates and fits the model (this takes seconds to minutes), "
        "saves it in the store and returns its card. The log needs a Fake column.",
        responses={201: {"model": TrainResponse}, **_errors(400, 409, 413, 422, 503)},
    )
    def train_model(
        file: Annotated[
            list[UploadFile],
            File(description="One or more labelled CSV logs (plain or .csv.gz), read as one."),
        ],
        name: Annotated[
            str | None,
            Form(
                description="Model name: 1-64 letters, digits, '.', '_' or '-'. Default: "
                "TYPE-DATE-TIME.",
                examples=["logistic-nov"],
            ),
        ] = None,
        model: Annotated[ModelType, Form(description="Model type.")] = DEFAULT_MODEL,
        seed: Annotated[int, Form(description="Seeds the folds and the boosting.")] = 0,
        replace: Annotated[bool, Form(description="Overwrite a model of the same name.")] = False,
    ) -> JSONResponse:
        name = validate_name(name or f"{model}-{time.strftime('%Y%m%d-%H%M%S')}")
        if not replace and models.exists(name):
            raise HTTPException(
                409,
                f"Model '{name}' already exists. Choose another name, or send replace=true "
                "to overwrite it.",
            )
        sources = [(_upload_name(f.filename), f.file.read()) for f in file]
        log = read_logs(_bounded_sources(sources, limit))
        _log.info("Training %s model '%s' on %s", model, name, ", ".join(log.report.files))
        trained = train(log, model, random_state=seed, progress=_log.info)
        card = models.save(name, trained)
        return JSONResponse(
            {**card, "warnings": list(log.report.warnings)},
            status_code=201,
            headers={"Location": f"/models/{name}"},
        )

    return app


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


def serve(
    host: str = "127.0.0.1", port: int = 8000, models_dir: str | os.PathLike[str] | None = None
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
    """
    import uvicorn

    app = create_app(models_dir)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    _log.info(
        "Models in %s; docs at /docs; requests up to %s bytes.",
        app.state.models.store.root,
        f"{app.state.max_bytes:,}",
    )
    uvicorn.run(app, host=host, port=port)
