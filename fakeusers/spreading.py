"""Streaming a log into partitions of users: each row, with its row number in the whole log,
appended to one of P temporary Arrow IPC files chosen by a stable hash of its trimmed user ID.

The first pass of :mod:`fakeusers.partitioned`: files are read block by block with pyarrow's
CSV reader (plain or gzip), with the reader's own header, dialect and encoding rules, so a
partition holds what the whole-log reader would have read for its users.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fakeusers.csvparse import (
    SNIFF_BYTES,
    find_line,
    latin1_warning,
    no_row_fits,
    no_rows,
    read_head,
    unreadable_past_header,
)
from fakeusers.errors import FakeusersError
from fakeusers.log import LoadReport
from fakeusers.quoting import EXAMPLES
from fakeusers.reading import Source
from fakeusers.schema import OPTIONAL, REQUIRED
from fakeusers.sources import file_errors

__all__ = ["MAX_BLOCK", "ROW", "Spread"]

MAX_BLOCK = 16 << 20  # the largest CSV block read at once
ROW = "__row"  # the row's number in the whole log, carried through the partitions


class Spread:
    """The log's rows spread over partition files, and what the streaming parse saw."""

    def __init__(self, folder: Path, n_parts: int, block: int) -> None:
        self.folder = folder
        self.n_parts = n_parts
        self.block = block
        self.names: list[str] = []
        self.columns: list[list[str]] = []
        self.file_rows: list[int] = []
        self.extra: dict[str, list[str]] = {}
        self.warnings: list[str] = []
        self.skipped = 0
        self.next_row = 0
        # The file being streamed: the first rows skipped (their text) and how many.
        self.bad_rows: list[str] = []
        self.n_bad = 0

    def path(self, part: int, file: int) -> Path:
        return self.folder / f"part{part:04d}-file{file:04d}.arrow"

    def add_file(self, index: int, source: Source) -> None:
        name, open_stream = _opener(source)
        with open_stream() as fh:
            head = fh.read(SNIFF_BYTES)
        header = read_head(name, head)
        fields, positions, delimiter = header.fields, header.positions, header.delimiter
        if b"\n" not in head and b"\r" not in head:
            raise no_rows(name)
        cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
        encoding = "utf-8" if _utf8(head[: cut + 1]) else "latin-1"
        warnings = header.warnings(name)
        if header.extra:
            self.extra[name] = header.extra
        attempt = (encoding, False)
        while True:
            try:
                rows = self._stream(index, open_stream, fields, positions, delimiter, attempt)
            except _Redo as redo:
                attempt = redo.attempt
                continue
            except pa.ArrowInvalid:
                raise unreadable_past_header(name) from None
            bad_rows = self.bad_rows
            if bad_rows and not attempt[1] and _has_quote(open_stream):
                attempt = (attempt[0], True)
                self._discard(index)
                continue
            break
        if attempt[0] == "latin-1":
            warnings.append(latin1_warning(name))
        if rows == 0:
            if bad_rows:
                raise FakeusersError(no_row_fits(name, len(fields)))
            raise no_rows(name)
        if bad_rows:
            lines = _line_numbers(open_stream, bad_rows[:EXAMPLES], attempt[0])
            if lines:
                warnings.append(
                    f"{name}: rows with a wrong number of fields (expected {len(fields)}) at "
                    f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
                    f"{' and more' if len(bad_rows) > len(lines) else ''}."
                )
        self.names.append(name)
        self.columns.append([c for c in (*REQUIRED, *OPTIONAL) if c in positions])
        self.file_rows.append(rows)
        self.skipped += self.n_bad
        self.warnings += warnings
        self.next_row += rows

    def _discard(self, index: int) -> None:
        for part in range(self.n_parts):
            self.path(part, index).unlink(missing_ok=True)

    def _stream(
        self,
        index: int,
        open_stream: Callable[[], Any],
        fields: list[str],
        positions: dict[str, int],
        delimiter: str,
        attempt: tuple[str, bool],
    ) -> int:
        """Spread one file's rows over the partitions; the number of rows read."""
        encoding, newlines_in_values = attempt
        self.bad_rows = []
        self.n_bad = 0

        def skip_row(row: pacsv.InvalidRow) -> str:
            if len(self.bad_rows) < EXAMPLES + 1:
                self.bad_rows.append(row.text)
            self.n_bad += 1
            return "skip"

        names = [f"c{i}" for i in range(len(fields))]
        wanted = [c for c in (*REQUIRED, *OPTIONAL) if c in positions]
        include = [f"c{positions[c]}" for c in wanted]
        rows = 0
        try:
            with ExitStack() as stack:
                fh = stack.enter_context(open_stream())
                reader = pacsv.open_csv(
                    fh,
                    read_options=pacsv.ReadOptions(
                        column_names=names,
                        skip_rows=1,
                        block_size=self.block,
                        encoding=encoding,
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
                writers: dict[int, Any] = {}
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    if batch.num_rows == 0:
                        continue
                    numbers = np.arange(self.next_row + rows, self.next_row + rows + batch.num_rows)
                    batch = pa.RecordBatch.from_arrays(
                        [*batch.columns, pa.array(numbers)], names=[*wanted, ROW]
                    )
                    rows += batch.num_rows
                    self._write(batch, index, writers, stack)
        except pa.ArrowInvalid as exc:
            if rows == 0 and "empty csv" in str(exc).lower():
                return 0  # a header and nothing else
            self._maybe_latin1(exc, index, encoding, newlines_in_values)
            raise
        return rows

    def _maybe_latin1(self, exc: Exception, index: int, encoding: str, newlines: bool) -> None:
        if encoding == "utf-8" and "UTF8" in str(exc).upper().replace("-", ""):
            self._discard(index)
            raise _Redo(("latin-1", newlines)) from None

    def _write(
        self,
        batch: pa.RecordBatch,
        index: int,
        writers: dict[int, Any],
        stack: ExitStack,
    ) -> None:
        part = _partition_of(batch.column("UserId"), self.n_parts)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.n_parts + 1))
        ordered = batch.take(pa.array(order))
        for p in range(self.n_parts):
            start, stop = int(bounds[p]), int(bounds[p + 1])
            if start == stop:
                continue
            if p not in writers:
                sink = stack.enter_context(pa.OSFile(str(self.path(p, index)), "wb"))
                writers[p] = stack.enter_context(pa.ipc.new_stream(sink, batch.schema))
            writers[p].write_batch(ordered.slice(start, stop - start))

    def report(self, overlaps: str) -> LoadReport:
        """The load report as far as the streaming parse knows it."""
        report = LoadReport(files=list(self.names), overlaps_kept=overlaps)
        report.extra_columns = dict(self.extra)
        report.file_rows = list(self.file_rows)
        if self.skipped:
            report.dropped["wrong number of fields"] = self.skipped
        report.warnings = list(self.warnings)
        present = set().union(*map(set, self.columns))
        self.shared = [c for c in (*REQUIRED, *OPTIONAL) if c in present]
        for label in OPTIONAL:
            missing = [
                n for n, cols in zip(self.names, self.columns, strict=True) if label not in cols
            ]
            if label in present and missing:
                report.warnings.append(
                    f"{label} column ignored: {', '.join(missing)} has none while other files do."
                )
                self.shared.remove(label)
        return report

    def tables(self, part: int) -> list[pa.Table]:
        """One table per file of one partition, with the columns all files share."""
        out = []
        for index in range(len(self.names)):
            path = self.path(part, index)
            if path.exists():
                with pa.OSFile(str(path), "rb") as fh:
                    table = pa.ipc.open_stream(fh).read_all()
            else:
                table = pa.table(
                    {c: pa.array([], pa.string()) for c in self.columns[index]}
                    | {ROW: pa.array([], pa.int64())}
                )
            out.append(table.select([*self.shared, ROW]))
        return out


