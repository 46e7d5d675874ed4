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
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers.errors import FakeusersError
from fakeusers.limits import available_memory, format_size, parse_size
from fakeusers.log import LoadReport, Log
from fakeusers.overlaps import duplicate_rows_warning, overlap_warning
from fakeusers.reading import (
    Source,
    check_mangled_ids,
    dropped_rows_warnings,
    encode_tables,
    listed,
    read_logs,
    trimmed_ids_warning,
    unknown_values_warnings,
)
from fakeusers.schema import KNOWN_CATEGORIES, KNOWN_EVENTS
from fakeusers.scoring import Rule, ScoredLog
from fakeusers.spreading import MAX_BLOCK, ROW, Spread

if TYPE_CHECKING:  # imported where used: the command line reads logs before it needs pandas
    import pandas as pd

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
    """Half of the memory available: ``MemAvailable``, or the container's room when lower."""
    available = available_memory()
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
    metrics and the outputs need of a :class:`~fakeusers.log.Log`.

    Attributes
    ----------
    user_ids : numpy.ndarray of str
        In order of first appearance in the whole log.
    labels : numpy.ndarray of int8 or None
        As :attr:`fakeusers.log.Log.labels`.
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
    user_id_text = Log.user_id_text


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

    sources = listed(sources)
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
    block = min(max(part_bytes // 4, 1 << 20), MAX_BLOCK)
    with tempfile.TemporaryDirectory(prefix="fakeusers-partitions-") as tmp:
        say(
            f"Scoring within {format_size(budget)}: {n_parts} partitions of users in "
            f"temporary files under {tmp} ..."
        )
        spread = Spread(Path(tmp), n_parts, block)
        for i, source in enumerate(sources):
            spread.add_file(i, source)
        report = spread.report(overlaps)
        return _score_parts(spread, report, stored, rule, verdicts, overlaps, reasons)


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


def _lines_in_files(text: str, tables: list[pa.Table], spread: Spread) -> str:
    """``text`` with the lines it names (``FILE line N``, as the reader locates a row in the
    tables it was given) turned from lines of a partition into lines of the file."""
    starts = np.concatenate([[0], np.cumsum(spread.file_rows)])

    def file_line(match: re.Match) -> str:
        index = spread.names.index(match.group(1))
        row = int(match.group(2)) - 2  # the reader's line: the header is line 1
        if not 0 <= row < tables[index].num_rows:
            return match.group(0)
        number = tables[index].column(ROW)[row].as_py()
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
    rows = table.column(ROW).to_numpy()[first]
    import pandas as pd

    position = pd.Index(ids.dictionary.to_numpy(zero_copy_only=False)).get_indexer(user_ids)
    return rows[position]


def _score_parts(
    spread: Spread,
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
            log = encode_tables([t.drop_columns([ROW]) for t in tables], part_report)
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
                n_events=log.events_per_user,
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
        out[block] = model.predictor.predict_proba(X)[:, 1]
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
    out = unknown_values_warnings(report)
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
        regenerated.update(dropped_rows_warnings(r))
        regenerated.update(
            overlap_warning(*o["files"], o["users"], o["rows"], r) for o in r.overlaps
        )
        for w in r.warnings:
            found = re.match(r"([\d,]+) user IDs differ from others only by", w)
            if found:
                trimmed += int(found.group(1).replace(",", ""))
                regenerated.add(w)
    if trimmed:
        # As the reader writes it, before every other warning of the encoding.
        report.warnings.append(trimmed_ids_warning(trimmed, report.trimmed_ids))
    others = []
    for r in parts:
        for w in r.warnings:
            if w not in regenerated and _MANGLED_WORDS not in w and w not in others:
                others.append(w)
    order = {name: i for i, name in enumerate(report.files)}
    report.overlaps.sort(key=lambda o: (order[o["files"][0]], order[o["files"][1]]))
    report.warnings += [
        overlap_warning(*o["files"], o["users"], o["rows"], report) for o in report.overlaps
    ]
    report.warnings += others
    report.warnings += _describe_warnings(report)
    check_mangled_ids(report, user_ids)
    for r in parts:
        _merge_dropped(report, r)
    rank = {reason: i for i, reason in enumerate(_DROP_ORDER)}
    report.dropped = dict(sorted(report.dropped.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    report.warnings += dropped_rows_warnings(report)


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
    import pandas as pd

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
        import pandas as pd

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
