"""A large, plain CSV log read straight into codes by compiled code.

Logs at scale are written by machines: ASCII, no quotes, numeric user IDs, a handful of
events and categories. Such a file is read here by :func:`fakeusers.compiled.scan_rows`,
one part of the file per core, without building a string per row, then its user IDs are
numbered by :func:`fakeusers.compiled.encode_keys`: together about twice as fast as parsing
text columns with pyarrow and dictionary-encoding them (:mod:`fakeusers.csvparse`,
:mod:`fakeusers.encoding`; 10M events: 0.6 s against 1.2 s on two cores).

The result is what that general reader gives, code for code and value for value. Anything
it would treat specially makes this reader give up, and the general one reads the file, so
the load report (warnings, dropped rows, their line numbers) never depends on which reader
ran: quotes, padded or empty values, rows with another number of fields, line breaks other
than ``\\n`` and ``\\r\\n``, text that is not printable ASCII, user IDs that are not 1 to
18 digits without a leading zero, a ``Timestamp`` column, a column with more than
:data:`fakeusers.compiled.MAX_VALUES` values in a part of the file.
"""

from __future__ import annotations

import mmap
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers.csvparse import SNIFF_BYTES, Head, read_head
from fakeusers.encoding import Column
from fakeusers.sources import huge_array

__all__ = ["PLAIN_MIN_BYTES", "PlainFile", "read_plain", "start_compiled"]

#: Files from this size (about 3.1M rows) are tried here: below it, starting numba (a fixed
#: 0.35 s of CPU) costs more than the compiled reading saves. Measured against the general
#: reader (paired): 70 MB 0.09 s slower, 100 MB 0.15 s faster, 130 MB 0.29 s faster.
PLAIN_MIN_BYTES = 88 << 20  # 92 MB
_TEXT = ("Event", "Category", "Fake")  # the text columns, in the order of their roles
_PART_BYTES = 16 << 20  # smaller parts are not worth a thread


@dataclass
class PlainFile:
    """A plain file read into codes.

    Attributes
    ----------
    columns : dict of str to Column
        ``UserId``, ``Event``, ``Category`` and ``Fake`` when the file has it: what
        :func:`fakeusers.encoding.encode_columns` gives for the general reader's table.
    rows : int
        The file's rows after the header.
    head : Head
        What the header says (extra columns, delimiter).
    id_text : pyarrow.StringArray
        The user IDs (``columns["UserId"].values``) as Arrow text.
    """

    columns: dict[str, Column]
    rows: int
    head: Head
    id_text: pa.Array


_started: threading.Event | None = None
_starting = threading.Lock()


def start_compiled(size: int) -> threading.Event:
    """Start numba on a thread, once per process, when a file of ``size`` bytes is about to
    be read: its start (about 0.35 s of CPU: imports, its first call) then overlaps opening
    the file, and :func:`read_plain` finds it done.

    Returns an event set once numba has started, or an event already set when the file is
    too small to need it (a small file never waits for numba).
    """
    global _started
    if size < PLAIN_MIN_BYTES:
        not_needed = threading.Event()
        not_needed.set()
        return not_needed
    with _starting:
        if _started is None:
            _started = threading.Event()
            threading.Thread(
                target=_start, args=(_started,), name="fakeusers-numba", daemon=True
            ).start()
    return _started


def _start(done: threading.Event) -> None:
    try:
        from fakeusers import compiled

        # numba's first call sets it up
        compiled.encode_keys(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int32))
    finally:
        done.set()


def read_plain(name: str, data: bytes | mmap.mmap) -> PlainFile | None:
    """Read a large plain CSV file into codes, or None when it is small or not plain.

    Parameters
    ----------
    name : str
        The file's name, for messages.
    data : bytes or mmap.mmap
        The file's content, as :func:`fakeusers.csvparse.parse_csv` takes it.

    Raises
    ------
    FakeusersError
        As :func:`fakeusers.csvparse.parse_csv`, for a file that is not CSV text or whose
        header lacks a column.
    """
    if len(data) < PLAIN_MIN_BYTES:
        return None
    head = read_head(name, data)  # as the general reader reads it: the same refusals
    start = _rows_start(data)
    if start is None or "Timestamp" in head.positions:
        return None
    from fakeusers import compiled

    roles = np.full(len(head.fields), compiled.SKIP, dtype=np.int64)
    roles[head.positions["UserId"]] = compiled.ID
    for role, column in enumerate(_TEXT):
        if column in head.positions:
            roles[head.positions[column]] = role
    text = np.frombuffer(data, dtype=np.uint8)
    bounds = _parts(data, start, os.cpu_count() or 1)
    scan = _Scan(text, len(head.fields), ord(head.delimiter), roles)
    with ThreadPoolExecutor(max_workers=len(bounds)) as pool:
        parts = list(pool.map(scan, bounds))
        if any(p is None for p in parts) or not sum(p.rows for p in parts):
            return None
        # the parts' codes renumbered over the whole file, on the threads (memory-bound)
        renumber = _Renumber(pool)
        columns = {}
        columns["UserId"], id_text = _user_ids(parts, renumber)
        for role, column in enumerate(_TEXT):
            if column in head.positions:
                columns[column] = _text_column(text, parts, role, renumber)
        renumber.wait()
    return PlainFile(columns, sum(p.rows for p in parts), head, id_text)


