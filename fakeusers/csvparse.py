"""One CSV file's bytes to a table of string columns, with what the load report should say.

Refuses what is not CSV text (a spreadsheet, a UTF-16 export, a binary file), finds the
header's columns (in any order and case, padded, quoted or after a BOM), the delimiter
(``,`` ``;`` tab ``|``) and the text encoding (UTF-8, else Latin-1), then parses with
pyarrow's multi-threaded reader. Rows with the wrong number of fields are skipped and
named by line; a quote that is never closed is named as such.
"""

from __future__ import annotations

import csv
import io
import mmap
import zipfile
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from fakeusers.errors import FakeusersError
from fakeusers.quoting import EXAMPLES, shown
from fakeusers.schema import KNOWN_CATEGORIES, KNOWN_EVENTS, OPTIONAL, REQUIRED

__all__ = [
    "DICTIONARY_COLUMNS",
    "SNIFF_BYTES",
    "Head",
    "ParsedFile",
    "column_positions",
    "extra_columns_warning",
    "find_line",
    "header_columns",
    "latin1_warning",
    "no_row_fits",
    "no_rows",
    "parse_csv",
    "read_head",
    "unreadable_past_header",
]

_BLOCK_SIZE = 16 << 20  # a field of several MB must fit in one parsing block
#: Columns with few distinct values, dictionary-encoded while parsing: no string per row is
#: ever built for them (at 10M rows that saves memory and half the encoding time).
DICTIONARY_COLUMNS = ("Event", "Category", "Fake")
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
SNIFF_BYTES = 64 << 10
_COUNT_BYTES = 64 << 20
_FOUND_CHARS = 200


@dataclass
class ParsedFile:
    """One file parsed, and what the load report should say about it.

    Attributes
    ----------
    table : pyarrow.Table
        Columns named as in ``REQUIRED`` and ``OPTIONAL``, those the file has: text, with
        the few-valued ``Event``, ``Category`` and ``Fake`` dictionary-encoded as parsed
        (:data:`DICTIONARY_COLUMNS`).
    extra_columns : list of str
        Header fields that are none of those columns, ignored.
    skipped_rows : int
        Rows skipped for having the wrong number of fields.
    warnings : list of str
        For the load report, in order.
    """

    table: pa.Table
    extra_columns: list[str]
    skipped_rows: int
    warnings: list[str]


def parse_csv(name: str, data: bytes | mmap.mmap) -> ParsedFile:
    """Parse one CSV file into string columns named as in ``REQUIRED`` and ``OPTIONAL``.

    Parameters
    ----------
    name : str
        The file's name, for messages.
    data : bytes or mmap.mmap
        The file's (decompressed) content, perhaps a file mapped in memory
        (:func:`fakeusers.sources.open_source`): read only by slices, ``find`` and its buffer.

    Returns
    -------
    ParsedFile
        The table, with the file's extra columns, skipped rows and warnings.

    Raises
    ------
    FakeusersError
        When the file is not CSV text, lacks a required column, has a column twice, has no
        rows, or no row that can be parsed; the message names the file, the line or column,
        and the fix.
    """
    head = read_head(name, data)
    warnings = head.warnings(name)
    if data.find(b"\n") < 0 and data.find(b"\r") < 0:
        raise no_rows(name)
    n_fields, encoding = len(head.fields), head.encoding
    table, bad_rows = _parse_rows(name, data, n_fields, head.positions, head.delimiter, encoding)
    if encoding == "latin-1":
        warnings.append(latin1_warning(name))
    warnings += _skipped_rows(name, data, bad_rows, table.num_rows, n_fields, encoding)
    if table.num_rows == 0:
        raise no_rows(name)
    renamed = {f"c{head.positions[c]}": c for c in head.positions}
    table = table.rename_columns([renamed[c] for c in table.column_names])
    return ParsedFile(table, head.extra, len(bad_rows), warnings)


@dataclass
class Head:
    """What a CSV file's header says, for a reader that parses the rows itself.

    Attributes
    ----------
    fields : list of str
        The header's raw fields.
    positions : dict
        Where each known column is (see :func:`column_positions`).
    extra : list of str
        The header's other fields, ignored.
    delimiter, encoding : str
        The delimiter, and the encoding as far as the first bytes tell.
    """

    fields: list[str]
    positions: dict[str, int]
    extra: list[str]
    delimiter: str
    encoding: str

    def warnings(self, name: str) -> list[str]:
        """The load report's warnings about the header: extra columns, the delimiter."""
        warnings = [extra_columns_warning(name, self.extra)] if self.extra else []
        if self.delimiter != ",":
            named = {";": "semicolons", "\t": "tabs", "|": "pipes"}[self.delimiter]
            warnings.append(f"{name} uses {named} as the delimiter; read it that way.")
        return warnings


