"""The endpoints: thin shells around the one scoring path, the training path and the store.

Each route parses its request, calls the library (:func:`fakeusers.scoring.score_sources`,
:func:`fakeusers.training.train_and_save`, :class:`fakeusers.store.ModelStore`) and renders
what it returns. Errors are the library's typed errors, answered by :mod:`.errors`; the store
and the size limit come from the app's state through dependencies.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

import fakeusers
from fakeusers import DEFAULT_MODEL
from fakeusers.api.auth import needs
from fakeusers.api.bodies import bounded_sources, predict_body, upload_sources
from fakeusers.api.budgets import Reservation
from fakeusers.api.errors import responses
from fakeusers.api.review import Db
from fakeusers.api.schemas import (
    OVERLAPS_DOC,
    Applicability,
    Health,
    ModelCard,
    ModelType,
    Overlaps,
    PredictOptions,
    PredictResponse,
    Reason,
    TrainResponse,
    predict_body_doc,
)
from fakeusers.database import Database
from fakeusers.scoring import Rule, ScoredLog, score_sources
from fakeusers.store import ModelStore
from fakeusers.training import train_and_save
from fakeusers.verdicts import held_verdicts

__all__ = ["router"]

_log = logging.getLogger("fakeusers.api")

router = APIRouter()


def get_store(request: Request) -> ModelStore:
    """The app's model store (one per app, see :func:`fakeusers.api.create_app`)."""
    return request.app.state.store


def get_limit(request: Request) -> int:
    """The app's size limit in bytes, for request bodies and logs after gunzip."""
    return request.app.state.max_bytes


Store = Annotated[ModelStore, Depends(get_store)]
Limit = Annotated[int, Depends(get_limit)]
Ref = Annotated[
    str,
    Path(
        description="NAME (its current version) or NAME@VERSION.",
        examples=["june", "june@2"],
    ),
]


@router.get("/health", response_model=Health, tags=["service"], summary="Is the server up?")
def health() -> Health:
    return Health(status="ok", version=fakeusers.__version__)


# --- models -----------------------------------------------------------------------------------


@router.get(
    "/models",
    dependencies=[needs("predict")],
    response_model=None,
    tags=["models"],
    summary="List the models, newest first",
    description="One card per name (its current version), with `default` and `n_versions`; "
    "a model that cannot be used carries `error` instead of failing the list.",
    responses={200: {"model": list[ModelCard]}, **responses(503)},
)
def list_models(store: Store) -> JSONResponse:
    return JSONResponse(store.list())


@router.get(
    "/models/{ref}",
    dependencies=[needs("predict")],
    response_model=None,
    tags=["models"],
    summary="One model's card",
    responses={200: {"model": ModelCard}, **responses(404, 409, 422, 503)},
)
def model_card(ref: Ref, store: Store) -> JSONResponse:
    return JSONResponse(store.card(ref))


@router.get(
    "/models/{name}/versions",
    dependencies=[needs("predict")],
    response_model=None,
    tags=["models"],
    summary="Every version of one model, newest first",
    description="Saving under a taken name with `replace=true` adds a version and keeps the "
    "earlier ones. `current` marks the version NAME alone means; `default` the store's "
    "default model.",
    responses={200: {"model": list[ModelCard]}, **responses(404, 409, 422, 503)},
)
def model_versions(
    name: Annotated[str, Path(description="The model name.", examples=["june"])], store: Store
) -> JSONResponse:
    return JSONResponse(store.versions(name))


@router.post(
    "/models/{ref}/promote",
    dependencies=[needs("admin")],
    response_model=None,
    tags=["models"],
    summary="Make a model the default",
    description="`/predict` without `model` then uses this model; NAME means its current "
    "version. A model that cannot be used is refused. Returns the model's card.",
    responses={200: {"model": ModelCard}, **responses(404, 409, 422, 503)},
)
def promote_model(ref: Ref, store: Store) -> JSONResponse:
    return JSONResponse(store.promote(ref, by=f"POST /models/{ref}/promote (REST API)"))


@router.post(
    "/train",
    dependencies=[needs("admin")],
    status_code=201,
    response_model=None,
    tags=["models"],
    summary="Train a model on a labelled log and save it",
    description="Cross-validates and fits the model (this takes seconds to minutes), saves "
    "it in the store and returns its card. The log needs a Fake column. A taken name is "
    "refused (409) unless `replace=true`, which saves the model as the name's next version. "
    "The first model of a store becomes its default; later ones are promoted with "
    "POST /models/{ref}/promote.",
    responses={201: {"model": TrainResponse}, **responses(400, 409, 413, 422, 429, 503)},
)
def train_model(
    request: Request,
    store: Store,
    limit: Limit,
    file: Annotated[
        list[UploadFile],
        File(description="One or more labelled logs (CSV, .csv.gz or .parquet), read as one."),
    ],
    name: Annotated[
        str | None,
        Form(
            description="Model name: 1-64 letters, digits, '.', '_' or '-'. Default: "
            "TYPE-DATE-TIME.",
            examples=["june"],
        ),
    ] = None,
    model: Annotated[ModelType, Form(description="Model type.")] = DEFAULT_MODEL,
    seed: Annotated[int, Form(description="Seeds the folds and the boosting.")] = 0,
    replace: Annotated[
        bool,
        Form(
            description="Save as the next version of a model of this name (earlier versions "
            "are kept) instead of refusing the name."
        ),
    ] = False,
    ignore_timestamps: Annotated[
        bool,
        Form(
            description="Do not use the Timestamp column, so the model can score logs without "
            "timestamps."
        ),
    ] = False,
    overlaps: Annotated[Overlaps, Form(description=OVERLAPS_DOC)] = "keep_one",
) -> JSONResponse:
    memory = request.app.state.memory
    # Refused before the logs are read: too many trainings, or not enough memory for this one.
    with (
        request.app.state.trainings.taken(),
        memory.reserve(memory.cost(_body_size(request, limit), "training"), "training") as held,
    ):
        sources, size = bounded_sources(upload_sources(file), limit)
        held.grow(memory.cost(size, "training"))
        return _train(store, sources, name, model, seed, replace, ignore_timestamps, overlaps)