def _rows_start(data: bytes | mmap.mmap) -> int | None:
    """Where the rows start: after a header line of printable ASCII (a BOM allowed) without
    quotes, ended by ``\\n`` or ``\\r\\n``; None for any other header."""
    end = data.find(b"\n", 0, SNIFF_BYTES)
    if end < 0:
        return None
    line = bytes(data[:end]).removeprefix(b"\xef\xbb\xbf").removesuffix(b"\r")
    if any(b < 32 or b > 126 or b == 34 for b in line):
        return None
    return end + 1


def _parts(data: bytes | mmap.mmap, start: int, cores: int) -> list[tuple[int, int]]:
    """The rows split into about equal parts at line ends, one per core."""
    n = max(1, min(cores, (len(data) - start) // _PART_BYTES))
    cuts = [start]
    for k in range(1, n):
        at = data.find(b"\n", start + (len(data) - start) * k // n) + 1
        if at <= cuts[-1]:
            break
        cuts.append(at)
    cuts.append(len(data))
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@dataclass
class _Part:
    rows: int
    users: np.ndarray  # per-row codes into ids
    ids: np.ndarray  # distinct user IDs, in order of first appearance
    codes: np.ndarray  # (3, rows) uint8 codes of the text columns
    spans: np.ndarray  # (3, MAX_VALUES, 2) where each value is in the file
    n_values: np.ndarray  # (3,) distinct values per text column


@dataclass
class _Scan:
    """Read one part of the file (on a thread: the kernels release Python's lock)."""

    text: np.ndarray
    n_fields: int
    delimiter: int
    roles: np.ndarray

    def __call__(self, bounds: tuple[int, int]) -> _Part | None:
        from fakeusers import compiled

        start, end = bounds
        # the most rows the part can hold: one character per used field, the delimiters
        # and a line end; pages never written are never given memory
        shortest = int((self.roles != compiled.SKIP).sum()) + self.n_fields
        capacity = (end - start) // shortest + 1
        try:
            keys = huge_array(capacity, np.int64)
            codes = huge_array((len(_TEXT), capacity), np.uint8)
        except (MemoryError, OSError):  # address space refused (strict overcommit)
            return None
        spans = np.zeros((len(_TEXT), compiled.MAX_VALUES, 2), dtype=np.int64)
        n_values = np.zeros(len(_TEXT), dtype=np.int64)
        slots = np.full((len(_TEXT), 512), -1, dtype=np.int16)
        rows = compiled.scan_rows(
            self.text,
            start,
            end,
            self.n_fields,
            self.delimiter,
            self.roles,
            keys,
            codes,
            spans,
            n_values,
            slots,
        )
        if rows < 0:
            return None
        users = huge_array(rows, np.int32)
        ids = compiled.encode_keys(keys[:rows], users)
        return _Part(rows, users, ids, codes[:, :rows], spans, n_values)


@dataclass
class _Renumber:
    """The parts' codes through their columns' renumbering, into one array per column."""

    pool: ThreadPoolExecutor
    jobs: list[Future] = field(default_factory=list)

    def __call__(self, parts: list[_Part], remaps: list[np.ndarray], role: int) -> np.ndarray:
        from fakeusers import compiled

        codes = huge_array(sum(p.rows for p in parts), np.int32)
        at = 0
        for p, remap in zip(parts, remaps, strict=True):
            local = p.users if role == compiled.ID else p.codes[role]
            into = codes[at : at + p.rows]
            self.jobs.append(self.pool.submit(compiled.take, remap, local, into))
            at += p.rows
        return codes

    def wait(self) -> None:
        for job in self.jobs:
            job.result()


def _user_ids(parts: list[_Part], renumber: _Renumber) -> tuple[Column, pa.Array]:
    """The parts' user codes numbered over the whole file with the IDs as text, and the IDs
    as Arrow text."""
    from fakeusers import compiled

    # Each part's distinct IDs are in its order of first appearance and the parts in file
    # order, so numbering them one after the other numbers them as the whole file would.
    distinct = np.concatenate([p.ids for p in parts])
    numbers = np.empty(len(distinct), dtype=np.int32)
    ids = compiled.encode_keys(distinct, numbers)
    ends = np.cumsum([len(p.ids) for p in parts])
    codes = renumber(parts, np.split(numbers, ends[:-1]), compiled.ID)
    return Column(codes, compiled.decimal_text(ids)), pc.cast(pa.array(ids), pa.string())


def _text_column(text: np.ndarray, parts: list[_Part], role: int, renumber: _Renumber) -> Column:
    """A text column's codes over the whole file and its values."""
    number: dict[str, int] = {}
    remaps = []
    for p in parts:
        remap = np.empty(max(int(p.n_values[role]), 1), dtype=np.int32)
        for k in range(int(p.n_values[role])):
            first, length = p.spans[role, k]
            value = text[first : first + length].tobytes().decode("ascii")
            remap[k] = number.setdefault(value, len(number))
        remaps.append(remap)
    return Column(renumber(parts, remaps, role), np.asarray(list(number), dtype=object))
