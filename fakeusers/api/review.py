"""``/verdicts``: analysts' verdicts, read and recorded over HTTP.

The same rules as the command line's ``review import`` (:mod:`fakeusers.verdicts`): a JSON
list or a CSV file ``UserId,verdict[,note]``; every entry is checked first and a request with
any bad entry records nothing (422, naming the entries).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from fakeusers.api.auth import needs
from fakeusers.api.errors import responses
from fakeusers.audit import Actor
from fakeusers.database import Database
from fakeusers.errors import FakeusersError
from fakeusers.keys import ApiKey
from fakeusers.verdicts import NewVerdict, VerdictStore, check, parse_verdicts

__all__ = ["get_db", "router"]

router = APIRouter(tags=["review"])


def get_db(request: Request) -> Database:
    """The app's review database (see :func:`fakeusers.api.create_app`)."""
    return request.app.state.db


Db = Annotated[Database, Depends(get_db)]
Kind = Literal["fake", "real"]


class VerdictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    UserId: str = Field(min_length=1, description="The user, as in the logs.")
    verdict: Kind = Field(description="fake (a confirmed bot) or real (a false alarm).")
    note: str = Field("", max_length=2_000, description="Why, for the next analyst.")


class VerdictsRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "analyst": "ana",
                    "verdicts": [
                        {"UserId": "42926269", "verdict": "fake", "note": "40 emails a minute"},
                        {"UserId": "56620948", "verdict": "real"},
                    ],
                }
            ]
        },
    )

    analyst: str = Field(min_length=1, max_length=200, description="Who decided (unverified).")
    verdicts: list[VerdictIn] = Field(min_length=1)


class Recorded(BaseModel):
    recorded: int = Field(description="Verdicts recorded.")
    fake: int
    real: int


class VerdictOut(BaseModel):
    UserId: str
    verdict: Kind
    note: str
    analyst: str
    analyst_verified: bool
    time: dt.datetime
    model: str | None = Field(description="NAME@VERSION the analyst saw, if known.")


class VerdictsResponse(BaseModel):
    verdicts: list[VerdictOut] = Field(description="The verdict that holds per user.")


@router.get(
    "/verdicts",
    dependencies=[needs("review")],
    response_model=VerdictsResponse,
    summary="The verdict that holds for each user",
    responses=responses(503),
)
async def list_verdicts(
    db: Db,
    user_id: Annotated[str | None, Query(alias="UserId", description="Only this user.")] = None,
) -> VerdictsResponse:
    wanted = None if user_id is None else [user_id]
    held = await run_in_threadpool(VerdictStore(db).latest, wanted)
    return VerdictsResponse(
        verdicts=[
            VerdictOut(
                UserId=v.user_id,
                verdict=v.verdict,
                note=v.note,
                analyst=v.analyst,
                analyst_verified=v.analyst_verified,
                time=v.created_at,
                model=v.model,
            )
            for v in sorted(held.values(), key=lambda v: v.id)
        ]
    )


@router.post(
    "/verdicts",
    status_code=201,
    response_model=Recorded,
    summary="Record verdicts: JSON, or a CSV body UserId,verdict[,note]",
    description="JSON `{analyst, verdicts: [{UserId, verdict, note}]}`, or a `text/csv` body "
    "with `analyst` (and, for a block or allow list of IDs only, `as=fake|real`) in the query "
    "string. All or nothing: one bad entry refuses the request (422, naming the entries).",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/VerdictsRequest"},
                },
                "text/csv": {"schema": {"type": "string"}},
            },
            "required": True,
        }
    },
    responses=responses(413, 415, 422, 503),
)
async def record_verdicts(
    request: Request,
    db: Db,
    key: Annotated[ApiKey | None, needs("review")],
    analyst: Annotated[str | None, Query(description="Who decided (CSV bodies).")] = None,
    as_: Annotated[
        Kind | None, Query(alias="as", description="Block (fake) or allow (real) list.")
    ] = None,
) -> Recorded:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if kind == "application/json":
        try:
            parsed = VerdictsRequest.model_validate_json(body)
        except ValidationError as exc:  # in the words of every other 422, with the places
            errors = exc.errors(include_url=False)
            places = [{**e, "loc": ("body", *e["loc"])} for e in errors]
            raise RequestValidationError(places) from None
        entries = [NewVerdict(v.UserId.strip(), v.verdict, v.note.strip()) for v in parsed.verdicts]
        problems = [
            f"verdicts[{i}]: {problem}"
            for i, problem in enumerate(map(check, entries))
            if problem is not None
        ]
        if problems:
            raise FakeusersError(f"Nothing was recorded: {'; '.join(problems[:10])}.")
        who = parsed.analyst
    elif kind in ("text/csv", "text/plain"):
        entries = parse_verdicts(body, "the CSV body", verdict=as_)
        if analyst is None:
            raise FakeusersError("Say who decided: add ?analyst=NAME to the URL.")
        who = analyst
    else:
        raise HTTPException(
            415,
            f"Content-Type is {kind or 'none'}. Send application/json ({{analyst, verdicts}}) "
            "or text/csv (UserId,verdict[,note], with ?analyst=NAME).",
        )
    # With keys, the key's name is who acts (verified); the analyst named is kept as a note.
    actor = Actor.named(who) if key is None else Actor(key.name, verified=True)
    said = f"analyst named in the request: {who}" if key is not None else ""
    n = await run_in_threadpool(
        functools.partial(VerdictStore(db).record, source="api", detail=said), entries, actor
    )
    fake = sum(e.verdict == "fake" for e in entries)
    return Recorded(recorded=n, fake=fake, real=n - fake)