def _body_size(request: Request, limit: int) -> int:
    """The request body's declared size; the size limit when it is not declared."""
    declared = request.headers.get("content-length", "")
    return min(int(declared), limit) if declared.isdigit() else limit


def _logged(stage: str, done: float, eta_seconds: float | None) -> None:
    _log.info("POST /train: %s (%.0f%% done)", stage, 100 * done)


def _train(store, sources, name, model, seed, replace, ignore_timestamps, overlaps):
    _log.info("POST /train: %s model %s", model, repr(name) if name else "(default name)")
    card, log = train_and_save(
        sources,
        store=store,
        name=name or None,  # an HTML form sends an empty field as ""
        model_type=model,
        seed=seed,
        use_timestamps=not ignore_timestamps,
        replace=replace,
        progress=_logged,
        overlaps=overlaps,
    )
    return JSONResponse(
        {**card, "warnings": list(log.report.warnings)},
        status_code=201,
        headers={"Location": f"/models/{card['name']}@{card['version']}"},
    )


# --- scoring ----------------------------------------------------------------------------------


@router.post(
    "/predict",
    dependencies=[needs("predict")],
    response_model=PredictResponse,
    response_model_exclude_unset=True,
    tags=["scoring"],
    summary="Probability that each user is fake, and whom to flag",
    description="One entry per distinct user, in order of first appearance. With cost_fp "
    "and cost_fn, users with p >= M / (M + F) are flagged; with top_k, the K most likely "
    "fakes; with threshold, users with p >= threshold. On the model's own training log the "
    "probabilities are its out-of-fold ones "
    "(`out_of_fold`, `notes`). `applicability` says whether the model fits the log: on a "
    "log unlike the training log (`does_not_fit`) the flags and the expected cost are "
    "unreliable.",
    openapi_extra={"requestBody": predict_body_doc()},
    responses=responses(400, 404, 409, 413, 415, 422, 429, 503),
)
async def predict(
    request: Request,
    query: Annotated[PredictOptions, Query()],
    store: Store,
    limit: Limit,
    db: Db,
) -> PredictResponse:
    memory = request.app.state.memory
    media_type = request.headers.get("content-type", "")
    kind = "json" if "json" in media_type.split(";")[0] else "csv"
    # Refused before the body is read: too many scorings, or not enough memory for this one.
    with (
        request.app.state.scorings.taken(),
        memory.reserve(memory.cost(_body_size(request, limit), kind), "scoring this log") as held,
    ):
        sources, options = await predict_body(request, query, limit)
        return await run_in_threadpool(_predict, store, db, sources, options, limit, held)


def _predict(
    store: ModelStore,
    db: Database,
    sources: list[tuple[str, bytes]],
    options: PredictOptions,
    limit: int,
    held: Reservation,
) -> PredictResponse:
    # The rule and the model are checked before the log is read: a wrong option fails at
    # once, and the version is pinned, so a promotion meanwhile does not switch models.
    rule = Rule.of(options.cost_fp, options.cost_fn, options.top_k, options.threshold)
    name, version = store.resolve(options.model)
    logs, size = bounded_sources(sources, limit)
    held.grow(held.budget.cost(size, "csv"))  # after gunzip, Parquet as decoded
    verdicts, problem = held_verdicts(db) if rule is not None else ({}, None)
    scored = score_sources(
        logs,
        store=store,
        model=f"{name}@{version}",
        rule=rule,
        verdicts=verdicts,
        overlaps=options.overlaps or "keep_one",
    )
    rendered = _rendered(scored, reasons=bool(options.reasons))
    if problem:
        rendered["warnings"].append(problem)
    return PredictResponse.model_construct(**rendered)


def _rendered(scored: ScoredLog, *, reasons: bool = False) -> dict[str, Any]:
    """The fields of a ``/predict`` answer; decision fields only with a rule."""
    result: dict[str, Any] = {
        "model": scored.model_ref,
        "UserId": scored.user_ids.tolist(),
        "is_fake_probability": scored.p.tolist(),
        "out_of_fold": scored.out_of_fold,
        "notes": scored.notes(),
        "warnings": list(scored.log.report.warnings),
        "applicability": Applicability.model_construct(**scored.applicability.to_dict()),
    }
    decision = scored.decision
    if decision is not None:
        result.update(
            flagged=decision.flagged.tolist(),
            why=scored.why.tolist(),
            threshold=decision.threshold,
            n_flagged=decision.n_flagged,
        )
        if scored.rule.has_costs:
            result["expected_cost"] = decision.expected_cost
            result["expected_cost_interval"] = list(decision.expected_cost_interval)
    if reasons:
        everyone = np.arange(scored.n_users)
        result["reasons"] = [
            [Reason.model_construct(**r.to_dict()) for r in rs] for rs in scored.reasons(everyone)
        ]
    return result
