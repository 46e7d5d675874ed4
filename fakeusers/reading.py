"""Reading click logs: from CSV files as exported in the wild to encoded columns and a load report.

A log is one row per action: ``UserId, Event, Category``, optionally ``Fake`` (0/1, a
property of the user) and ``Timestamp`` (ISO 8601 or epoch seconds). Files may be plain or
gzip-compressed, carry a BOM, CRLF line ends, padded values, header rows repeated where files
were concatenated, or semicolons as the delimiter. What can be read is read and reported;
what cannot is refused with a :class:`~fakeusers.errors.FakeusersError` that names the file,
the line or column, what is wrong and what to do.

:func:`read_logs` goes through these steps, one module each:

1. :mod:`fakeusers.sources`: a file's bytes, gunzipped, under the size cap;
2. :mod:`fakeusers.csvparse`: one file's header, dialect and rows, as string columns;
3. here: the files combined, their columns dictionary-encoded, unusable rows dropped,
   with :mod:`fakeusers.labels` and :mod:`fakeusers.timestamps` reading the optional
   columns, the files' overlaps found (the same user with the same rows in two files, as a
   re-export that covers the previous one writes) and the :class:`LoadReport` written.

Parsing is pyarrow's multi-threaded CSV reader; values are dictionary-encoded and cleaned on
the (small) dictionaries, never per row in Python.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers import OVERLAPS
from fakeusers.csvparse import ParsedFile, parse_csv
from fakeusers.encoding import Column, Merged, compact, count_codes, encode_columns
from fakeusers.errors import FakeusersError
from fakeusers.labels import row_labels, user_labels
from fakeusers.overlaps import count_duplicate_rows, repeated_rows
from fakeusers.parquetread import is_parquet, read_parquet
from fakeusers.plaincsv import read_plain, start_compiled
from fakeusers.quoting import EXAMPLES, shown
from fakeusers.schema import KNOWN_CATEGORIES, KNOWN_EVENTS, OPTIONAL, REQUIRED
from fakeusers.sources import DEFAULT_MAX_LOG_BYTES, MAX_LOG_BYTES_ENV, Source, gunzip, open_source
from fakeusers.timestamps import parse_timestamps

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "KNOWN_CATEGORIES",
    "KNOWN_EVENTS",
    "MAX_LOG_BYTES_ENV",
    "OPTIONAL",
    "OVERLAPS",
    "REQUIRED",
    "LoadReport",
    "Log",
    "Source",
    "check_mangled_ids",
    "dropped_rows_warnings",
    "encode_tables",
    "gunzip",
    "listed",
    "read_logs",
    "read_table",
    "start_reading",
    "trimmed_ids_warning",
    "unknown_values_warnings",
]

# What a spreadsheet writes for a long number: a one-digit mantissa, then a decimal separator
# (point or comma) or a signed exponent: 6.37E+07, 1E+15, 6,37E+07, 1.2345E15. An ID that
# merely has an E between digits (hexadecimal 1E38095673, 9E12) is not one.
_MANGLED_ID = r"^[0-9](?:[.,][0-9]+[eE][+-]?|[eE][+-])[0-9]+$"


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


def read_logs(
    sources: Source | Sequence[Source],
    *,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> Log:
    """Read one or more click logs into one :class:`Log`.

    Parameters
    ----------
    sources : path, ``(name, bytes)``, or a sequence of them
        ``.csv`` or ``.csv.gz`` files (gzip is recognised by content, not by name), Parquet
        files, or folders of Parquet files (see :mod:`fakeusers.parquetread`).
    overlaps : {"keep_one", "keep_all"}
        What to do with a user whose rows in one file repeat, exactly and in order, their
        rows in an earlier file (a re-export that overlaps the previous one): keep one copy,
        or keep both (the user's events then count twice). Either way the load report says
        how many users overlap, per pair of files. A user whose rows differ between files
        (seen in two time windows) is kept whole.

    Returns
    -------
    Log
        The encoded log with its :class:`LoadReport`.

    Raises
    ------
    FakeusersError
        When a file cannot be used; the message names the file and what to do.

    Examples
    --------
    >>> log = read_logs("data/demo.csv")  # doctest: +SKIP
    >>> log.report.users  # doctest: +SKIP
    5000
    """
    if overlaps not in OVERLAPS:
        raise FakeusersError(
            f"overlaps must be 'keep_one' or 'keep_all', not {overlaps!r}: keep one copy of "
            "a user's rows repeated in two files, or keep both."
        )
    sources = listed(sources)
    if not sources:
        raise FakeusersError("No log files given. Pass one or more CSV files.")
    report = LoadReport(files=[], overlaps_kept=overlaps)
    if len(sources) == 1 and not is_parquet(sources[0]):
        return _read_alone(sources[0], report)
    tables = [_read_file(source, report) for source in sources]
    tables = _shared_columns(tables, report)
    return encode_tables(tables, report)


def start_reading(sources: Source | Sequence[Source]) -> threading.Event:
    """Start on another thread what reading ``sources`` with :func:`read_logs` will need,
    so that it is ready sooner: numba, for one large CSV file
    (:func:`fakeusers.plaincsv.start_compiled`).

    Returns an event set once that has started, or at once when nothing needs to.
    """
    sources = listed(sources)
    alone = len(sources) == 1 and not is_parquet(sources[0])
    return start_compiled(_size(sources[0]) if alone else 0)


def listed(sources: Source | Sequence[Source]) -> list[Source]:
    """``sources`` as :func:`read_logs` takes them (one source or several), as a list."""
    if isinstance(sources, (str, os.PathLike, tuple)):
        return [sources]
    return list(sources)


def read_table(table: pa.Table, name: str) -> Log:
    """A log from string columns parsed elsewhere, cleaned as :func:`read_logs` cleans a file.

    The Spark engine (:mod:`fakeusers.spark`) calls it on each bucket of users, so that
    trimming, dropped rows and timestamps follow the same rules as a file read here.

    Parameters
    ----------
    table : pyarrow.Table
        String columns ``UserId``, ``Event``, ``Category`` and optionally ``Fake`` and
        ``Timestamp``, rows in log order.
    name : str
        What messages call the rows.

    Raises
    ------
    FakeusersError
        As :func:`read_logs`, for example when no usable row is left.
    """
    report = LoadReport(files=[name], file_rows=[table.num_rows])
    return encode_tables([table], report)


def _read_alone(source: Source, report: LoadReport) -> Log:
    """One CSV file, the common case at scale: a large plain one is read straight into codes
    (:mod:`fakeusers.plaincsv`), any other parsed and encoded as several files are."""
    start_compiled(_size(source))
    name, data = open_source(source, mapped=True)
    plain = read_plain(name, data)
    if plain is None:
        tables = [_parsed(name, parse_csv(name, data), report)]
        del data  # the table holds its own copy
        return encode_tables(tables, report)
    del data
    _noted(report, name, plain.head.extra, 0, plain.head.warnings(name), plain.rows)
    return _encoded_log(plain.columns, Merged(), None, report, plain.id_text)


def _size(source: Source) -> int:
    """The size of a file or upload in bytes (0 when it cannot be told: opening it will say
    why)."""
    if isinstance(source, tuple):
        return len(source[1])
    try:
        return os.stat(source).st_size
    except (OSError, TypeError, ValueError):
        return 0


def _read_file(source: Source, report: LoadReport) -> pa.Table:
    """Open and parse one file, noting in ``report`` what was seen.

    The raw bytes are freed on return: the parsed table holds its own copy.
    """
    if is_parquet(source):
        name, parsed = read_parquet(source)
    else:
        name, data = open_source(source, mapped=True)
        parsed = parse_csv(name, data)
    return _parsed(name, parsed, report)


def _parsed(name: str, parsed: ParsedFile, report: LoadReport) -> pa.Table:
    """The parsed file's table, its name, extra columns, skipped rows and warnings noted in
    ``report``."""
    _noted(
        report,
        name,
        parsed.extra_columns,
        parsed.skipped_rows,
        parsed.warnings,
        parsed.table.num_rows,
    )
    return parsed.table


def _noted(
    report: LoadReport,
    name: str,
    extra_columns: list[str],
    skipped_rows: int,
    warnings: list[str],
    rows: int,
) -> None:
    """Note in ``report`` what reading a file saw."""
    report.files.append(name)
    if extra_columns:
        report.extra_columns[name] = extra_columns
    _drop(report, "wrong number of fields", skipped_rows)
    report.warnings.extend(warnings)
    report.file_rows.append(rows)


def _shared_columns(tables: list[pa.Table], report: LoadReport) -> list[pa.Table]:
    """The tables without an optional column that some files lack (ignored, with a warning)."""
    columns = set().union(*(t.column_names for t in tables))
    for label in OPTIONAL:
        missing = [
            n for n, t in zip(report.files, tables, strict=True) if label not in t.column_names
        ]
        if label in columns and missing:
            report.warnings.append(
                f"{label} column ignored: {', '.join(missing)} has none while other files do."
            )
            columns.discard(label)
    return [t.select([c for c in t.column_names if c in columns]) for t in tables]


def encode_tables(tables: list[pa.Table], report: LoadReport) -> Log:
    """The parsed files as one :class:`Log`; consumes ``tables`` to free memory early.

    For readers that parse files their own way (:func:`read_logs`, :func:`read_table`,
    the partitions of :mod:`fakeusers.partitioned`): ``tables`` hold the columns
    :func:`fakeusers.csvparse.parse_csv` gives, ``report`` what was seen while parsing.

    The string columns are dictionary-encoded, the rows that cannot be used are marked,
    labels and timestamps are read for the others, the files' overlaps found, then the
    rows not kept are dropped, the codes renumbered to the values left, the users labelled
    and the report completed.
    """
    table = pa.concat_tables(_same_types(tables))
    tables.clear()
    names = [*REQUIRED] + (["Fake"] if "Fake" in table.column_names else [])
    encoded, merged = encode_columns(table, names)
    stamps = table.column("Timestamp") if "Timestamp" in table.column_names else None
    del table  # the string columns are encoded; free them before the per-user work
    return _encoded_log(encoded, merged["UserId"], stamps, report)


def _encoded_log(
    encoded: dict[str, Column],
    ids: Merged,
    stamps: pa.ChunkedArray | None,
    report: LoadReport,
    id_text: pa.Array | None = None,
) -> Log:
    """The :class:`Log` of the encoded columns: :func:`encode_tables` after the encoding.

    ``ids`` says which user IDs trimming merged, ``stamps`` is the ``Timestamp`` column
    when the files have one, ``id_text`` the user IDs' values as Arrow text when the reader
    made them.
    """
    if ids.count:
        report.trimmed_ids = list(ids.examples)
        _warn(report, trimmed_ids_warning(ids.count, ids.examples))
    keep = _usable_rows(encoded, report)
    locate = functools.partial(_locate, report)
    labels = timestamps = None
    if "Fake" in encoded:
        labels, warning = row_labels(*encoded["Fake"], keep, locate, report.files)
        _warn(report, warning)
    if stamps is not None:
        timestamps, warning = parse_timestamps(stamps, keep, locate)
        _warn(report, warning)
        del stamps

    file_of_row = None
    if len(report.files) > 1:
        file_of_row = np.repeat(np.arange(len(report.files), dtype=np.int32), report.file_rows)
        repeated = repeated_rows(
            encoded["UserId"].codes,
            encoded["Event"].codes,
            encoded["Category"].codes,
            labels,
            timestamps,
            keep,
            file_of_row,
            report,
        )
        if report.overlaps_kept == "keep_one":
            keep &= ~repeated
    kept = None if keep.all() else keep
    if kept is not None:
        labels = None if labels is None else labels[kept]
        timestamps = None if timestamps is None else timestamps[kept]
        file_of_row = None if file_of_row is None else file_of_row[kept]
    if not keep.any():
        raise FakeusersError(
            f"{', '.join(report.files)}: no usable rows left "
            f"({', '.join(f'{k}: {v:,}' for k, v in report.dropped.items())}). "
            "Each row needs a UserId, an Event and a Category."
        )
    users, events, categories = (compact(encoded[c], kept) for c in REQUIRED)
    per_user = None
    rows_per_user = count_codes(users.codes, len(users.values))
    if labels is not None:
        per_user, report.label_conflicts, warning = user_labels(
            users.codes, labels, users.values, rows_per_user
        )
        _warn(report, warning)
        report.labelled = True
        report.fake_users = int((per_user == 1).sum())
    user_ids = users.values.astype(str)
    if kept is not None or id_text is None:  # dropped rows may have dropped users
        # from the IDs as numpy holds them (it drops a trailing NUL a Parquet file may hold)
        id_text = pa.array(user_ids, pa.string())
    _describe(report, id_text, events, categories, timestamps, file_of_row, users.codes)
    return Log(
        user_ids=user_ids,
        user_codes=users.codes,
        event_values=list(events.values),
        event_codes=events.codes,
        category_values=list(categories.values),
        category_codes=categories.codes,
        labels=per_user,
        timestamps=timestamps,
        report=report,
        rows_per_user=rows_per_user,
        id_text=id_text,
    )


def _same_types(tables: list[pa.Table]) -> list[pa.Table]:
    """The tables with each column of one type, so that they can be concatenated: a column
    dictionary-encoded in one file and plain text in another becomes text in all."""
    if len({t.schema for t in tables}) == 1:
        return tables
    text = {f.name for t in tables for f in t.schema if not pa.types.is_dictionary(f.type)}
    return [
        pa.table(
            {
                c: pc.cast(t.column(c), pa.string()) if c in text else t.column(c)
                for c in t.column_names
            }
        )
        for t in tables
    ]


def _usable_rows(encoded: dict[str, Column], report: LoadReport) -> np.ndarray:
    """Which rows to keep, counting in ``report`` those dropped and why.

    Dropped: header lines repeated where files were concatenated, and rows with an empty
    ``UserId``, ``Event`` or ``Category``.
    """
    users, events = encoded["UserId"], encoded["Event"]
    keep = np.ones(len(users.codes), dtype=bool)
    # A header line has both: look among the many user IDs only when an event is "Event".
    is_header_event = np.array([v.lower() == "event" for v in events.values])
    if is_header_event.any():
        is_header_user = np.array([v.lower() == "userid" for v in users.values])
        repeated = is_header_user[users.codes] & is_header_event[events.codes]
        _drop(report, "repeated header line", int(repeated.sum()))
        keep &= ~repeated
    for col in REQUIRED:
        codes, values = encoded[col]
        empty = values == ""
        if empty.any():
            rows = empty[codes] & keep
            _drop(report, f"empty {col}", int(rows.sum()))
            keep &= ~rows
    return keep


def _drop(report: LoadReport, reason: str, n: int) -> None:
    if n:
        report.dropped[reason] = report.dropped.get(reason, 0) + n


def _warn(report: LoadReport, warning: str | None) -> None:
    if warning:
        report.warnings.append(warning)


def _describe(
    report: LoadReport,
    user_ids: pa.Array,
    events: Column,
    categories: Column,
    timestamps: np.ndarray | None,
    file_of_row: np.ndarray | None,
    user_codes: np.ndarray,
) -> None:
    """Complete the report: sizes, counts, and warnings about values that look wrong."""
    report.rows = int(len(user_codes))
    report.users = len(user_ids)
    report.has_timestamps = timestamps is not None
    report.events = _counts(*events)
    report.categories = _counts(*categories)
    report.unknown_events = [v for v in report.events if v not in KNOWN_EVENTS]
    report.unknown_categories = [v for v in report.categories if v not in KNOWN_CATEGORIES]
    report.warnings += unknown_values_warnings(report)
    check_mangled_ids(report, user_ids)
    if timestamps is not None:
        count_duplicate_rows(
            report, user_codes, events.codes, categories.codes, timestamps, file_of_row
        )
    report.warnings += dropped_rows_warnings(report)


def trimmed_ids_warning(count: int, examples: Sequence[str]) -> str:
    """The warning about user IDs read as one user once spaces around them were trimmed."""
    return (
        f"{count:,} user IDs differ from others only by spaces, tabs or line breaks around "
        f"them and were read as the same users, e.g. {'; '.join(examples)}. If they are "
        "different users, fix the IDs in the source."
    )


def unknown_values_warnings(report: LoadReport) -> list[str]:
    """The warnings about events and categories the product does not know."""
    out = []
    if report.unknown_events:
        out.append(
            f"Unknown events {shown(report.unknown_events)}: a model trained without "
            "them counts them as 'other'."
        )
    if report.unknown_categories:
        out.append(
            f"Unknown categories {shown(report.unknown_categories)}: a model trained "
            "without them counts them as 'other'."
        )
    return out


def dropped_rows_warnings(report: LoadReport) -> list[str]:
    """One warning per reason rows were dropped, with the count."""
    return [
        f"{count:,} {'row' if count == 1 else 'rows'} dropped: {reason}."
        for reason, count in report.dropped.items()
    ]


def check_mangled_ids(report: LoadReport, user_ids: np.ndarray | pa.Array) -> None:
    """Warn about user IDs (text, as numpy or Arrow strings) a spreadsheet turned into
    scientific notation (6.37E+07).

    Only what a spreadsheet writes counts (see ``_MANGLED_ID``): hexadecimal IDs such as
    ``1E38095673`` are left alone.
    """
    if not isinstance(user_ids, pa.Array):
        user_ids = pa.array(user_ids, pa.string())
    mangled = user_ids.filter(pc.match_substring_regex(user_ids, _MANGLED_ID))
    report.mangled_ids = mangled[:100].to_pylist()
    n = len(mangled)
    if n:
        ids = f"{n:,} user IDs look" if n > 1 else "1 user ID looks"
        report.warnings.append(
            f"{ids} like spreadsheet scientific notation "
            f"(e.g. {shown(report.mangled_ids[:3])}): a spreadsheet may have merged distinct "
            "users into one. Export the IDs as text, not numbers."
        )


def _counts(codes: np.ndarray, values: np.ndarray) -> dict[str, int]:
    counts = count_codes(codes, len(values))
    order = np.argsort(-counts, kind="stable")
    return {str(values[i]): int(counts[i]) for i in order if counts[i]}


def _locate(report: LoadReport, row: int) -> tuple[str, int]:
    """File name and line number of a row of the concatenated table.

    The line counts the header as line 1; rows with quoted line breaks or skipped ragged rows
    before it shift it slightly.
    """
    ends = np.cumsum(report.file_rows)
    i = int(np.searchsorted(ends, row, side="right"))
    start = int(ends[i - 1]) if i else 0
    return report.files[i], row - start + 2
