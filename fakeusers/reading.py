"""Reading click logs: from CSV files as exported in the wild to encoded columns and a load report.

A log is one row per action: ``UserId, Event, Category``, optionally ``Fake`` (0/1, a
property of the user) and ``Timestamp`` (ISO 8601 or epoch seconds). Files may be plain or
gzip-compressed, carry a BOM, CRLF line ends, padded values, header rows repeated where files
were concatenated, or semicolons as the delimiter. What can be read is read and reported;
what cannot is refused with a :class:`~fakeusers.errors.FakeusersError` that names the file,
the line or column, what is wrong and what to do.

Parsing is pyarrow's multi-threaded CSV reader; values are dictionary-encoded and cleaned on
the (small) dictionaries, never per row in Python.
"""

from __future__ import annotations

import csv
import hashlib
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fakeusers.errors import FakeusersError, InputTooLargeError

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "KNOWN_CATEGORIES",
    "KNOWN_EVENTS",
    "MAX_LOG_BYTES_ENV",
    "LoadReport",
    "Log",
    "Source",
    "gunzip",
    "read_logs",
]

KNOWN_EVENTS = ("click_ad", "click_carrousel", "phone_call", "send_email", "send_sms")
KNOWN_CATEGORIES = ("Phone", "Motor", "Jobs", "Leisure", "Holidays", "Real_State")
REQUIRED = ("UserId", "Event", "Category")
OPTIONAL = ("Fake", "Timestamp")

#: A log source: a path, or ``(name, bytes)`` for an upload.
Source = str | os.PathLike | tuple[str, bytes]

#: Environment variable with the most bytes one log file may hold once decompressed.
MAX_LOG_BYTES_ENV = "FAKEUSERS_MAX_LOG_BYTES"
#: 4 GiB: far above a 10M-event log (~300 MB), far below what a gzip bomb expands to.
DEFAULT_MAX_LOG_BYTES = 4 * 1024**3

_BLOCK_SIZE = 16 << 20  # a field of several MB must fit in one parsing block
_SNIFF_BYTES = 64 << 10
_MANGLED_ID = r"^[0-9](\.[0-9]+)?[eE]\+?[0-9]+$"
_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}
_EXAMPLES = 5
_SHOWN_CHARS = 40  # a value quoted in a message is cut here (a field may be megabytes long)
_FOUND_CHARS = 200
# Epoch values at or above this are not seconds (it is the year 5138) but a finer unit.
_EPOCH_SECONDS_MAX = 1e11
_EPOCH_UNITS = (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9))
_TIME_FORMATS = (
    ("epoch seconds", pa.float64()),
    ("ISO 8601 with a time zone", pa.timestamp("ms", tz="UTC")),
    ("ISO 8601 without a time zone", pa.timestamp("ms")),
)


@dataclass
class LoadReport:
    """What was read, what was seen, and what looked wrong. Shown by CLI, dashboard and API."""

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
    mangled_ids: list[str] = field(default_factory=list)
    label_conflicts: list[str] = field(default_factory=list)
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
            shown = _shown(self.report.label_conflicts[:_EXAMPLES])
            raise FakeusersError(
                f"{names}: {n:,} users have both Fake=0 and Fake=1 rows (e.g. {shown}). "
                "Fake is a property of the user: give all of a user's rows the same label."
            )
        return self.labels

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


