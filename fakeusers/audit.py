"""The audit trail: who did what, when, on which model, at which costs.

Every verdict, revert and import of verdicts, every download of a flagged list, every
training, save and promotion is one row of the ``audit`` table of the review database
(:mod:`fakeusers.database`): the actor (an analyst's name, verified or not, or an API key's
name), the time, the action, the model (``name@version``), the costs, the threshold, how many
users, the sha256 of a file, and details in words. Rows are only ever added.

Examples
--------
>>> trail = AuditTrail(Database())  # doctest: +SKIP
>>> trail.record("download", Actor("ana"), model="june@2", count=352)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from fakeusers.database import Database, tables
from fakeusers.errors import FakeusersError

__all__ = ["ACTIONS", "Actor", "AuditTrail"]

#: Every action the trail records.
ACTIONS = ("verdict", "revert", "import", "download", "train", "save", "promote", "key")
#: Columns of :meth:`AuditTrail.entries`, in order.
COLUMNS = (
    "at",
    "actor",
    "actor_verified",
    "action",
    "model",
    "cost_fp",
    "cost_fn",
    "threshold",
    "count",
    "sha256",
    "detail",
)
_MAX_NAME = 200


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in identity or API key (``verified``), or a name typed in.

    Examples
    --------
    >>> Actor.named("  Ana  ")
    Actor(name='Ana', verified=False)
    """

    name: str
    verified: bool = False

    @classmethod
    def named(cls, name: str | None, *, verified: bool = False) -> Actor:
        """An actor from a name as typed; refused when empty or too long."""
        name = (name or "").strip()
        if not name:
            raise FakeusersError(
                "Say who you are first: type your name (it is recorded with every verdict)."
            )
        if len(name) > _MAX_NAME or any(c in name for c in "\r\n\t\0"):
            raise FakeusersError(
                f"A name must be one line of at most {_MAX_NAME} characters; got {name[:40]!r}."
            )
        return cls(name, verified)


def now() -> dt.datetime:
    """The time recorded with an action: UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


class AuditTrail:
    """The audit trail of one review database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        action: str,
        actor: Actor,
        *,
        model: str | None = None,
        cost_fp: float | None = None,
        cost_fn: float | None = None,
        threshold: float | None = None,
        count: int | None = None,
        sha256: str | None = None,
        detail: str = "",
        conn: Connection | None = None,
    ) -> None:
        """Add one row; inside ``conn``'s transaction when given (with the change it
        records), else in its own."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")
        row = {
            "at": now(),
            "actor": actor.name,
            "actor_verified": actor.verified,
            "action": action,
            "model": model,
            "cost_fp": cost_fp,
            "cost_fn": cost_fn,
            "threshold": threshold,
            "count": count,
            "sha256": sha256,
            "detail": detail,
        }
        if conn is not None:
            conn.execute(tables.audit.insert(), row)
            return
        with self.db.begin() as own:
            own.execute(tables.audit.insert(), row)

    def entries(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """The trail, newest first, filtered; columns :data:`COLUMNS`."""
        t = tables.audit
        query = sa.select(*(t.c[name] for name in COLUMNS)).order_by(t.c.id.desc())
        if action:
            query = query.where(t.c.action == action)
        if actor:
            query = query.where(t.c.actor == actor)
        if since is not None:
            query = query.where(t.c.at >= since)
        if until is not None:
            query = query.where(t.c.at < until)
        if limit is not None:
            query = query.limit(limit)
        with self.db.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(COLUMNS))
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
        return frame

    def to_csv(self, *, for_spreadsheets: bool = True, **filters: object) -> bytes:
        """:meth:`entries` as CSV (text cells neutralised for spreadsheets by default)."""
        from fakeusers.export import to_csv

        frame = self.entries(**filters)  # type: ignore[arg-type]
        frame["at"] = frame["at"].map(lambda t: t.isoformat(timespec="seconds"))
        return to_csv(frame, for_spreadsheets=for_spreadsheets)