class _Redo(Exception):
    """Stream the file again with another encoding or quoting."""

    def __init__(self, attempt: tuple[str, bool]) -> None:
        self.attempt = attempt


def _opener(source: Source) -> tuple[str, Callable[[], Any]]:
    """The file's name and a function opening its (decompressed) content as a stream."""
    if isinstance(source, tuple):
        name, data = source
        data = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        return Path(str(name)).name, lambda: pa.BufferReader(data)
    path = Path(source)
    with file_errors(path), path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return path.name, lambda: pa.PythonFile(_GzipChecked(path), mode="r")
    return path.name, lambda: pa.OSFile(str(path), "rb")


class _GzipChecked(gzip.GzipFile):
    """A gzip file whose damage is a :class:`FakeusersError` naming it."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path), "rb")
        self._name = path.name

    def read(self, size: int = -1) -> bytes:
        try:
            return super().read(size)
        except (OSError, EOFError, gzip.BadGzipFile):
            raise FakeusersError(
                f"{self._name} is a damaged gzip file. Compress it again or upload the plain CSV."
            ) from None


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_quote(open_stream: Callable[[], Any]) -> bool:
    with open_stream() as fh:
        while chunk := fh.read(MAX_BLOCK):
            if b'"' in chunk:
                return True
    return False


def _line_numbers(open_stream: Callable[[], Any], texts: list[str], encoding: str) -> list[int]:
    """Line numbers (1-based) of the first lines that are a few skipped rows' text, found by
    streaming the file (as :mod:`fakeusers.csvparse` finds them in memory)."""
    targets = [t.encode(encoding, errors="replace") for t in texts]
    lines: list[int] = []
    line = 1
    tail = b""
    with open_stream() as fh:
        while targets:
            chunk = fh.read(MAX_BLOCK)
            data = tail + chunk
            start = 0
            while targets:
                # a block's last line may go on in the next block: only the file's may end it
                pos = find_line(data, targets[0], start, at_end=not chunk)
                if pos < 0:
                    break
                lines.append(line + data.count(b"\n", 0, pos))
                targets.pop(0)
                start = pos + 1
            if not chunk:
                break
            # what a line that goes on in the next block needs: its line break before it
            keep = min(len(data), max((len(t) for t in targets), default=-1) + 1)
            line += data.count(b"\n", 0, len(data) - keep)
            tail = data[len(data) - keep :]
    return lines


def _partition_of(user_ids: pa.Array, n_parts: int) -> np.ndarray:
    """Each row's partition: a stable hash of its trimmed user ID (the same in every run,
    block and file, so all of a user's rows land in one partition)."""
    encoded = pc.utf8_trim_whitespace(user_ids).dictionary_encode()
    values = encoded.dictionary.to_numpy(zero_copy_only=False)
    import pandas as pd  # here: scoring in memory never partitions, nor needs it early

    hashed = pd.util.hash_array(values.astype(object)) % np.uint64(n_parts)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return hashed.astype(np.int32)[codes]
