"""Parquet logs: a file, or a folder of them, as the table of string columns a CSV becomes.

A data lake keeps logs as Parquet, often as a folder (a Spark or Hive output: ``part-*.parquet``
files beside ``_SUCCESS``). Either is read here into the same
:class:`~fakeusers.csvparse.ParsedFile` that :func:`~fakeusers.csvparse.parse_csv` returns,
so validation, cleaning, labels, timestamps, overlaps and the load report are the CSV path's.
Typed columns become the text a CSV export would hold: integer IDs their digits, a boolean
``Fake`` ``true``/``false``, dictionary strings plain strings, nulls empty, and real
timestamps epoch seconds (UTC; a timestamp without a time zone is read as UTC, as ISO 8601
text without one is).

The size cap (:data:`~fakeusers.sources.MAX_LOG_BYTES_ENV`) holds twice: on the file (or
the folder's files) before reading, and on the decoded text, one row group at a time, so a
small file that decodes to gigabytes is refused after at most one row group.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fakeusers.csvparse import ParsedFile, column_positions, extra_columns_warning
from fakeusers.errors import FakeusersError, InputTooLargeError
from fakeusers.limits import limit_from_env
from fakeusers.quoting import shown
from fakeusers.schema import OPTIONAL, REQUIRED
from fakeusers.sources import (
    DEFAULT_MAX_LOG_BYTES,
    MAX_LOG_BYTES_ENV,
    Source,
    _too_large,
    open_source,
)

__all__ = ["PARQUET_MAGIC", "decoded_size", "is_parquet", "parse_parquet", "read_parquet"]

#: The four bytes a Parquet file starts (and ends) with.
PARQUET_MAGIC = b"PAR1"
_SUFFIX = ".parquet"
_DAMAGED = (
    "cannot be read as Parquet: it is damaged or cut off (perhaps copied before its writer "
    "finished). Write or copy it again, or export the log as CSV."
)
_PANDAS_INDEX = "__index_level_"
# What Hive and Spark write as the folder name of a null partition value.
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
# Timestamp units per second, for Parquet's timestamp columns.
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def is_parquet(source: Source) -> bool:
    """Whether ``source`` is Parquet: a folder, a name ending in ``.parquet``, or ``PAR1`` bytes.

    A path that cannot be opened is not Parquet: the CSV path says what is wrong with it.
    """
    if isinstance(source, tuple):
        name, data = source
        return str(name).lower().endswith(_SUFFIX) or data[:4] == PARQUET_MAGIC
    path = Path(source)
    if path.is_dir() or path.name.lower().endswith(_SUFFIX):
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == PARQUET_MAGIC
    except OSError:
        return False


def read_parquet(source: Source) -> tuple[str, ParsedFile]:
    """Read a Parquet file, or a folder of them as one log, into string columns.

    Parameters
    ----------
    source : path or ``(name, bytes)``
        A Parquet file or upload, or a folder: its ``*.parquet`` files (in subfolders too)
        are read in the order of their paths; names starting with ``_`` or ``.`` (Spark's
        ``_SUCCESS``, checksum files) are skipped. A column the files lack but their
        subfolders name (Hive partitioning: ``Fake=1/part-0.parquet``) is read from there.

    Returns
    -------
    name : str
        The file's or the folder's name, as the load report shows it.
    parsed : ParsedFile
        String columns named as in ``REQUIRED`` and ``OPTIONAL``, as
        :func:`fakeusers.csvparse.parse_csv` returns them.

    Raises
    ------
    InputTooLargeError
        When the file or folder, or its decoded columns, exceed the size cap.
    FakeusersError
        When a file is damaged or not Parquet, lacks a required column, has a column that
        cannot be text, or holds no rows; or a folder holds no Parquet file.
    """
    if not isinstance(source, tuple) and Path(source).is_dir():
        return _read_folder(Path(source))
    name, data = open_source(source)
    limit = limit_from_env(MAX_LOG_BYTES_ENV, DEFAULT_MAX_LOG_BYTES)
    return name, parse_parquet(name, data, limit)


def parse_parquet(name: str, data: bytes, limit: int | None = None) -> ParsedFile:
    """Parse one Parquet file's bytes into string columns, as :func:`parse_csv` does a CSV's.

    Parameters
    ----------
    name : str
        The file's name, for messages.
    data : bytes
        The file's content.
    limit : int, optional
        The most bytes the decoded columns may hold; the size cap by default.

    Returns
    -------
    ParsedFile
        The table, with the file's extra columns and warnings (no row is ever skipped).

    Raises
    ------
    InputTooLargeError
        When the decoded columns would exceed ``limit``.
    FakeusersError
        As :func:`read_parquet`.
    """
    if limit is None:
        limit = limit_from_env(MAX_LOG_BYTES_ENV, DEFAULT_MAX_LOG_BYTES)
    table, extra = _parquet_table(name, data, limit)
    if table.num_rows == 0:
        raise _no_rows(name)
    warnings = [extra_columns_warning(name, extra)] if extra else []
    return ParsedFile(table, extra, 0, warnings)


def decoded_size(name: str, data: bytes, limit: int) -> int:
    """How many bytes a Parquet file's columns decode to as text, for a budget of ``limit``.

    What the gzip limit is for a compressed CSV: a server checks an upload against its own
    budget before the reader (whose cap is larger) decodes it. The columns are decoded one
    row group at a time and not kept.

    Raises
    ------
    InputTooLargeError
        Past ``limit``, after at most one row group more.
    FakeusersError
        As :func:`parse_parquet`.
    """
    return _parquet_table(name, data, limit)[0].nbytes


def _read_folder(folder: Path) -> tuple[str, ParsedFile]:
    """A folder's Parquet files as one log, under one size cap for all of them."""
    name = folder.name or str(folder)
    try:
        parts = sorted(
            p
            for p in folder.rglob("*")
            if p.name.lower().endswith(_SUFFIX)
            and p.is_file()
            and not any(s.startswith(("_", ".")) for s in p.relative_to(folder).parts)
        )
    except OSError as exc:
        raise FakeusersError(f"{folder} cannot be read: {exc.strerror}.") from None
    if not parts:
        raise FakeusersError(
            f"{folder} is a folder without .parquet files. Pass the log files themselves "
            "(CSV or Parquet), or a folder of Parquet files such as a Spark output."
        )
    limit = limit_from_env(MAX_LOG_BYTES_ENV, DEFAULT_MAX_LOG_BYTES)
    if sum(p.stat().st_size for p in parts) > limit:
        raise InputTooLargeError(_too_large(name, "holds more than", limit))
    tables, extra, left = [], [], limit
    for part in parts:
        shown_name = f"{name}/{part.relative_to(folder).as_posix()}"
        _, data = open_source(part)
        try:
            table, part_extra = _parquet_table(shown_name, data, left, _partition(folder, part))
        except InputTooLargeError:
            raise InputTooLargeError(_too_large(name, "decodes to more than", limit)) from None
        del data
        if tables and table.column_names != tables[0].column_names:
            raise FakeusersError(
                f"{shown_name} has the columns {shown(table.column_names)} but "
                f"{name}/{parts[0].relative_to(folder).as_posix()} has "
                f"{shown(tables[0].column_names)}. Write the folder again with one schema."
            )
        left -= table.nbytes
        tables.append(table)
        extra += [c for c in part_extra if c not in extra]
    table = pa.concat_tables(tables)
    if table.num_rows == 0:
        raise _no_rows(name)
    warnings = [extra_columns_warning(name, extra)] if extra else []
    return name, ParsedFile(table, extra, 0, warnings)


