"""A read click log and its load report: what the reader (:mod:`fakeusers.reading`) gives
and everything else works on (features, models, scoring, figures, the review queue).

A :class:`Log` holds the log dictionary-encoded: per row the codes of its user, event and
category; per user the ID, the label and the number of rows. Its :class:`LoadReport` says
what was read, what was seen and what looked wrong.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import InitVar, dataclass, field

import numpy as np
import pyarrow as pa

from fakeusers.encoding import count_codes
from fakeusers.errors import FakeusersError
from fakeusers.quoting import EXAMPLES, shown

__all__ = ["LoadReport", "Log"]


@dataclass
class LoadReport:
    """What was read, what was seen, and what looked wrong. Shown by CLI, dashboard and API.

    ``overlaps`` lists, per pair of files, the users whose rows in the later file repeat
    their rows in the earlier one exactly (``{"files": [earlier, later], "users": n,
    "rows": rows in the later file}``); ``overlaps_kept`` says whether those rows were kept
    once (``"keep_one"``) or twice (``"keep_all"``). ``duplicate_rows_across_files`` counts,
    with timestamps and several files, the rows that are a copy of a row in another file.
    """

    files: list[str]
    rows: int = 0
    users: int = 0
    labelled: bool = False
    fake_users: int | None = None
    has_timestamps: bool = False
    events: dict[str, int] = field(default_factory=dict)
    categories: dict[str, int] = field(default_factory=dict)
    unknown_events: list[str] = field(default_factory=list)
    unknown_categories: list[str] = field(default_factory=list)
    duplicate_rows: int | None = None
    duplicate_rows_across_files: int | None = None
    overlaps: list[dict] = field(default_factory=list)
    overlaps_kept: str = "keep_one"
    mangled_ids: list[str] = field(default_factory=list)
    label_conflicts: list[str] = field(default_factory=list)
    trimmed_ids: list[str] = field(default_factory=list)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    file_rows: list[int] = field(default_factory=list)

    @property
    def fake_share(self) -> float | None:
        """Share of users labelled fake, or None on an unlabelled log."""
        if self.fake_users is None or self.users == 0:
            return None
        return self.fake_users / self.users

    def to_dict(self) -> dict:
        """A JSON-serialisable view, as the API returns it."""
        out = {k: v for k, v in self.__dict__.items()}
        out["fake_share"] = self.fake_share
        return out

    def summary_lines(self) -> list[str]:
        """The report as short lines for a terminal."""
        names = ", ".join(self.files)
        lines = [f"Read {self.rows:,} rows, {self.users:,} users from {names}."]
        if self.labelled:
            share = self.fake_share or 0.0
            lines.append(f"Labelled: {self.fake_users:,} fake users ({share:.1%}).")
        else:
            lines.append("Unlabelled (no Fake column): can be scored, not used for training.")
        lines.append(f"Timestamps: {'yes' if self.has_timestamps else 'no'}.")
        lines.append("Events: " + ", ".join(f"{k} {v:,}" for k, v in self.events.items()) + ".")
        lines.append(
            "Categories: " + ", ".join(f"{k} {v:,}" for k, v in self.categories.items()) + "."
        )
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return lines


@dataclass
class Log:
    """A click log, dictionary-encoded.

    Rows keep their order (files in the order given, then file order). Users are numbered
    in order of first appearance.

    Attributes
    ----------
    user_ids : numpy.ndarray of str
        The distinct user IDs; ``user_ids[user_codes[i]]`` is row i's user.
    user_codes, event_codes, category_codes : numpy.ndarray of int32
        Per-row codes into ``user_ids``, ``event_values`` and ``category_values``.
    labels : numpy.ndarray of int8 or None
        Per user: 1 fake, 0 real, -1 conflicting labels; None on an unlabelled log.
    timestamps : numpy.ndarray of float64 or None
        Per-row epoch seconds, when the log has a usable ``Timestamp`` column.
    events_per_user : numpy.ndarray of int64
        How many rows each user has (read-only): counted from ``user_codes`` unless given as
        ``rows_per_user`` (the reader gives it: it counts them for the labels).
    user_id_text : pyarrow.StringArray
        ``user_ids`` as Arrow text: made from them when first asked for, unless given as
        ``id_text`` (the reader gives it: it checks the IDs with it).
    """

    user_ids: np.ndarray
    user_codes: np.ndarray
    event_values: list[str]
    event_codes: np.ndarray
    category_values: list[str]
    category_codes: np.ndarray
    labels: np.ndarray | None
    timestamps: np.ndarray | None
    report: LoadReport
    events_per_user: np.ndarray = field(init=False, repr=False, compare=False)
    #: The rows per user when the caller counted them (the reader does); not kept as given
    #: by ``dataclasses.replace``, which counts them again for the new codes.
    rows_per_user: InitVar[np.ndarray | None] = None
    #: ``user_ids`` as Arrow text when the caller made them; as ``rows_per_user``, not kept
    #: by ``dataclasses.replace``.
    id_text: InitVar[pa.Array | None] = None

    def __post_init__(self, rows_per_user: np.ndarray | None, id_text: pa.Array | None) -> None:
        if rows_per_user is None:
            rows_per_user = count_codes(self.user_codes, self.n_users)
        rows_per_user.flags.writeable = False  # shared by features, figures, tables
        self.events_per_user = rows_per_user
        if id_text is not None:
            self.__dict__["user_id_text"] = id_text

    @functools.cached_property
    def user_id_text(self) -> pa.Array:
        """The user IDs as an Arrow string array, made once: pandas' index of the features,
        output files and searches take it as it is, where each would copy ``user_ids``'
        fixed-width text (30-70 ms at 470k users)."""
        return pa.array(self.user_ids, pa.string())

    @property
    def n_rows(self) -> int:
        return len(self.user_codes)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    def require_labels(self) -> np.ndarray:
        """The per-user labels, or a clear refusal when they cannot be used for training."""
        names = ", ".join(self.report.files)
        if self.labels is None:
            raise FakeusersError(
                f"{names} has no Fake column, so it cannot be used to train or evaluate. "
                "Use a labelled log (Fake = 1 for fake users, 0 for real ones), "
                "or score this one with predict."
            )
        if self.report.label_conflicts:
            n = len(self.report.label_conflicts)
            examples = shown(self.report.label_conflicts[:EXAMPLES])
            raise FakeusersError(
                f"{names}: {n:,} users have both Fake=0 and Fake=1 rows (e.g. {examples}). "
                "Fake is a property of the user: give all of a user's rows the same label."
            )
        return self.labels

    def select_users(self, users: np.ndarray) -> Log:
        """The log of some users only (distinct indices into ``user_ids``), in that order,
        with their rows in log order; the load report is shared."""
        codes = np.asarray(users, dtype=np.int64).ravel()
        position = np.full(self.n_users, -1, dtype=np.int64)
        position[codes] = np.arange(codes.size)
        row_position = position[self.user_codes]
        rows = np.flatnonzero(row_position >= 0)
        return Log(
            user_ids=self.user_ids[codes],
            user_codes=row_position[rows].astype(np.int32),
            event_values=self.event_values,
            event_codes=self.event_codes[rows],
            category_values=self.category_values,
            category_codes=self.category_codes[rows],
            labels=None if self.labels is None else self.labels[codes],
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            report=self.report,
        )

    def rows_of(self, user_id: str) -> dict[str, np.ndarray]:
        """One user's rows in log order, as columns (for a drill-down view)."""
        hits = np.flatnonzero(self.user_ids == user_id)
        if len(hits) == 0:
            raise FakeusersError(f"No user {user_id!r} in this log.")
        idx = np.flatnonzero(self.user_codes == hits[0])
        out = {
            "Event": np.asarray(self.event_values, dtype=object)[self.event_codes[idx]],
            "Category": np.asarray(self.category_values, dtype=object)[self.category_codes[idx]],
        }
        if self.timestamps is not None:
            out["Timestamp"] = self.timestamps[idx]
        return out

    def preview(self, n: int = 20) -> dict[str, np.ndarray]:
        """The first ``n`` rows as columns."""
        sl = slice(0, n)
        out = {
            "UserId": self.user_ids[self.user_codes[sl]],
            "Event": np.asarray(self.event_values, dtype=object)[self.event_codes[sl]],
            "Category": np.asarray(self.category_values, dtype=object)[self.category_codes[sl]],
        }
        if self.labels is not None:
            out["Fake"] = self.labels[self.user_codes[sl]]
        if self.timestamps is not None:
            out["Timestamp"] = self.timestamps[sl]
        return out

    def fingerprint(self) -> str:
        """sha256 of the log's content as read (independent of formatting, BOMs, padding)."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.user_ids.tolist()).encode())
        h.update("\x1f".join(self.event_values).encode())
        h.update("\x1f".join(self.category_values).encode())
        for arr in (self.user_codes, self.event_codes, self.category_codes):
            h.update(np.ascontiguousarray(arr).tobytes())
        if self.labels is not None:
            h.update(self.labels.tobytes())
        if self.timestamps is not None:
            h.update(self.timestamps.tobytes())
        return h.hexdigest()
