"""Verdicts: an analyst's decision about one user, kept in the review database.

A verdict is ``fake`` (a confirmed bot) or ``real`` (a false alarm, cleared), with an optional
note, the analyst, the time, and the model, probability and threshold the analyst saw. The
history of a user is kept: the **latest** verdict wins, and any verdict can be **reverted**
with a reason, which brings back the one before it (or none). Verdicts act on every decision
through the scoring service (:func:`fakeusers.scoring.score_log`): a confirmed fake is always
flagged, a cleared user never.

Lists come in as CSV (:func:`parse_verdicts`): ``UserId,verdict[,note]``, or a block or allow
list of IDs with one verdict for all. A file with any bad row is refused whole, with the line
numbers, and nothing of it is recorded.

Examples
--------
>>> store = VerdictStore(Database())  # doctest: +SKIP
>>> store.record([NewVerdict("u1", "fake", "40 emails")], Actor("ana"))  # doctest: +SKIP
>>> store.latest()["u1"].verdict  # doctest: +SKIP
'fake'
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from fakeusers.audit import Actor, AuditTrail, now
from fakeusers.database import Database, tables
from fakeusers.errors import FakeusersError

if TYPE_CHECKING:
    from fakeusers.log import Log

__all__ = [
    "KINDS",
    "NewVerdict",
    "Verdict",
    "VerdictStore",
    "check",
    "held_verdicts",
    "parse_verdicts",
    "with_verdict_labels",
]

#: The verdicts an analyst can give.
KINDS = ("fake", "real")
#: How an output says why a user is flagged or not.
WHY = {"fake": "confirmed fake", "real": "cleared", None: "model"}
#: Where a verdict came from.
SOURCES = ("dashboard", "import", "api")
_MAX_NOTE = 2_000
_MAX_ERRORS_SHOWN = 10
# Rows per INSERT statement: bounded, so a 100,000-row import is a few statements.
_BATCH = 5_000


@dataclass(frozen=True)
class NewVerdict:
    """A verdict to record: the user, ``fake`` or ``real``, a note, and the probability the
    analyst saw (optional)."""

    user_id: str
    verdict: str
    note: str = ""
    probability: float | None = None


@dataclass(frozen=True)
class Verdict:
    """A recorded verdict (a row of the ``verdicts`` table)."""

    id: int
    user_id: str
    verdict: str
    note: str
    analyst: str
    analyst_verified: bool
    created_at: dt.datetime
    model: str | None
    probability: float | None
    threshold: float | None
    source: str
    reverts: int | None

    @property
    def why(self) -> str:
        """``confirmed fake`` or ``cleared``."""
        return WHY[self.verdict]


def check(entry: NewVerdict) -> str | None:
    """What is wrong with one verdict, or None."""
    if not isinstance(entry.user_id, str) or not entry.user_id.strip():
        return "the UserId is empty"
    if entry.verdict not in KINDS:
        return f"verdict {entry.verdict!r} is not fake or real"
    if len(entry.note) > _MAX_NOTE:
        return f"the note is longer than {_MAX_NOTE:,} characters"
    return None


def parse_verdicts(
    data: bytes, name: str = "verdicts", *, verdict: str | None = None
) -> list[NewVerdict]:
    """Verdicts from CSV: ``UserId,verdict[,note]``, or IDs only with ``verdict`` for all.

    Parameters
    ----------
    data : bytes
        UTF-8 CSV with a header (a byte-order mark is fine). Column names are matched without
        regard to case or surrounding spaces; IDs and verdicts are trimmed, as the log reader
        trims IDs.
    name : str
        The file's name, for messages.
    verdict : {"fake", "real"}, optional
        For a block list (``fake``) or an allow list (``real``): every listed user gets this
        verdict, and a ``verdict`` column, if any, must agree.

    Returns
    -------
    list of NewVerdict
        In file order; a user listed twice with the same verdict and note counts once.

    Raises
    ------
    FakeusersError
        Not UTF-8 text, no ``UserId`` column, no ``verdict`` column without ``verdict=``, or
        bad rows: the message names up to ten of them by line number.
    """
    if verdict is not None and verdict not in KINDS:
        raise FakeusersError(f"A list's verdict must be fake or real, not {verdict!r}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FakeusersError(
            f"{name}: not UTF-8 text (byte {exc.start:,}); save it as CSV UTF-8."
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise FakeusersError(f"{name}: the file is empty; it needs a header UserId,verdict[,note].")
    columns = {h.strip().lower(): i for i, h in enumerate(header)}
    if "userid" not in columns:
        needs = "a header UserId" if verdict is not None else "UserId,verdict[,note]"
        raise FakeusersError(
            f"{name}: no UserId column (the header is {','.join(header)[:80]!r}); the file "
            f"needs {needs}, comma-separated."
        )
    if "verdict" not in columns and verdict is None:
        raise FakeusersError(
            f"{name}: no verdict column. Add one (fake or real per user), or import the file "
            "as a block list (every user fake) or an allow list (every user real)."
        )
    uid, kind, note = columns["userid"], columns.get("verdict"), columns.get("note")
    out: dict[str, NewVerdict] = {}
    first_line: dict[str, int] = {}
    errors: list[str] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if (
            len(row) < len(header)
            and note is not None
            and len(row) == note
            and note == len(header) - 1
        ):
            row = [*row, ""]  # only the optional note, last, is missing
        if len(row) != len(header):
            errors.append(f"line {line}: {len(row)} fields, the header has {len(header)}")
            continue
        given = row[kind].strip().lower() if kind is not None else verdict
        if verdict is not None and given != verdict:
            errors.append(
                f"line {line}: verdict {row[kind].strip()!r} in a list of {verdict} users"
            )
            continue
        entry = NewVerdict(
            row[uid].strip(), given or "", row[note].strip() if note is not None else ""
        )
        problem = check(entry)
        if problem is not None:
            errors.append(f"line {line}: {problem}")
            continue
        before = out.get(entry.user_id)
        if before is not None and before != entry:
            errors.append(
                f"line {line}: user {entry.user_id!r} already has a different verdict on line "
                f"{first_line[entry.user_id]}"
            )
            continue
        out[entry.user_id] = entry
        first_line.setdefault(entry.user_id, line)
    if errors:
        shown = "; ".join(errors[:_MAX_ERRORS_SHOWN])
        more = (
            f" (and {len(errors) - _MAX_ERRORS_SHOWN:,} more)"
            if len(errors) > _MAX_ERRORS_SHOWN
            else ""
        )
        raise FakeusersError(
            f"{name}: {len(errors):,} bad row{'s' if len(errors) > 1 else ''}, nothing was "
            f"imported: {shown}{more}. Fix them and "
            "import the file again."
        )
    if not out:
        raise FakeusersError(f"{name}: no verdicts in the file, only a header.")
    return list(out.values())


def _verdict(row: sa.Row) -> Verdict:
    created = row.created_at
    if created.tzinfo is None:  # SQLite keeps no zone: every time is written in UTC
        created = created.replace(tzinfo=dt.UTC)
    return Verdict(
        id=row.id,
        user_id=row.user_id,
        verdict=row.verdict,
        note=row.note,
        analyst=row.analyst,
        analyst_verified=bool(row.analyst_verified),
        created_at=created,
        model=row.model,
        probability=row.probability,
        threshold=row.threshold,
        source=row.source,
        reverts=row.reverts,
    )


class VerdictStore:
    """The verdicts of one review database, and the audit rows that go with them."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.audit = AuditTrail(db)

    def record(
        self,
        entries: Sequence[NewVerdict],
        analyst: Actor,
        *,
        source: str = "dashboard",
        model: str | None = None,
        threshold: float | None = None,
        cost_fp: float | None = None,
        cost_fn: float | None = None,
        detail: str = "",
    ) -> int:
        """Record verdicts, all or none, with one audit row; the number recorded.

        The costs M and F the analyst decided at, when given, go into the audit row.

        Raises
        ------
        FakeusersError
            A bad verdict (nothing recorded); DatabaseUnavailableError when the database is.
        """
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}")
        for entry in entries:
            problem = check(entry)
            if problem is not None:
                raise FakeusersError(f"Verdict for {entry.user_id!r} refused: {problem}.")
        if not entries:
            return 0
        at = now()
        rows = [
            {
                "user_id": e.user_id,
                "verdict": e.verdict,
                "note": e.note,
                "analyst": analyst.name,
                "analyst_verified": analyst.verified,
                "created_at": at,
                "model": model,
                "probability": e.probability,
                "threshold": threshold,
                "source": source,
                "reverts": None,
            }
            for e in entries
        ]
        with self.db.begin() as conn:
            for start in range(0, len(rows), _BATCH):
                conn.execute(tables.verdicts.insert(), rows[start : start + _BATCH])
            counts = {k: sum(e.verdict == k for e in entries) for k in KINDS}
            words = f"{counts['fake']:,} fake, {counts['real']:,} real"
            self.audit.record(
                "import" if source == "import" else "verdict",
                analyst,
                model=model,
                cost_fp=cost_fp,
                cost_fn=cost_fn,
                threshold=threshold,
                count=len(rows),
                detail=f"{words}; {detail}" if detail else words,
                conn=conn,
            )
        return len(rows)

    def revert(self, verdict_id: int, reason: str, analyst: Actor) -> Verdict | None:
        """Undo one verdict, with a reason; the user's verdict that now holds (or None).

        Raises
        ------
        FakeusersError
            No such verdict, already reverted, or no reason given.
        """
        reason = (reason or "").strip()
        if not reason:
            raise FakeusersError("Say why the verdict is reverted: the reason is recorded.")
        v = tables.verdicts
        with self.db.begin() as conn:
            row = conn.execute(sa.select(v).where(v.c.id == verdict_id)).first()
            if row is None or row.verdict == "revert":
                raise FakeusersError(f"There is no verdict #{verdict_id} to revert.")
            done = conn.execute(sa.select(v.c.id).where(v.c.reverts == verdict_id)).first()
            if done is not None:
                raise FakeusersError(f"Verdict #{verdict_id} is already reverted.")
            conn.execute(
                v.insert(),
                {
                    "user_id": row.user_id,
                    "verdict": "revert",
                    "note": reason,
                    "analyst": analyst.name,
                    "analyst_verified": analyst.verified,
                    "created_at": now(),
                    "source": "dashboard",
                    "reverts": verdict_id,
                },
            )
            self.audit.record(
                "revert",
                analyst,
                model=row.model,
                count=1,
                detail=f"verdict #{verdict_id} ({row.verdict}) on user {row.user_id}: {reason}",
                conn=conn,
            )
        return self.latest([row.user_id]).get(row.user_id)

    def _held(self, *columns: Any, user_ids: Sequence[str] | None = None) -> sa.Select:
        """The verdict that holds per user (the latest that is neither a revert nor
        reverted), as ``columns`` of the verdicts table, oldest first."""
        v = tables.verdicts
        reverted = sa.select(v.c.reverts).where(v.c.reverts.is_not(None))
        latest = sa.select(sa.func.max(v.c.id).label("id")).where(
            v.c.verdict.in_(KINDS), v.c.id.not_in(reverted)
        )
        if user_ids is not None:
            latest = latest.where(v.c.user_id.in_(user_ids))
        latest = latest.group_by(v.c.user_id).subquery()
        return sa.select(*columns).join(latest, v.c.id == latest.c.id).order_by(v.c.id)

    def latest(self, user_ids: Iterable[str] | None = None) -> dict[str, Verdict]:
        """The verdict that holds for each user who has one (of ``user_ids``, or all)."""
        wanted = None if user_ids is None else list(user_ids)
        with self.db.connect() as conn:
            rows = conn.execute(self._held(tables.verdicts, user_ids=wanted)).all()
        return {r.user_id: _verdict(r) for r in rows}

    def kinds(self) -> dict[str, str]:
        """The verdict that holds per user as ``fake``/``real`` only: what scoring needs,
        read fast."""
        v = tables.verdicts
        with self.db.connect() as conn:
            return dict(conn.execute(self._held(v.c.user_id, v.c.verdict)).all())

    def history(self, user_id: str) -> list[Verdict]:
        """Every verdict and revert of one user, newest first."""
        v = tables.verdicts
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(v).where(v.c.user_id == user_id).order_by(v.c.id.desc())
            ).all()
        return [_verdict(r) for r in rows]

    def to_csv(self, *, for_spreadsheets: bool = True) -> bytes:
        """The verdict that holds per user: ``UserId,verdict,note,analyst,analyst_verified,
        time,model``, oldest first."""
        import pandas as pd

        from fakeusers.export import to_csv

        held = sorted(self.latest().values(), key=lambda x: x.id)
        frame = pd.DataFrame(
            {
                "UserId": [x.user_id for x in held],
                "verdict": [x.verdict for x in held],
                "note": [x.note for x in held],
                "analyst": [x.analyst for x in held],
                "analyst_verified": [x.analyst_verified for x in held],
                "time": [x.created_at.isoformat(timespec="seconds") for x in held],
                "model": [x.model or "" for x in held],
            }
        )
        return to_csv(frame, for_spreadsheets=for_spreadsheets)


