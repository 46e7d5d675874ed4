"""Scoring a log of any size within a memory budget: users partitioned to temporary files.

A log whose in-memory scoring would not fit the budget (``predict``/``evaluate``
``--max-memory``; by default half of the memory available) is scored in three passes:

1. each file is streamed with pyarrow's CSV reader, block by block, and every row goes, with
   its row number in the whole log, to one of P partitions chosen by a stable hash of its
   trimmed user ID, appended to an Arrow IPC file in a temporary folder. All of a user's rows
   land in one partition, so every feature, label check and overlap between files is
   computed there as on the whole log;
2. each partition is encoded by the reader's own code (:mod:`fakeusers.reading`), featurized
   and scored by the model, one at a time; its features go to disk for step 3;
3. the users of all partitions are put back in order of first appearance in the whole log,
   and the decision rule, the metrics and the applicability check (on the same sample of
   users as in memory) are applied to the whole population. Reasons, when asked, are
   computed from the stored features against the whole log's reference.

The probabilities, decision and output are the in-memory path's, to the last bit. The
temporary folder is removed on success, on error and on Ctrl-C. The load report is merged
from the partitions; see :func:`score_within` for what it cannot say exactly.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fakeusers.csvparse import _SNIFF_BYTES, _column_positions, _header, _no_rows, _refuse_non_csv
from fakeusers.errors import FakeusersError
from fakeusers.limits import format_size, parse_size
from fakeusers.overlaps import _overlap_warning, duplicate_rows_warning
from fakeusers.quoting import EXAMPLES, shown
from fakeusers.reading import LoadReport, Log, Source, _check_mangled_ids, _encode, read_logs
from fakeusers.schema import KNOWN_CATEGORIES, KNOWN_EVENTS, OPTIONAL, REQUIRED
from fakeusers.scoring import Rule, ScoredLog

__all__ = [
    "BASELINE_BYTES",
    "PEAK_PER_CSV_BYTE",
    "PartitionedScores",
    "Population",
    "default_budget",
    "memory_budget",
    "needs_partitions",
    "score_partitioned",
    "score_within",
]

#: Resident memory of a scoring process before it reads a log (Python, numpy, pyarrow,
#: scikit-learn, a model), measured by ``benchmarks/bench_memory.py``.
BASELINE_BYTES = 300 * 10**6
#: Peak memory of the in-memory path per byte of CSV, above the baseline (measured: ~1.75 GB
#: for a 10M-event, ~330 MB log), with a margin.
PEAK_PER_CSV_BYTE = 6.0
#: A gzip log is assumed to expand this many times (click logs compress 4-6x).
_GZIP_RATIO = 6
_MIN_PART_BYTES = 256 << 10
_MAX_PARTS = 512
_MAX_BLOCK = 16 << 20
_ROW = "__row"  # the row's number in the whole log, carried through the partitions
_MANGLED_WORDS = "like spreadsheet scientific notation"
# The order in which the reader counts dropped rows (and the load report lists them).
_DROP_ORDER = (
    "wrong number of fields",
    "repeated header line",
    "empty UserId",
    "empty Event",
    "empty Category",
)


def default_budget() -> int:
    """Half of the memory available: ``MemAvailable``, or the cgroup's limit when lower."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except OSError:
        pass
    for path, used in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            limit = int(Path(path).read_text().strip())
            room = limit - int(Path(used).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit < 2**60:  # "max" or a huge number: no limit
            available = room if available is None else min(available, room)
    if available is None:
        return 4 * 1024**3
    return max(available // 2, 256 * 1024**2)


def memory_budget(text: str | None) -> int:
    """The budget in bytes from ``--max-memory`` (``700MB``, ``4GB``), or the default.

    Raises
    ------
    FakeusersError
        For a value that is not a size, naming the option and sizes that work.
    """
    if text is None:
        return default_budget()
    try:
        return parse_size(text)
    except FakeusersError as exc:
        raise FakeusersError(f"--max-memory: {exc}") from None


def _data_bytes(source: Source) -> int:
    """Estimated decompressed size of one log."""
    if isinstance(source, tuple):
        return len(source[1])
    path = Path(source)
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            magic = fh.read(2)
    except OSError:
        return 0  # the reader says what is wrong with the path
    return size * _GZIP_RATIO if magic == b"\x1f\x8b" else size


def needs_partitions(sources: Sequence[Source], budget: int) -> bool:
    """Whether scoring ``sources`` in memory would exceed ``budget`` bytes."""
    data = sum(_data_bytes(s) for s in sources)
    return BASELINE_BYTES + PEAK_PER_CSV_BYTE * data > budget


@dataclasses.dataclass
class Population:
    """The users of a log scored in partitions, without its rows: what the decision, the
    metrics and the outputs need of a :class:`~fakeusers.reading.Log`.

    Attributes
    ----------
    user_ids : numpy.ndarray of str
        In order of first appearance in the whole log.
    labels : numpy.ndarray of int8 or None
        As :attr:`fakeusers.reading.Log.labels`.
    report : LoadReport
        Merged from the partitions.
    """

    user_ids: np.ndarray
    labels: np.ndarray | None
    report: LoadReport

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_rows(self) -> int:
        return self.report.rows

    require_labels = Log.require_labels


@dataclasses.dataclass(frozen=True, eq=False)
class PartitionedScores(ScoredLog):
    """A :class:`~fakeusers.scoring.ScoredLog` of a log scored in partitions.

    Its ``log`` is a :class:`Population` (users, labels, report; no rows): the decision,
    verdicts, metrics, applicability, the per-user output and the reasons computed while
    scoring are available; explanations of single users and feature importance are not.
    """

    events_per_user: np.ndarray | None = None
    reasons_per_user: list | None = dataclasses.field(default=None, repr=False)

    @property
    def n_events(self) -> np.ndarray:
        return self.events_per_user

    def reasons(self, users: Sequence[int]) -> list:
        if self.reasons_per_user is None:
            raise FakeusersError(
                "Reasons of a log scored within --max-memory are computed while scoring: "
                "ask for them up front (predict --reasons)."
            )
        return [self.reasons_per_user[int(u)] for u in users]


def score_within(
    sources: Source | Sequence[Source],
    *,
    budget: int,
    store: Any,
    model: str | None = None,
    rule: Rule | None = None,
    verdicts: Mapping[str, Any] | None = None,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
    reasons: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ScoredLog:
    """Score ``sources`` in memory when they fit ``budget``, else in partitions.

    Same arguments and result as :func:`fakeusers.scoring.score_sources`, plus ``budget``
    (bytes), ``reasons`` (compute every user's reasons while scoring, for ``predict
    --reasons``) and ``progress`` (a callable for messages).

    In partitions the probabilities and the decision equal the in-memory ones. The load
    report's counts are merged exactly; warnings that name lines (bad ``Fake`` values, label
    conflicts, timestamps) or count per value (IDs merged by trimming) are those of the
    partition that found them. The model's own training log cannot be recognised without
    holding it: when the log has its size, a warning says to score it without
    ``--max-memory``.
    """
    from fakeusers.scoring import score_sources

    if isinstance(sources, (str, os.PathLike, tuple)):
        sources = [sources]
    sources = list(sources)
    if not needs_partitions(sources, budget):
        return score_sources(
            sources, store=store, model=model, rule=rule, verdicts=verdicts, overlaps=overlaps
        )
    return score_partitioned(
        sources,
        budget=budget,
        store=store,
        model=model,
        rule=rule,
        verdicts=verdicts,
        overlaps=overlaps,
        reasons=reasons,
        progress=progress,
    )


def score_partitioned(
    sources: Sequence[Source],
    *,
    budget: int,
    store: Any,
    model: str | None = None,
    rule: Rule | None = None,
    verdicts: Mapping[str, Any] | None = None,
    overlaps: Literal["keep_one", "keep_all"] = "keep_one",
    reasons: bool = False,
    progress: Callable[[str], None] | None = None,
) -> PartitionedScores:
    """Score ``sources`` one partition of users at a time (see the module's docstring)."""
    say = progress or (lambda _message: None)
    if not sources:
        read_logs(sources)  # the reader's refusal of no files
    name, version = store.resolve(model)
    stored = store.load(f"{name}@{version}")
    data = sum(_data_bytes(s) for s in sources)
    usable = budget - BASELINE_BYTES
    if usable <= 0:
        say(
            f"warning: --max-memory {format_size(budget)} is below what fakeusers itself "
            f"needs (about {format_size(BASELINE_BYTES)}); scoring in the smallest parts."
        )
    part_bytes = max(int(usable / PEAK_PER_CSV_BYTE), _MIN_PART_BYTES)
    n_parts = min(max(math.ceil(data / part_bytes), 2), _MAX_PARTS)
    block = min(max(part_bytes // 4, 1 << 20), _MAX_BLOCK)
    with tempfile.TemporaryDirectory(prefix="fakeusers-partitions-") as tmp:
        say(
            f"Scoring within {format_size(budget)}: {n_parts} partitions of users in "
            f"temporary files under {tmp} ..."
        )
        spread = _Spread(Path(tmp), n_parts, block)
        for i, source in enumerate(sources):
            spread.add_file(i, source)
        report = spread.report(overlaps)
        return _score_parts(spread, report, stored, rule, verdicts, overlaps, reasons)


class _Spread:
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
            head = fh.read(_SNIFF_BYTES)
        _refuse_non_csv(name, head)
        fields, delimiter, _ = _header(name, head)
        positions, extra = _column_positions(name, fields)
        if b"\n" not in head and b"\r" not in head:
            raise _no_rows(name)
        cut = max(head.rfind(b"\n"), head.rfind(b"\r"))
        encoding = "utf-8" if _utf8(head[: cut + 1]) else "latin-1"
        warnings = []
        if extra:
            warnings.append(f"{name}: extra columns ignored: {shown(extra)}.")
            self.extra[name] = extra
        if delimiter != ",":
            named = {";": "semicolons", "\t": "tabs", "|": "pipes"}[delimiter]
            warnings.append(f"{name} uses {named} as the delimiter; read it that way.")
        attempt = (encoding, False)
        while True:
            try:
                rows = self._stream(index, open_stream, fields, positions, delimiter, attempt)
            except _Redo as redo:
                attempt = redo.attempt
                continue
            except pa.ArrowInvalid:
                raise FakeusersError(
                    f"{name} cannot be read as CSV past its header: the file may be damaged or "
                    "cut off. Export it again as comma-separated CSV with one row per action."
                ) from None
            bad_rows = self.bad_rows
            if bad_rows and not attempt[1] and _has_quote(open_stream):
                attempt = (attempt[0], True)
                self._discard(index)
                continue
            break
        if attempt[0] == "latin-1":
            warnings.append(f"{name} is not UTF-8; read it as Latin-1.")
        if rows == 0:
            if bad_rows:
                raise FakeusersError(
                    f"{name}: no row has the header's {len(fields)} fields. Check the "
                    "delimiter and the quotes, and export the log again as comma-separated CSV."
                )
            raise _no_rows(name)
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
                        [*batch.columns, pa.array(numbers)], names=[*wanted, _ROW]
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
                    | {_ROW: pa.array([], pa.int64())}
                )
            out.append(table.select([*self.shared, _ROW]))
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
    try:
        with path.open("rb") as fh:
            magic = fh.read(2)
    except FileNotFoundError:
        raise FakeusersError(f"{path}: no such file. Check the path.") from None
    except IsADirectoryError:
        raise FakeusersError(f"{path} is a folder, not a CSV file.") from None
    except OSError as exc:
        raise FakeusersError(f"{path} cannot be read: {exc.strerror}.") from None
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
        while chunk := fh.read(_MAX_BLOCK):
            if b'"' in chunk:
                return True
    return False


def _line_numbers(open_stream: Callable[[], Any], texts: list[str], encoding: str) -> list[int]:
    """Line numbers (1-based) of the first occurrences of a few skipped rows' text, found by
    streaming the file (as :mod:`fakeusers.csvparse` finds them in memory)."""
    targets = [t.encode(encoding, errors="replace") for t in texts]
    lines: list[int] = []
    line = 1
    tail = b""
    with open_stream() as fh:
        while targets and (chunk := fh.read(_MAX_BLOCK)):
            data = tail + chunk
            start = 0
            while targets:
                pos = data.find(targets[0], start)
                if pos < 0:
                    break
                lines.append(line + data.count(b"\n", 0, pos))
                targets.pop(0)
                start = pos + 1
            keep = min(len(data), max((len(t) for t in targets), default=0))
            line += data.count(b"\n", 0, len(data) - keep)
            tail = data[len(data) - keep :]
    return lines


def _partition_of(user_ids: pa.Array, n_parts: int) -> np.ndarray:
    """Each row's partition: a stable hash of its trimmed user ID (the same in every run,
    block and file, so all of a user's rows land in one partition)."""
    encoded = pc.utf8_trim_whitespace(user_ids).dictionary_encode()
    values = encoded.dictionary.to_numpy(zero_copy_only=False)
    hashed = pd.util.hash_array(values.astype(object)) % np.uint64(n_parts)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    return hashed.astype(np.int32)[codes]


@dataclasses.dataclass
class _Part:
    """One partition's users, scored."""

    user_ids: np.ndarray
    first_rows: np.ndarray
    labels: np.ndarray | None
    n_events: np.ndarray
    features: Path
    report: LoadReport
    unseen_rows: int


def _lines_in_files(text: str, tables: list[pa.Table], spread: _Spread) -> str:
    """``text`` with the lines it names (``FILE line N``, as the reader locates a row in the
    tables it was given) turned from lines of a partition into lines of the file."""
    starts = np.concatenate([[0], np.cumsum(spread.file_rows)])

    def file_line(match: re.Match) -> str:
        index = spread.names.index(match.group(1))
        row = int(match.group(2)) - 2  # the reader's line: the header is line 1
        if not 0 <= row < tables[index].num_rows:
            return match.group(0)
        number = tables[index].column(_ROW)[row].as_py()
        return f"{match.group(1)} line {number - starts[index] + 2}"

    names = "|".join(re.escape(n) for n in spread.names)
    return re.sub(rf"({names}) line (\d+)", file_line, text)


def _first_rows(tables: list[pa.Table], user_ids: np.ndarray) -> np.ndarray:
    """The row number in the whole log of each user's first usable row.

    A row is usable when its trimmed Event and Category are not empty (as the reader keeps
    them); repeated rows of an overlap come after the user's first rows, and a repeated
    header is not a user of the log.
    """
    table = pa.concat_tables(tables)
    usable = pc.and_(
        pc.not_equal(pc.utf8_trim_whitespace(table.column("Event")), ""),
        pc.not_equal(pc.utf8_trim_whitespace(table.column("Category")), ""),
    )
    table = table.filter(usable)
    ids = pc.utf8_trim_whitespace(table.column("UserId")).combine_chunks().dictionary_encode()
    codes = ids.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)
    rows = table.column(_ROW).to_numpy()[first]
    position = pd.Index(ids.dictionary.to_numpy(zero_copy_only=False)).get_indexer(user_ids)
    return rows[position]


def _score_parts(
    spread: _Spread,
    report: LoadReport,
    stored: Any,
    rule: Rule | None,
    verdicts: Mapping[str, Any] | None,
    overlaps: str,
    with_reasons: bool,
) -> PartitionedScores:
    from fakeusers.applicability import _unseen
    from fakeusers.features import featurize

    model = stored.model
    parts: list[_Part] = []
    for part in range(spread.n_parts):
        tables = spread.tables(part)
        if sum(t.num_rows for t in tables) == 0:
            continue
        part_report = LoadReport(files=list(spread.names), overlaps_kept=overlaps)
        part_report.file_rows = [t.num_rows for t in tables]
        try:
            log = _encode([t.drop_columns([_ROW]) for t in tables], part_report)
        except FakeusersError as exc:
            if "no usable rows left" in str(exc):
                _merge_dropped(report, part_report)  # every row of this partition dropped
                continue
            raise FakeusersError(_lines_in_files(str(exc), tables, spread)) from None
        part_report.warnings = [_lines_in_files(w, tables, spread) for w in part_report.warnings]
        first = _first_rows(tables, log.user_ids)
        del tables
        X = featurize(log, model.vocabulary)
        features = spread.folder / f"features{part:04d}.arrow"
        with (
            pa.OSFile(str(features), "wb") as sink,
            pa.ipc.new_file(sink, pa.Schema.from_pandas(X, preserve_index=False)) as writer,
        ):
            writer.write_table(pa.Table.from_pandas(X, preserve_index=False))
        unseen = _unseen(model, log)
        parts.append(
            _Part(
                user_ids=log.user_ids,
                first_rows=first,
                labels=log.labels,
                n_events=np.bincount(log.user_codes, minlength=log.n_users),
                features=features,
                report=part_report,
                unseen_rows=round(unseen["row_share"] * log.n_rows),
            )
        )
        del log, X
    if not parts:
        raise FakeusersError(
            f"{', '.join(report.files)}: no usable rows left "
            f"({', '.join(f'{k}: {v:,}' for k, v in report.dropped.items())}). "
            "Each row needs a UserId, an Event and a Category."
        )
    # Users in order of first appearance in the whole log.
    order = np.argsort(np.concatenate([q.first_rows for q in parts]), kind="stable")
    sizes = [len(q.user_ids) for q in parts]
    part_of = np.repeat(np.arange(len(parts)), sizes)[order]
    local = np.concatenate([np.arange(n) for n in sizes])[order]
    user_ids = np.concatenate([q.user_ids for q in parts])[order]
    p = _probabilities(model, parts, part_of, local)
    labels = _merged_labels(parts, report.files)
    labels = None if labels is None else labels[order]
    n_events = np.concatenate([q.n_events for q in parts])[order]
    _merge_reports(report, [q.report for q in parts], user_ids, labels)
    unseen = _merged_unseen(parts, model, report)
    measured = _measured(model, parts, part_of, local, p, unseen)
    if _looks_like_training_log(model, report, len(p)):
        report.warnings.append(
            "This log has as many rows and users as the model's training log, but a log "
            "scored within --max-memory is not compared with it: if it is that log, these "
            "probabilities are in-sample, not out-of-fold. Score it without --max-memory "
            "(or with more memory) to use the out-of-fold ones."
        )
    reasons = _reasons(model, parts, part_of, local) if with_reasons else None
    population = Population(user_ids=user_ids, labels=labels, report=report)
    scored = PartitionedScores(
        population,
        model,
        stored.ref,
        p,
        False,
        None,
        None,
        _memo={"_measured": measured},
        events_per_user=n_events,
        reasons_per_user=reasons,
    )
    return scored.with_verdicts(verdicts).with_rule(rule)


def _probabilities(
    model: Any, parts: list[_Part], part_of: np.ndarray, local: np.ndarray
) -> np.ndarray:
    """The users' probabilities, asking the model in the in-memory path's blocks of users
    (:func:`fakeusers.models.probabilities`), so that they are the same to the last bit."""
    from fakeusers.models import PREDICT_ROWS

    out = np.empty(len(part_of), dtype=np.float64)
    for start in range(0, len(part_of), PREDICT_ROWS):
        block = slice(start, start + PREDICT_ROWS)
        X = _read_features(parts, part_of[block], local[block])
        out[block] = model.pipeline.predict_proba(X)[:, 1]
    return out


def _merge_dropped(report: LoadReport, part: LoadReport) -> None:
    for reason, n in part.dropped.items():
        report.dropped[reason] = report.dropped.get(reason, 0) + n


def _merged_labels(parts: list[_Part], files: list[str]) -> np.ndarray | None:
    labelled = [q.labels is not None for q in parts]
    if not any(labelled):
        return None
    if not all(labelled):
        raise FakeusersError(
            f"{', '.join(files)}: the Fake column is empty for some users and 0 or 1 for "
            "others, but must be 0 (real user) or 1 (fake user) on every row. Fix those "
            "values, or remove the Fake column to score the log without labels."
        )
    return np.concatenate([q.labels for q in parts])


def _summed(counts: list[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in counts:
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return dict(sorted(total.items(), key=lambda kv: -kv[1]))


def _describe_warnings(report: LoadReport) -> list[str]:
    """The warnings :func:`fakeusers.reading.read_logs` writes from a report's counts."""
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
    if report.duplicate_rows:
        out.append(duplicate_rows_warning(report))
    return out


def _merge_reports(
    report: LoadReport, parts: list[LoadReport], user_ids: np.ndarray, labels: np.ndarray | None
) -> None:
    """Complete the streaming parse's ``report`` with the partitions' counts."""
    report.rows = sum(r.rows for r in parts)
    report.users = len(user_ids)
    report.labelled = labels is not None
    report.fake_users = None if labels is None else int((labels == 1).sum())
    report.has_timestamps = any(r.has_timestamps for r in parts)
    report.events = _summed([r.events for r in parts])
    report.categories = _summed([r.categories for r in parts])
    report.unknown_events = [v for v in report.events if v not in KNOWN_EVENTS]
    report.unknown_categories = [v for v in report.categories if v not in KNOWN_CATEGORIES]
    for key in ("duplicate_rows", "duplicate_rows_across_files"):
        values = [getattr(r, key) for r in parts if getattr(r, key) is not None]
        setattr(report, key, sum(values) if values else None)
    pairs: dict[tuple[str, ...], dict] = {}
    for r in parts:
        for o in r.overlaps:
            key = tuple(o["files"])
            merged = pairs.setdefault(key, {"files": list(key), "users": 0, "rows": 0})
            merged["users"] += o["users"]
            merged["rows"] += o["rows"]
    report.overlaps = list(pairs.values())
    report.label_conflicts = [u for r in parts for u in r.label_conflicts]
    report.trimmed_ids = [u for r in parts for u in r.trimmed_ids][:3]
    # Warnings found inside a partition (trimmed IDs, labels, timestamps, duplicates,
    # overlaps) once each; those written from counts are written again from the merged counts.
    regenerated = set()
    trimmed = 0
    for r in parts:
        regenerated.update(_describe_warnings(r))
        regenerated.update(
            f"{count:,} rows dropped: {reason}." for reason, count in r.dropped.items()
        )
        regenerated.update(
            _overlap_warning(*o["files"], o["users"], o["rows"], r) for o in r.overlaps
        )
        for w in r.warnings:
            found = re.match(r"([\d,]+) user IDs differ from others only by", w)
            if found:
                trimmed += int(found.group(1).replace(",", ""))
                regenerated.add(w)
    if trimmed:
        # As the reader writes it, before every other warning of the encoding.
        report.warnings.append(
            f"{trimmed:,} user IDs differ from others only by spaces, tabs or line breaks "
            f"around them and were read as the same users, e.g. {'; '.join(report.trimmed_ids)}. "
            "If they are different users, fix the IDs in the source."
        )
    others = []
    for r in parts:
        for w in r.warnings:
            if w not in regenerated and _MANGLED_WORDS not in w and w not in others:
                others.append(w)
    order = {name: i for i, name in enumerate(report.files)}
    report.overlaps.sort(key=lambda o: (order[o["files"][0]], order[o["files"][1]]))
    report.warnings += [
        _overlap_warning(*o["files"], o["users"], o["rows"], report) for o in report.overlaps
    ]
    report.warnings += others
    report.warnings += _describe_warnings(report)
    _check_mangled_ids(report, user_ids)
    for r in parts:
        _merge_dropped(report, r)
    rank = {reason: i for i, reason in enumerate(_DROP_ORDER)}
    report.dropped = dict(sorted(report.dropped.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    for reason, count in report.dropped.items():
        report.warnings.append(f"{count:,} rows dropped: {reason}.")


def _merged_unseen(parts: list[_Part], model: Any, report: LoadReport) -> dict[str, Any]:
    """Events and categories the model does not know, over the whole log."""
    out: dict[str, Any] = {"events": [], "categories": [], "row_share": 0.0}
    for key, counts, known in (
        ("events", report.events, model.vocabulary.events),
        ("categories", report.categories, model.vocabulary.categories),
    ):
        out[key] = [{"value": v, "rows": n} for v, n in counts.items() if v not in known]
    rows = sum(q.report.rows for q in parts)
    if rows:
        out["row_share"] = sum(q.unseen_rows for q in parts) / rows
    return out


def _read_features(parts: list[_Part], part_of: np.ndarray, local: np.ndarray) -> pd.DataFrame:
    """Features of some users (given by partition and position in it), in that order."""
    pieces = []
    where = np.empty(len(part_of), dtype=np.int64)
    done = 0
    for k in np.unique(part_of):
        hit = np.flatnonzero(part_of == k)
        with pa.memory_map(str(parts[k].features)) as source:
            table = pa.ipc.open_file(source).read_all()
            pieces.append(table.take(pa.array(local[hit])).to_pandas())
        where[hit] = np.arange(done, done + len(hit))
        done += len(hit)
    X = pd.concat(pieces, ignore_index=True)
    return X.iloc[where].reset_index(drop=True)


def _measured(
    model: Any,
    parts: list[_Part],
    part_of: np.ndarray,
    local: np.ndarray,
    p: np.ndarray,
    unseen: dict[str, Any],
) -> Any:
    """The applicability check's measures, on the users the in-memory check samples."""
    from fakeusers.applicability import _sample, measure

    rows = _sample(len(p))
    if rows is None:
        rows = np.arange(len(p))
    X = _read_features(parts, part_of[rows], local[rows])
    # The unseen values were counted over the whole log: measure them on no rows here.
    measured = measure(model, SimpleNamespace(event_codes=np.zeros(0, np.int32)), X, p)
    return dataclasses.replace(measured, unseen=unseen)


def _looks_like_training_log(model: Any, report: LoadReport, n_users: int) -> bool:
    training = getattr(model, "training", None) or {}
    return training.get("rows") == report.rows and len(model.oof_p) == n_users


def _reasons(model: Any, parts: list[_Part], part_of: np.ndarray, local: np.ndarray) -> list:
    """Every user's reasons, in the population's order, from the stored features and the
    reference the in-memory path computes on the whole log."""
    from fakeusers import explain
    from fakeusers.reasons import explain_in_words

    reference = None
    if explain.needs_reference(model):
        n_users = len(part_of)
        rng = np.random.default_rng(0)
        users = np.sort(
            rng.choice(n_users, size=min(explain.REFERENCE_SAMPLE, n_users), replace=False)
        )
        X = _read_features(parts, part_of[users], local[users])
        values = X.to_numpy(dtype=np.float64)
        medians = np.full(values.shape[1], np.nan)
        present = ~np.isnan(values).all(axis=0)
        medians[present] = np.nanmedian(values[:, present], axis=0)
        reference = pd.Series(medians, index=X.columns, name="reference")
    percentiles = (model.profile or {}).get("real_percentiles")
    out: list = [None] * len(part_of)
    for k in range(len(parts)):
        hit = np.flatnonzero(part_of == k)
        X = _read_features(parts, part_of[hit], local[hit])
        contrib = explain.contributions(model, X, reference)
        for i, r in zip(hit, explain_in_words(contrib, X, percentiles), strict=True):
            out[i] = r
    return out
