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
   re-export that covers the previous one writes) and the
   :class:`~fakeusers.log.LoadReport` written.

Parsing is pyarrow's multi-threaded CSV reader; values are dictionary-encoded and cleaned on
the (small) dictionaries, never per row in Python.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers import OVERLAPS
from fakeusers.csvparse import ParsedFile, parse_csv
from fakeusers.encoding import Column, Merged, compact, count_codes, encode_columns
from fakeusers.errors import FakeusersError
from fakeusers.labels import row_labels, user_labels
from fakeusers.log import LoadReport, Log
from fakeusers.overlaps import count_duplicate_rows, repeated_rows
from fakeusers.parquetread import is_parquet, read_parquet
from fakeusers.plaincsv import read_plain, start_compiled
from fakeusers.quoting import shown
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


def read_logs(
    sources: Source | Sequence[Source],
    *,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
) -> Log:
    """Read one or more click logs into one :class:`~fakeusers.log.Log`.

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
        The encoded log with its :class:`~fakeusers.log.LoadReport`.

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
    """The parsed files as one :class:`~fakeusers.log.Log`; consumes ``tables`` to free
    memory early.

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
    """The :class:`~fakeusers.log.Log` of the encoded columns: :func:`encode_tables` after
    the encoding.

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