def read_head(name: str, head: bytes | mmap.mmap) -> Head:
    """The header of a file from its first :data:`SNIFF_BYTES` bytes (or all of them, as
    :func:`parse_csv` reads it), with :func:`parse_csv`'s checks: not a spreadsheet or
    binary file, the required columns.

    Raises
    ------
    FakeusersError
        As :func:`parse_csv` for a file that is not CSV text or lacks a column.
    """
    _refuse_non_csv(name, head)
    fields, delimiter, encoding = _header(name, head)
    return Head(fields, *column_positions(name, fields), delimiter, encoding)


def extra_columns_warning(name: str, extra: list[str]) -> str:
    return f"{name}: extra columns ignored: {shown(extra)}."


def latin1_warning(name: str) -> str:
    return f"{name} is not UTF-8; read it as Latin-1."


def unreadable_past_header(name: str) -> FakeusersError:
    return FakeusersError(
        f"{name} cannot be read as CSV past its header: the file may be damaged or cut "
        "off. Export it again as comma-separated CSV with one row per action."
    )


def no_row_fits(name: str, n_fields: int, where: str = "") -> str:
    """Why a file whose every row was skipped cannot be read (``where``: the first line)."""
    return (
        f"{name}: no row has the header's {n_fields} fields{where}. Check the delimiter "
        "and the quotes, and export the log again as comma-separated CSV."
    )


def header_columns(name: str, head: bytes) -> tuple[dict[str, int], str, str]:
    """Where each known column is in a file's first line, its delimiter and its encoding.

    For readers that parse the rows themselves (Spark): the same header rules as
    :func:`parse_csv`, from the file's first bytes only.

    Raises
    ------
    FakeusersError
        A required column missing or a column named twice, with a guess at why.
    """
    fields, delimiter, encoding = _header(name, head)
    positions, _ = column_positions(name, fields)
    return positions, delimiter, encoding


def _refuse_non_csv(name: str, data: bytes | mmap.mmap) -> None:
    if len(data) <= SNIFF_BYTES and not data[:SNIFF_BYTES].strip(b"\xef\xbb\xbf \t\r\n"):
        raise FakeusersError(
            f"{name} is empty. Export the log again with a header line "
            "UserId,Event,Category and one row per action."
        )
    if data[:4] == b"PK\x03\x04":
        raise FakeusersError(_zip_refusal(name, data))
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FakeusersError(
            f"{name} is an old Excel workbook (.xls), not a CSV file: {_SAVE_AS_CSV}"
        )
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise FakeusersError(
            f"{name} was saved as Excel's 'Unicode Text' (UTF-16), not as a CSV file: "
            f"{_SAVE_AS_CSV}"
        )
    if data[:5] == b"%PDF-":
        raise FakeusersError(
            f"{name} is a PDF document, not a CSV file. Export the log as CSV from the tool "
            "it comes from and upload that file."
        )
    if b"\x00" in data[:SNIFF_BYTES]:
        raise FakeusersError(
            f"{name} is not a CSV file: it is not text (perhaps an image, a document or a "
            "program). Export the log as CSV and upload that file."
        )


_SAVE_AS_CSV = "in Excel choose File > Save As > CSV UTF-8, then upload that file."