def read_logs(sources: Source | Sequence[Source]) -> Log:
    """Read one or more click logs into one :class:`Log`.

    Parameters
    ----------
    sources : path, ``(name, bytes)``, or a sequence of them
        ``.csv`` or ``.csv.gz`` files (gzip is recognised by content, not by name).

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
    if isinstance(sources, (str, os.PathLike, tuple)):
        sources = [sources]
    sources = list(sources)
    if not sources:
        raise FakeusersError("No log files given. Pass one or more CSV files.")
    report = LoadReport(files=[])
    tables = []
    for source in sources:
        name, data = _open(source)
        report.files.append(name)
        tables.append(_read_one(name, data, report))
        del data  # the parsed table holds its own copy; free the raw bytes now
        report.file_rows.append(tables[-1].num_rows)
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
    tables = [t.select([c for c in t.column_names if c in columns]) for t in tables]
    return _encode(tables, report)


def _open(source: Source) -> tuple[str, bytes]:
    """The file's display name and its (decompressed) bytes, refused past the size cap.

    The cap (:data:`MAX_LOG_BYTES_ENV`) is checked before a file is read, and gzip is
    inflated with the cap as its output limit, so a small ``.csv.gz`` that expands to
    gigabytes (a gzip bomb) is refused without ever being expanded.
    """
    limit = _max_log_bytes()
    if isinstance(source, tuple):
        name, data = source
        name = Path(str(name)).name
        if len(data) > limit:
            raise InputTooLargeError(_too_large(name, "is larger than", limit))
    else:
        path = Path(source)
        name = path.name
        try:
            if path.stat().st_size > limit:
                raise InputTooLargeError(_too_large(name, "is larger than", limit))
            data = path.read_bytes()
        except FileNotFoundError:
            raise FakeusersError(f"{path}: no such file. Check the path.") from None
        except IsADirectoryError:
            raise FakeusersError(f"{path} is a folder, not a CSV file.") from None
        except OSError as exc:
            raise FakeusersError(f"{path} cannot be read: {exc.strerror}.") from None
    if data[:2] == b"\x1f\x8b":
        data = gunzip(name, data, limit)
    _refuse_non_csv(name, data)
    return name, data


def _max_log_bytes() -> int:
    text = os.environ.get(MAX_LOG_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_LOG_BYTES
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise FakeusersError(
            f"{MAX_LOG_BYTES_ENV} is {text!r}; set it to a positive whole number of bytes, "
            f"such as {DEFAULT_MAX_LOG_BYTES} (4 GiB), or unset it for that default."
        )
    return value


def _too_large(name: str, what: str, limit: int) -> str:
    return (
        f"{name} {what} the {limit:,} bytes ({limit / 2**20:,.0f} MB) one log file "
        f"may hold. Split the log into smaller files and read them together, or raise "
        f"{MAX_LOG_BYTES_ENV} where fakeusers runs."
    )


def gunzip(name: str, data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data``, refusing output past ``limit`` bytes.

    Raises :class:`~fakeusers.errors.InputTooLargeError` past the limit and
    :class:`~fakeusers.errors.FakeusersError` for a damaged file.

    Each member is inflated with the bytes left under the cap (plus one) as zlib's output
    limit: zlib stops there, so memory stays within the cap whatever the file expands to.
    As :func:`gzip.decompress`, zero padding between members is skipped.
    """
    damaged = f"{name} is a damaged gzip file. Compress it again or upload the plain CSV."
    members: list[bytes] = []
    size = 0
    rest = data
    while rest:
        if rest[:2] != b"\x1f\x8b":
            raise FakeusersError(damaged)
        inflater = zlib.decompressobj(wbits=31)
        try:
            members.append(inflater.decompress(rest, limit - size + 1))
        except zlib.error:
            raise FakeusersError(damaged) from None
        size += len(members[-1])
        if size > limit:
            raise InputTooLargeError(_too_large(name, "decompresses to more than", limit))
        if not inflater.eof:
            raise FakeusersError(damaged)  # cut off: the input ended before the member did
        rest = inflater.unused_data.lstrip(b"\x00")
    return members[0] if len(members) == 1 else b"".join(members)