def held_verdicts(db: Database | None) -> tuple[dict[str, str], str | None]:
    """The verdicts to apply when scoring, and a warning when they cannot be read.

    Scoring never fails for the review database: when it is unavailable the answer is no
    verdicts and the reason, which the face shows as a warning. A default SQLite database
    that does not exist yet holds no verdicts, and is not created by reading.
    """
    from fakeusers.errors import DatabaseUnavailableError

    if db is None or not db.exists():
        return {}, None
    try:
        return VerdictStore(db).kinds(), None
    except DatabaseUnavailableError as exc:
        return {}, f"Verdicts not applied: {exc}"


def with_verdict_labels(log: Log, verdicts: Mapping[str, Any]) -> tuple[Log, dict[str, int]]:
    """The log to train on with analysts' verdicts: its labels overridden by verdicts, and
    extended to unlabelled users who have one; users left without a label are dropped.

    Parameters
    ----------
    log : Log
        Labelled or not.
    verdicts : mapping of user ID to ``"fake"``/``"real"`` (or :class:`Verdict`)

    Returns
    -------
    (Log, dict)
        The training log (a log of its own, so its fingerprint is not the original's) and
        counts: ``verdicts`` (users of the log with one), ``fake``, ``real``, ``changed``
        (labels a verdict contradicted), ``added`` (unlabelled users labelled by a verdict),
        ``dropped`` (users without a label).
    """
    import dataclasses

    import numpy as np
    import pandas as pd

    kinds = {k: getattr(v, "verdict", v) for k, v in verdicts.items()}
    index = pd.Index(log.user_ids).get_indexer(list(kinds))
    hit = index >= 0
    fake = np.fromiter((v == "fake" for v in kinds.values()), bool, len(kinds))[hit]
    # -2: no label; -1: conflicting labels in the log (unusable unless a verdict settles them)
    before = np.full(log.n_users, -2, np.int8) if log.labels is None else log.labels
    labels = before.copy()
    labels[index[hit]] = fake.astype(np.int8)
    keep = np.flatnonzero(labels >= 0)
    given = index[hit]
    counts = {
        "verdicts": int(hit.sum()),
        "fake": int(fake.sum()),
        "real": int((~fake).sum()),
        "changed": int(((before[given] >= 0) & (before[given] != labels[given])).sum()),
        "added": int((before[given] < 0).sum()),
        "dropped": int(log.n_users - keep.size),
    }
    subset = log.select_users(keep)
    report = dataclasses.replace(log.report, label_conflicts=[], labelled=True)
    return dataclasses.replace(subset, labels=labels[keep], report=report), counts