def _zip_refusal(name: str, data: bytes | mmap.mmap) -> str:
    """Why a zip-based file is not a CSV log, by what it holds, and what to do instead."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inside = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        inside = []
    if any(n.startswith("xl/") for n in inside):
        return f"{name} is an Excel workbook (.xlsx), not a CSV file: {_SAVE_AS_CSV}"
    if "content.xml" in inside:
        return (
            f"{name} is a LibreOffice or OpenOffice spreadsheet (.ods), not a CSV file: "
            "choose File > Save As > Text CSV, then upload that file."
        )
    logs = [n for n in inside if n.lower().endswith((".csv", ".csv.gz", ".txt"))]
    if logs:
        return (
            f"{name} is a zip archive holding {shown(logs)}, not a CSV file: unzip it and "
            "upload the CSV file itself (a .csv.gz file is read as it is)."
        )
    return (
        f"{name} is a zip archive or a spreadsheet, not a CSV file: if it is a workbook, "
        f"{_SAVE_AS_CSV} If it is an archive, unzip it and upload the CSV log inside."
    )


def _header(name: str, data: bytes | mmap.mmap) -> tuple[list[str], str, str]:
    """The raw header fields, the delimiter and the text encoding."""
    head = data[:SNIFF_BYTES]
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


def _is_utf8(data: bytes | mmap.mmap) -> bool:
    """Whether ``data`` is valid UTF-8: ASCII (most logs; no byte over 127, found 10 times
    faster), or checked by Arrow. Neither copies the bytes."""
    if len(data) and np.frombuffer(data, dtype=np.uint8).max() < 128:
        return True
    buf = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, buf]).validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _canonical(field_name: str) -> str:
    return field_name.strip().strip("\ufeff").strip().strip('"').strip().lower()


def column_positions(name: str, fields: list[str]) -> tuple[dict[str, int], list[str]]:
    """Where each known column is in the header, and the header's other fields.

    Raises a :class:`FakeusersError` for a column named twice or a required one missing.
    """
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
        raise _missing_columns(name, fields, missing)
    return positions, extra


def _missing_columns(name: str, fields: list[str], missing: list[str]) -> FakeusersError:
    """The refusal of a header without required columns, with a guess at why."""
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
    return FakeusersError(
        f"{name} has no {word} {cols} (found: {found}). "
        f"Each row needs UserId, Event and Category.{hint}"
    )


def _parse_rows(
    name: str,
    data: bytes | mmap.mmap,
    n_fields: int,
    positions: dict[str, int],
    delimiter: str,
    encoding: str,
) -> tuple[pa.Table, list[str]]:
    """The rows after the header, as columns ``c<i>``, and the text of the rows skipped.

    Rows are parsed fast (no line breaks inside quotes) and parsed again honouring them only
    when the fast pass skipped rows and the file has quotes.
    """
    bad_rows: list[str] = []

    def skip_row(row: pacsv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    names = [f"c{i}" for i in range(n_fields)]
    include = [f"c{positions[c]}" for c in (*REQUIRED, *OPTIONAL) if c in positions]
    types = {
        f"c{positions[c]}": _DICTIONARY if c in DICTIONARY_COLUMNS else pa.string()
        for c in positions
    }

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
                column_types=types,
                include_columns=include,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        table = parse(encoding, newlines_in_values=False)
        if bad_rows and data.find(b'"') >= 0:
            bad_rows.clear()
            table = parse(encoding, newlines_in_values=True)
    except pa.ArrowInvalid:
        raise unreadable_past_header(name) from None
    return table, bad_rows


def _skipped_rows(
    name: str,
    data: bytes | mmap.mmap,
    bad_rows: list[str],
    n_rows: int,
    n_fields: int,
    encoding: str,
) -> list[str]:
    """Warnings about the rows skipped; a refusal when no row was left.

    A skipped row that swallowed several lines is explained as a quote never closed.
    """
    unclosed = _unclosed_quote(name, data, bad_rows, encoding)
    if n_rows == 0 and bad_rows:
        lines = _line_numbers(data, bad_rows[:1], encoding)
        where = f" (line {lines[0]} is the first)" if lines else ""
        raise FakeusersError(unclosed or no_row_fits(name, n_fields, where))
    warnings = []
    if bad_rows:
        lines = _line_numbers(data, bad_rows[:EXAMPLES], encoding)
        if lines:
            warnings.append(
                f"{name}: rows with a wrong number of fields (expected {n_fields}) at "
                f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
                f"{' and more' if len(bad_rows) > len(lines) else ''}."
            )
        if unclosed:
            warnings.append(unclosed)
    return warnings


def no_rows(name: str) -> FakeusersError:
    return FakeusersError(
        f"{name} has a header but no rows. Export the log again with its data rows."
    )


def _unclosed_quote(
    name: str, data: bytes | mmap.mmap, bad_rows: list[str], encoding: str
) -> str | None:
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


def find_line(data: bytes | mmap.mmap, row: bytes, start: int, *, at_end: bool = True) -> int:
    """Where the first line from ``start`` on that is exactly ``row`` begins; -1 if none is.

    A whole line, not the first place the text occurs: a row cut short (``123,click_ad``) is
    also the end of longer rows (``99123,click_ad,Phone``) and the start of others. ``data``
    ends the file when ``at_end`` (its last line may lack a line break), else it is a block
    of it.
    """
    after = max(start - 1, 0)  # the line break before a line that begins at ``start``
    found = [data.find(b"\n" + row + end, after) for end in (b"\n", b"\r")]
    at = len(data) - len(row)
    if at_end and at >= start and data[at - 1 : len(data)] == b"\n" + row:
        found.append(at - 1)  # the last line, without a line break
    found = [pos + 1 for pos in found if pos >= 0]
    return min(found, default=-1)


def _line_numbers(data: bytes | mmap.mmap, texts: list[str], encoding: str) -> list[int]:
    """Line numbers (1-based) of the first lines that are a few skipped rows' text."""
    lines = []
    start = counted = newlines = 0
    for text in texts:
        pos = find_line(data, text.encode(encoding, errors="replace"), start)
        if pos < 0:
            continue
        # slices of at most 64 MB: a mapped file has no count(), and one slice would copy it
        for at in range(counted, pos, _COUNT_BYTES):
            newlines += data[at : min(at + _COUNT_BYTES, pos)].count(b"\n")
        counted = pos
        lines.append(newlines + 1)
        start = pos + 1
    return lines