def _partition(folder: Path, part: Path) -> dict[str, str]:
    """The Hive partition values in a part's path: ``Fake=1/part-0.parquet`` gives Fake 1."""
    pairs = (d.split("=", 1) for d in part.relative_to(folder).parts[:-1] if "=" in d)
    return {key: "" if value == _HIVE_NULL else unquote(value) for key, value in pairs}


def _parquet_table(
    name: str, data: bytes, limit: int, partition: dict[str, str] | None = None
) -> tuple[pa.Table, list[str]]:
    """The known columns as strings, and the names of the others.

    A known column that the file lacks but its folder names (Hive partitioning, ``partition``)
    holds the folder's value on every row.
    """
    if data[:4] != PARQUET_MAGIC:
        raise FakeusersError(
            f"{name} is named .parquet but is not a Parquet file (it does not start with "
            f"{PARQUET_MAGIC.decode()}): it is damaged or another format. Write it again as "
            "Parquet, or upload it as CSV with a .csv name."
        )
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        fields = parquet.schema_arrow.names
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        raise FakeusersError(f"{name} {_DAMAGED}") from None
    known = {c.lower() for c in (*REQUIRED, *OPTIONAL)}
    stored = {f.strip().lower() for f in fields}
    implied = {k: v for k, v in (partition or {}).items() if k.strip().lower() in known - stored}
    positions, extra = column_positions(name, [*fields, *implied])
    # pandas stores a DataFrame's index as a column: not the analyst's data, so not reported.
    extra = [c for c in extra if not c.startswith(_PANDAS_INDEX)]
    names = [c for c in (*REQUIRED, *OPTIONAL) if c in positions]
    in_path = list(implied.values())
    constant = {
        c: in_path[positions[c] - len(fields)] for c in names if positions[c] >= len(fields)
    }
    read = [c for c in names if c not in constant]
    wanted = [fields[positions[c]] for c in read]
    # Only the decoded text bounds memory: dictionary pages make the sizes in the footer far
    # smaller than the text. (Nor are the footer's column chunks read from Python: pyarrow
    # aborts the process on some damaged ones instead of raising.)
    groups, size = [], 0
    for g in range(parquet.num_row_groups):
        try:
            raw = parquet.read_row_group(g, columns=wanted)
            # Damaged pages can decode to text that is not UTF-8 or to dictionary indices
            # out of range, which would fail far from here.
            raw.validate(full=True)
        except (pa.ArrowException, OSError):
            raise FakeusersError(f"{name} {_DAMAGED}") from None
        columns = {c: _as_text(name, c, raw.column(fields[positions[c]])) for c in read}
        for c, value in constant.items():
            columns[c] = pa.chunked_array([pa.repeat(value, raw.num_rows)])
        group = pa.table({c: columns[c] for c in names})
        size += group.nbytes
        if size > limit:
            raise InputTooLargeError(_too_large(name, "decodes to more than", limit))
        groups.append(group)
    if not groups:
        return pa.table({c: pa.array([], pa.string()) for c in names}), extra
    return pa.concat_tables(groups), extra