def _refuse_non_csv(name: str, data: bytes) -> None:
    if len(data) <= _SNIFF_BYTES and not data.strip(b"\xef\xbb\xbf \t\r\n"):
        raise FakeusersError(
            f"{name} is empty. Export the log again with a header line "
            "UserId,Event,Category and one row per action."
        )
    if data[:4] == b"PK\x03\x04":
        raise FakeusersError(
            f"{name} is a spreadsheet or zip archive, not a CSV file. In your spreadsheet "
            "use Save As / Download as 'CSV (comma-separated)' and upload that file."
        )
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FakeusersError(
            f"{name} is an old Excel workbook (.xls), not a CSV file. Save it as "
            "'CSV (comma-separated)' and upload that file."
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FakeusersError(
            f"{name} is UTF-16 text (Excel's 'Unicode Text'), not a UTF-8 CSV file. In your "
            "spreadsheet use Save As 'CSV UTF-8 (comma-delimited)' and upload that file."
        )
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise FakeusersError(
            f"{name} is a binary file, not a CSV text file. Upload the log exported as CSV."
        )


def _header(name: str, data: bytes) -> tuple[list[str], str, str]:
    """The raw header fields, the delimiter and the text encoding."""
    head = data[:_SNIFF_BYTES]
    ends = [i for i in (head.find(b"\n"), head.find(b"\r")) if i >= 0]
    first = head[: min(ends)] if ends else head
    encoding = "utf-8" if _is_utf8(data) else "latin-1"
    line = first.decode(encoding, errors="replace").lstrip("\ufeff")
    delimiter = max(",;\t|", key=line.count)
    if line.count(delimiter) == 0:
        delimiter = ","
    try:
        fields = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        fields = line.split(delimiter)
    return fields, delimiter, encoding


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow without copying the bytes."""
    buf = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, buf]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _canonical(field_name: str) -> str:
    return field_name.strip().strip("\ufeff").strip().strip('"').strip().lower()


def _read_one(name: str, data: bytes, report: LoadReport) -> pa.Table:
    """Parse one file into a table of string columns named as in REQUIRED/OPTIONAL."""
    fields, delimiter, encoding = _header(name, data)
    wanted = {c.lower(): c for c in (*REQUIRED, *OPTIONAL)}
    positions: dict[str, int] = {}
    extra = []
    for i, raw in enumerate(fields):
        key = _canonical(raw)
        if key in wanted:
            col = wanted[key]
            if col in positions:
                raise FakeusersError(
                    f"{name} has two columns named {col!r} (columns {positions[col] + 1} "
                    f"and {i + 1}). Keep one and upload again."
                )
            positions[col] = i
        else:
            extra.append(raw.strip() or f"(unnamed column {i + 1})")
    missing = [c for c in REQUIRED if c not in positions]
    if missing:
        found = ", ".join(f.strip() for f in fields if f.strip()) or "nothing"
        if len(found) > _FOUND_CHARS:
            found = found[:_FOUND_CHARS] + "..."
        cols = ", ".join(f"'{c}'" for c in missing)
        word = "column" if len(missing) == 1 else "columns"
        hint = ""
        if len(fields) == 1 and any(d in fields[0] for d in ";\t|"):
            hint = " The file may use an unusual delimiter; save it as comma-separated CSV."
        known = {v.lower() for v in (*KNOWN_EVENTS, *KNOWN_CATEGORIES)}
        if any(_canonical(f) in known for f in fields):
            hint = (
                " Its first line looks like data, not a header: add the line "
                "UserId,Event,Category (plus Fake or Timestamp if present) at the top."
            )
        elif fields and fields[0].lstrip("\ufeff \t").startswith("<"):
            hint = (
                " It looks like a web page (HTML), not a CSV export: download the export "
                "again, signed in, and save it as CSV."
            )
        raise FakeusersError(
            f"{name} has no {word} {cols} (found: {found}). "
            f"Each row needs UserId, Event and Category.{hint}"
        )
    if extra:
        report.extra_columns[name] = extra
        report.warnings.append(f"{name}: extra columns ignored: {_shown(extra)}.")
    if delimiter != ",":
        shown = {";": "semicolons", "\t": "tabs", "|": "pipes"}[delimiter]
        report.warnings.append(f"{name} uses {shown} as the delimiter; read it that way.")

    if b"\n" not in data and b"\r" not in data:
        raise _no_rows(name)

    bad_rows: list[str] = []

    def skip_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    names = [f"c{i}" for i in range(len(fields))]
    include = [f"c{positions[c]}" for c in (*REQUIRED, *OPTIONAL) if c in positions]

    def parse(enc: str, newlines_in_values: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1, block_size=_BLOCK_SIZE, encoding=enc
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                invalid_row_handler=skip_row,
                newlines_in_values=newlines_in_values,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in include},
                include_columns=include,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        table = parse(encoding, newlines_in_values=False)
        if bad_rows and b'"' in data:
            # Quoted line breaks split rows when parsed fast; parse again honouring them.
            bad_rows.clear()
            table = parse(encoding, newlines_in_values=True)
    except pa.ArrowInvalid as exc:
        detail = str(exc).split("\n")[0]
        raise FakeusersError(
            f"{name} cannot be parsed as CSV ({detail}). "
            "Export it again as comma-separated CSV with one row per action."
        ) from None
    if encoding == "latin-1":
        report.warnings.append(f"{name} is not UTF-8; read it as Latin-1.")
    unclosed = _unclosed_quote(name, data, bad_rows, encoding)
    if table.num_rows == 0 and bad_rows:
        lines = _line_numbers(data, bad_rows[:1], encoding)
        where = f" (line {lines[0]} is the first)" if lines else ""
        raise FakeusersError(
            unclosed
            or f"{name}: no row has the header's {len(fields)} fields{where}. Check the "
            "delimiter and the quotes, and export the log again as comma-separated CSV."
        )
    if bad_rows:
        _drop(report, "wrong number of fields", len(bad_rows))
        lines = _line_numbers(data, bad_rows[:_EXAMPLES], encoding)
        if lines:
            report.warnings.append(
                f"{name}: rows with a wrong number of fields (expected {len(fields)}) at "
                f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
                f"{' and more' if len(bad_rows) > len(lines) else ''}."
            )
        if unclosed:
            report.warnings.append(unclosed)
    if table.num_rows == 0:
        raise _no_rows(name)
    renamed = {f"c{positions[c]}": c for c in positions}
    table = table.rename_columns([renamed[c] for c in table.column_names])
    return table


def _no_rows(name: str) -> FakeusersError:
    return FakeusersError(
        f"{name} has a header but no rows. Export the log again with its data rows."
    )


def _unclosed_quote(name: str, data: bytes, bad_rows: list[str], encoding: str) -> str | None:
    """Explain a skipped row that swallowed several lines: a quote that was never closed."""
    # An odd number of quotes: one was opened and never closed.
    row = next((r for r in bad_rows if ("\n" in r or "\r" in r) and r.count('"') % 2), None)
    if row is None:
        return None
    lines = _line_numbers(data, [row], encoding)
    where = f" line {lines[0]}" if lines else ""
    return (
        f"{name}{where}: a quoted value starts there and is never closed, so "
        f"{len(row.splitlines()):,} lines were read as one row and skipped. "
        'Remove or close the stray quote (") and export the log again.'
    )


def _line_numbers(data: bytes, texts: list[str], encoding: str) -> list[int]:
    """Line numbers (1-based) of the first occurrences of a few skipped rows' text."""
    lines = []
    start = 0
    for text in texts:
        pos = data.find(text.encode(encoding, errors="replace"), start)
        if pos < 0:
            continue
        lines.append(data.count(b"\n", 0, pos) + 1)
        start = pos + 1
    return lines


def _drop(report: LoadReport, reason: str, n: int) -> None:
    if n:
        report.dropped[reason] = report.dropped.get(reason, 0) + n


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Dictionary-encode a string column: (row codes, stripped distinct values).

    Values are stripped on the dictionary, so padding costs nothing per row; values that
    become equal after stripping are merged.
    """
    encoded = column.dictionary_encode().combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    stripped = pc.utf8_trim_whitespace(encoded.dictionary)
    merged = stripped.dictionary_encode()
    remap = merged.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    values = np.asarray(merged.dictionary.to_pylist(), dtype=object)
    if len(values) != len(stripped):
        codes = remap[codes]
    return codes, values


def _encode(tables: list[pa.Table], report: LoadReport) -> Log:
    """Encode the parsed files' string columns; consumes ``tables`` to free memory early."""
    table = pa.concat_tables(tables)
    tables.clear()
    # pyarrow releases the GIL while hashing: encode the columns side by side.
    names = ["UserId", "Event", "Category"] + (["Fake"] if "Fake" in table.column_names else [])
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = [table.column(c) for c in names]
        encoded = dict(zip(names, pool.map(_codes, columns), strict=True))
    del columns
    user_codes, user_values = encoded["UserId"]
    event_codes, event_values = encoded["Event"]
    category_codes, category_values = encoded["Category"]
    n = n_read = len(user_codes)
    keep = np.ones(n, dtype=bool)

    # Header rows repeated where files were concatenated.
    is_header_user = np.array([v.lower() == "userid" for v in user_values])
    is_header_event = np.array([v.lower() == "event" for v in event_values])
    if is_header_user.any():
        repeated = is_header_user[user_codes] & is_header_event[event_codes]
        _drop(report, "repeated header line", int(repeated.sum()))
        keep &= ~repeated

    for col, codes, values in (
        ("UserId", user_codes, user_values),
        ("Event", event_codes, event_values),
        ("Category", category_codes, category_values),
    ):
        empty = np.array([v == "" for v in values])
        if empty.any():
            rows = empty[codes] & keep
            _drop(report, f"empty {col}", int(rows.sum()))
            keep &= ~rows

    labels_raw = None
    if "Fake" in table.column_names:
        fake_codes, fake_values = encoded["Fake"]
        lowered = [v.lower() for v in fake_values]
        bad = np.array([v not in _TRUE and v not in _FALSE for v in lowered])
        bad_rows = bad[fake_codes] & keep
        blank = np.array([v == "" for v in fake_values])
        if bad_rows.any() and (blank[fake_codes] | ~keep).all():
            # An export template's empty Fake column: an unlabelled log, not a broken one.
            report.warnings.append(
                f"{', '.join(report.files)}: the Fake column is empty on every row, so the log "
                "is read as unlabelled (it can be scored, not used for training)."
            )
        elif bad_rows.any():
            first = int(np.flatnonzero(bad_rows)[0])
            file_name, line = _locate(report, first)
            value = fake_values[fake_codes[first]]
            raise FakeusersError(
                f"{file_name} line {line}: Fake is {_quote(value) if value else 'empty'}, "
                f"but must be 0 (real user) or 1 (fake user) on every row "
                f"({int(bad_rows.sum()):,} rows differ). Fix those values, or remove the "
                "Fake column to score the log without labels."
            )
        else:
            labels_raw = np.array([v in _TRUE for v in lowered], dtype=np.int8)[fake_codes]

    timestamps = None
    if "Timestamp" in table.column_names:
        timestamps = _parse_timestamps(table.column("Timestamp"), keep, report)
    del table  # the string columns are encoded; free them before the per-user work

    if not keep.all():
        user_codes = user_codes[keep]
        event_codes = event_codes[keep]
        category_codes = category_codes[keep]
        if labels_raw is not None:
            labels_raw = labels_raw[keep]
        if timestamps is not None:
            timestamps = timestamps[keep]
    if len(user_codes) == 0:
        raise FakeusersError(
            f"{', '.join(report.files)}: no usable rows left "
            f"({', '.join(f'{k}: {v:,}' for k, v in report.dropped.items())}). "
            "Each row needs a UserId, an Event and a Category."
        )

    # Renumber to the values still present; dictionary order is order of first appearance.
    rows_dropped = len(user_codes) < n_read
    user_codes, user_values = _compact(user_codes, user_values, rows_dropped=rows_dropped)
    event_codes, event_values = _compact(event_codes, event_values, rows_dropped=rows_dropped)
    category_codes, category_values = _compact(
        category_codes, category_values, rows_dropped=rows_dropped
    )
    n_users = len(user_values)

    labels = None
    if labels_raw is not None:
        ones = np.bincount(user_codes[labels_raw.astype(bool)], minlength=n_users)
        rows = np.bincount(user_codes, minlength=n_users)
        labels = (ones > 0).astype(np.int8)
        conflict = (ones > 0) & (ones < rows)
        labels[conflict] = -1
        report.label_conflicts = user_values[conflict][:100].tolist()
        if conflict.any():
            report.warnings.append(
                f"{int(conflict.sum()):,} users have both Fake=0 and Fake=1 rows "
                f"(e.g. {_shown(report.label_conflicts[:_EXAMPLES])}); training will refuse "
                "this log until each user has one label."
            )
        report.labelled = True
        report.fake_users = int((labels == 1).sum())

    report.rows = int(len(user_codes))
    report.users = n_users
    report.has_timestamps = timestamps is not None
    report.events = _counts(event_codes, event_values)
    report.categories = _counts(category_codes, category_values)
    report.unknown_events = [v for v in report.events if v not in KNOWN_EVENTS]
    report.unknown_categories = [v for v in report.categories if v not in KNOWN_CATEGORIES]
    if report.unknown_events:
        report.warnings.append(
            f"Unknown events {_shown(report.unknown_events)}: a model trained without "
            "them counts them as 'other'."
        )
    if report.unknown_categories:
        report.warnings.append(
            f"Unknown categories {_shown(report.unknown_categories)}: a model trained "
            "without them counts them as 'other'."
        )
    mangled = np.asarray(
        pc.match_substring_regex(pa.array(user_values, pa.string()), _MANGLED_ID), dtype=bool
    )
    report.mangled_ids = user_values[mangled][:100].tolist()
    if mangled.any():
        report.warnings.append(
            f"{int(mangled.sum()):,} user IDs look like spreadsheet scientific notation "
            f"(e.g. {report.mangled_ids[0]}): a spreadsheet may have merged distinct users "
            "into one. Export the IDs as text, not numbers."
        )
    if timestamps is not None:
        keys = pa.table({"u": user_codes, "e": event_codes, "c": category_codes, "t": timestamps})
        groups = keys.group_by(["u", "e", "c", "t"]).aggregate([]).num_rows
        report.duplicate_rows = int(len(user_codes) - groups)
        if report.duplicate_rows:
            report.warnings.append(
                f"{report.duplicate_rows:,} rows repeat another row exactly (same user, "
                "event, category and timestamp); they are kept."
            )
    for reason, count in report.dropped.items():
        report.warnings.append(f"{count:,} rows dropped: {reason}.")

    return Log(
        user_ids=user_values.astype(str),
        user_codes=user_codes,
        event_values=list(event_values),
        event_codes=event_codes,
        category_values=list(category_values),
        category_codes=category_codes,
        labels=labels,
        timestamps=timestamps,
        report=report,
    )


def _compact(
    codes: np.ndarray, values: np.ndarray, *, rows_dropped: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Renumber to the values the remaining rows use, in order of first appearance.

    The dictionary is in order of first appearance over all rows; when rows were dropped, a
    value's first remaining row may come later, so the order is recomputed (one sort, only
    then).
    """
    if not rows_dropped:
        return codes, values
    used, first_row = np.unique(codes, return_index=True)
    order = used[np.argsort(first_row, kind="stable")]
    remap = np.full(len(values), -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return remap[codes], values[order]


def _counts(codes: np.ndarray, values: np.ndarray) -> dict[str, int]:
    counts = np.bincount(codes, minlength=len(values))
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


def _parse_timestamps(
    column: pa.ChunkedArray, keep: np.ndarray, report: LoadReport
) -> np.ndarray | None:
    """Epoch seconds per row, or None (with a warning) when the column is unusable.

    Only the rows in ``keep`` are parsed (a repeated header line is not a time); the others
    get NaN.
    """
    rows = None if keep.all() else np.flatnonzero(keep)
    values = pc.utf8_trim_whitespace(column if rows is None else column.take(rows))
    if len(values) == 0:
        return None
    parsed = next((p for _, t in _TIME_FORMATS if (p := _cast(values, t)) is not None), None)
    if parsed is None:
        i, problem = _time_problem(values)
        file_name, line = _locate(report, i if rows is None else int(rows[i]))
        report.warnings.append(
            f"Timestamp ignored: {file_name} line {line}: {problem}; rate and gap features are "
            "off for this log."
        )
        return None
    if pa.types.is_floating(parsed.type):
        seconds = np.asarray(parsed.to_numpy(), dtype=np.float64)
        odd = np.flatnonzero(~np.isfinite(seconds))
        if len(odd):
            i = int(odd[0])
            file_name, line = _locate(report, i if rows is None else int(rows[i]))
            report.warnings.append(
                f"Timestamp ignored: {file_name} line {line}: {_quote(values[i].as_py())} is "
                "not a time; rate and gap features are off for this log."
            )
            return None
        low = float(seconds.min())
        if low >= _EPOCH_SECONDS_MAX:
            unit, factor = next(
                ((u, f) for u, f in _EPOCH_UNITS if low / f < _EPOCH_SECONDS_MAX),
                _EPOCH_UNITS[-1],
            )
            seconds = seconds / factor
            report.warnings.append(
                f"Timestamp values are epoch {unit}, not seconds (e.g. {values[0].as_py()}); "
                f"read them as {unit}."
            )
    else:
        ms = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
        seconds = ms.astype(np.float64) / 1000.0
    if rows is None:
        return seconds
    out = np.full(len(keep), np.nan)
    out[rows] = seconds
    return out


def _cast(values: pa.ChunkedArray, type_: pa.DataType) -> pa.ChunkedArray | None:
    try:
        return pc.cast(values, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _time_problem(values: pa.ChunkedArray) -> tuple[int, str]:
    """The first timestamp that breaks the column's format, and what is wrong with it.

    The format is the first value's; the column is scanned in blocks, so a bad value at the
    end of a large log costs one pass, not a Python call per row.
    """

    def format_of(i: int) -> tuple[str, pa.DataType] | None:
        one = values.slice(i, 1)
        return next(((n, t) for n, t in _TIME_FORMATS if _cast(one, t) is not None), None)

    first = format_of(0)
    i = 0
    if first is not None:
        block = 1 << 16
        start = next(
            s
            for s in range(0, len(values), block)
            if _cast(values.slice(s, block), first[1]) is None
        )
        i = start + next(
            j
            for j in range(min(block, len(values) - start))
            if _cast(values.slice(start + j, 1), first[1]) is None
        )
    value = values[i].as_py()
    if value == "":
        return i, "the value is empty"
    own = format_of(i)
    if own is None:
        return i, (f"{_quote(value)} is neither ISO 8601 (2026-11-24T10:00:03Z) nor epoch seconds")
    return i, (f"{_quote(value)} is {own[0]} but the first value is {first[0]}: use one format")


def _quote(value: str) -> str:
    """``value`` quoted for a message, cut to a readable length."""
    if len(value) > _SHOWN_CHARS:
        return repr(value[:_SHOWN_CHARS]) + "..."
    return repr(value)


def _shown(values: Sequence[str]) -> str:
    """A few values for a message: plain when short and printable, else quoted and cut."""
    out = [
        v if len(v) <= _SHOWN_CHARS and v.isprintable() else _quote(v) for v in values[:_EXAMPLES]
    ]
    more = len(values) - _EXAMPLES
    return ", ".join(out) + (f" and {more:,} more" if more > 0 else "")