def _as_text(name: str, column: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as the text a CSV export would hold; nulls are empty, as empty cells are."""
    kind = values.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if column == "Timestamp" and (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return _epoch_seconds_text(values.cast(kind))
    try:
        text = pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise FakeusersError(
            f"{name}: the column {column!r} holds {kind} values, which cannot be read as "
            "text. Write it as strings (or numbers) and read the file again."
        ) from None
    return text.fill_null("")


def _epoch_seconds_text(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Times as epoch seconds (UTC), computed as the CSV path computes ISO 8601 text's.

    The timestamp parser reads ISO 8601 to whole milliseconds, then divides by 1000: times
    in whole milliseconds are divided the same way, so both paths give the same floats.
    """
    if pa.types.is_date(values.type):
        values = values.cast(pa.timestamp("ms"))
    per_second = _PER_SECOND[values.type.unit]
    valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
    ticks = values.cast(pa.int64()).fill_null(0).to_numpy()
    per_ms = per_second // 1000
    if per_ms and not (ticks % per_ms).any():
        seconds = (ticks // per_ms).astype(np.float64) / 1000.0
    else:
        seconds = ticks.astype(np.float64) / per_second
    text = pa.array(seconds, mask=~valid).cast(pa.string()).fill_null("")
    return pa.chunked_array([text])


def _no_rows(name: str) -> FakeusersError:
    return FakeusersError(f"{name} has no rows. Write the log again with its data rows.")
