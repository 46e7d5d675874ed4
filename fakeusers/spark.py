"""Scoring on Apache Spark: the same features and the same stored model, beyond one machine.

``python -m fakeusers predict LOGS... OUTPUT --engine spark`` comes here. Nothing else imports
this module, and it imports ``pyspark`` only when called (an optional extra:
``pip install -r requirements-spark.txt``).

How a log is scored:

1. Spark reads each input (CSV, or Parquet when the path ends in ``.parquet``; local, HDFS
   or S3 URLs), finds the columns by the same header rules as the local reader
   (:func:`fakeusers.csvparse.header_columns`), trims the values, drops repeated header lines
   and rows without a user, event or category, and tags every row with where it comes from:
   (input, file, block, row within the Spark partition), which sorts as the file's order.
2. Users are hashed into buckets (``spark.sql.shuffle.partitions`` of them); each bucket goes
   to one Python worker as an Arrow table (``groupBy().applyInArrow``), which sorts it into
   file order, reads it with :func:`fakeusers.reading.read_table` (the local reader's
   cleaning and timestamp parsing), computes :func:`fakeusers.features.featurize` with the
   model's vocabulary and the stored pipeline's probabilities. The model, loaded and checked
   on the driver from the store (skops, trusted types), travels to the workers in Spark's
   closure.
3. The driver collects one row per user (ID, probability, events, first row) and puts the
   users in order of first appearance. The decision (costs, top K, typed threshold,
   analysts' verdicts) is then the local one, :class:`fakeusers.scoring.ScoredLog`: it needs
   the whole population (top K ranks every user), so the per-user result must fit in the
   driver's memory (about 100 bytes a user: tens of millions of users).

What the Spark engine does not do: the load report (counts, warnings, overlapping exports
repeated whole in two files are kept twice), labels (``Fake`` is not read), reasons, the
out-of-fold probabilities of the model's own training log, and the applicability check.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers.errors import FakeusersError
from fakeusers.schema import REQUIRED

__all__ = [
    "INSTALL",
    "require_pyspark",
    "score_spark",
    "spark_probabilities",
    "spark_session",
    "write_parquet",
]

#: How to install the optional engine, for messages.
INSTALL = "pip install -r requirements-spark.txt"

# Where each row comes from; sorting on them gives the order of the inputs and their lines.
_ORDER = ("_src", "_file", "_block", "_row")
# What a worker returns per user: the result, where the user first appears, the timestamp
# format it saw (formats must agree across buckets, as across a file), or a problem.
_RESULT = pa.schema(
    [
        ("UserId", pa.string()),
        ("is_fake_probability", pa.float64()),
        ("events", pa.int64()),
        ("_src", pa.int32()),
        ("_file", pa.string()),
        ("_block", pa.int64()),
        ("_row", pa.int64()),
        ("_ts_kind", pa.string()),
        ("_problem", pa.string()),
    ]
)
_SPARK_TYPES = {
    pa.string(): "string",
    pa.float64(): "double",
    pa.int64(): "long",
    pa.int32(): "int",
}
_RESULT_DDL = ", ".join(f"{f.name} {_SPARK_TYPES[f.type]}" for f in _RESULT)
_TIMESTAMPS = "timestamps: "
_EPOCH_UNIT = re.compile(r"epoch (\w+), not seconds")
# Unicode whitespace at either end, as pyarrow's utf8_trim_whitespace (the local reader).
_PADDING = r"(?U)^\s+|\s+$"


def require_pyspark() -> None:
    """Refuse clearly when the optional ``pyspark`` is missing.

    Raises
    ------
    FakeusersError
        Naming the command that installs it.
    """
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise FakeusersError(
            f"--engine spark needs pyspark (and Java 17), which is not installed here: {INSTALL}"
            " (or score on this machine: leave out --engine spark)."
        ) from None


@contextlib.contextmanager
def _quiet_pandas_warning() -> Iterator[None]:
    # pyspark 4.3 warns on every conversion that it does not fully support pandas >= 3;
    # this module passes Arrow tables only (tests/test_spark.py checks the conversions).
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"PySpark does not yet fully support pandas >= 3",
            category=FutureWarning,
        )
        yield


def spark_session(master: str | None = None) -> Any:
    """The active Spark session, or a new one (``master`` as given, else Spark's default).

    Under ``spark-submit`` the master and the configuration come from it. A local session
    runs its Python workers with this interpreter, so they have the same packages.
    """
    require_pyspark()
    from pyspark.sql import SparkSession

    if master is None or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Progress bars would bury the command's own lines on stderr.
    builder = SparkSession.builder.appName("fakeusers predict").config(
        "spark.ui.showConsoleProgress", "false"
    )
    if master is not None:
        builder = builder.master(master)
    from pyspark.errors import PySparkRuntimeError

    try:
        with _quiet_pandas_warning():
            return builder.getOrCreate()
    except PySparkRuntimeError as exc:
        reason = str(exc).splitlines()[0]
        raise FakeusersError(
            f"Spark did not start ({reason}). It needs Java 17: install it, or set JAVA_HOME "
            "to it; with --spark-master, check that the master URL answers."
        ) from None


@functools.cache
def _package_zip() -> str | None:
    """This ``fakeusers`` package as a zip, for Python workers that do not have it; None
    when it is imported from a zip already (``spark-submit --py-files``, shipped by Spark)."""
    import atexit
    import shutil
    import tempfile
    import zipfile

    import fakeusers

    root = Path(fakeusers.__file__).parent
    if not root.is_dir():
        return None
    folder = tempfile.mkdtemp(prefix="fakeusers-spark-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "fakeusers.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for source in sorted(root.rglob("*.py")):
            bundle.write(source, source.relative_to(root.parent))
    return str(path)


_SHIPPED: set[str] = set()


def _ship_package(spark: Any) -> None:
    """Make the workers import the driver's ``fakeusers`` (the model's classes and the
    feature code), whatever their working folder or their path: once per Spark application."""
    context = spark.sparkContext
    bundle = _package_zip()
    if bundle is not None and context.applicationId not in _SHIPPED:
        context.addPyFile(bundle)
        _SHIPPED.add(context.applicationId)


def _input_frame(spark: Any, path: str, index: int, timestamps: bool) -> Any:
    """One input as string columns ``UserId, Event, Category[, Timestamp]`` and where each
    row comes from."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import functions as F

    from fakeusers.csvparse import header_columns

    try:
        if path.rstrip("/").lower().endswith(".parquet"):
            frame = spark.read.parquet(path)
            names = {c.strip().lower(): c for c in frame.columns}
            found = {c: names[c.lower()] for c in (*REQUIRED, "Timestamp") if c.lower() in names}
            missing = [c for c in REQUIRED if c not in found]
            if missing:
                raise FakeusersError(
                    f"{path} has no column {', '.join(missing)} (found: "
                    f"{', '.join(frame.columns)}). Each row needs UserId, Event and Category."
                )
        else:
            first = spark.read.text(path).first()
            if first is None:
                raise FakeusersError(f"{path} is empty. Give a log with a header line.")
            positions, delimiter, _ = header_columns(path, first.value.encode())
            frame = spark.read.csv(path, header=True, sep=delimiter, mode="DROPMALFORMED")
            found = {c: frame.columns[i] for c, i in positions.items() if c != "Fake"}
    except AnalysisException as exc:
        reason = str(exc).splitlines()[0]
        raise FakeusersError(f"Spark cannot read {path}: {reason}") from None
    columns = [c for c in (*REQUIRED, "Timestamp") if c in found and (timestamps or c in REQUIRED)]
    selected = []
    for c in columns:
        col = F.col(f"`{found[c]}`")
        kind = frame.schema[found[c]].dataType.typeName()
        if c == "Timestamp" and kind in ("timestamp", "timestamp_ntz", "date"):
            col = F.unix_micros(col.cast("timestamp")) / 1e6
        selected.append(F.regexp_replace(col.cast("string"), _PADDING, "").alias(c))
    return frame.select(
        *selected,
        F.lit(index).alias("_src"),
        F.col("_metadata.file_path").alias("_file"),
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_row"),
    )


def _bucket_scorer(predictor: Any, vocabulary: Any) -> Any:
    """The function each worker runs on a bucket of users (a closure over the model)."""

    def score(table: pa.Table) -> pa.Table:
        from fakeusers.features import featurize
        from fakeusers.reading import read_table

        table = table.sort_by([(c, "ascending") for c in _ORDER])
        columns = [c for c in (*REQUIRED, "Timestamp") if c in table.column_names]
        try:
            log = read_table(table.select(columns), "the log")
            if vocabulary.timestamps and log.timestamps is None:
                why = next((w for w in log.report.warnings if w.startswith("Timestamp")), "")
                # the line numbers in it count within the bucket: keep only what is wrong
                raise FakeusersError(_TIMESTAMPS + (why.split(": ", 2)[-1] or "none"))
            X = featurize(log, vocabulary)
        except FakeusersError as exc:
            problem = {f.name: pa.nulls(1, f.type) for f in _RESULT}
            problem["_problem"] = pa.array([str(exc)])
            return pa.table(problem, schema=_RESULT)
        p = predictor.predict_proba(X)[:, 1].astype(np.float64)
        first = pc.index_in(log.user_id_text, value_set=table["UserId"])
        first = pc.fill_null(first, 0)
        ts_kind = ""
        if vocabulary.timestamps:
            unit = next(
                (m.group(1) for w in log.report.warnings if (m := _EPOCH_UNIT.search(w))), None
            )
            ts_value = table["Timestamp"][0].as_py()
            try:
                float(ts_value)
                ts_kind = f"epoch {unit or 'seconds'}"
            except (TypeError, ValueError):
                ts_kind = "ISO 8601"
        out = {
            "UserId": log.user_id_text,
            "is_fake_probability": p,
            "events": log.events_per_user.astype(np.int64),
        }
        for c in _ORDER:
            out[c] = table[c].take(first)
        out["_ts_kind"] = [ts_kind] * log.n_users
        out["_problem"] = pa.nulls(log.n_users, pa.string())
        return pa.table(out, schema=_RESULT)

    return score


def spark_probabilities(
    spark: Any,
    inputs: Sequence[str],
    model: Any,
    *,
    buckets: int | None = None,
) -> pa.Table:
    """Each user's probability of being fake, computed on Spark.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    inputs : sequence of str
        Paths or URLs Spark can read: CSV files or folders (``.csv``, ``.csv.gz``), Parquet
        files or folders (names ending in ``.parquet``).
    model : TrainedModel
        A model loaded from the store (its pipeline and vocabulary go to the workers).
    buckets : int, optional
        How many groups of users the workers score (each group in one worker's memory);
        by default ``spark.sql.shuffle.partitions``.

    Returns
    -------
    pyarrow.Table
        ``UserId, is_fake_probability, events``: one row per user, in order of first
        appearance (inputs in the order given, a folder's files by name, then line order).

    Raises
    ------
    FakeusersError
        An input Spark cannot read or without the required columns; a model that needs
        timestamps on a log whose Timestamp column cannot be used.
    """
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    if not inputs:
        raise FakeusersError("No log given. Pass one or more CSV or Parquet paths.")
    _ship_package(spark)
    vocabulary = model.vocabulary
    frames = [
        _input_frame(spark, str(path), i, vocabulary.timestamps) for i, path in enumerate(inputs)
    ]
    if vocabulary.timestamps and any("Timestamp" not in f.columns for f in frames):
        raise FakeusersError(_no_timestamps(inputs, "an input has no Timestamp column"))
    rows = reduce(DataFrame.unionByName, frames)
    header = (F.lower("UserId") == "userid") & (F.lower("Event") == "event")
    usable = reduce(lambda a, b: a & b, [F.col(c).isNotNull() & (F.col(c) != "") for c in REQUIRED])
    rows = rows.where(usable & ~header)
    n = buckets or int(spark.conf.get("spark.sql.shuffle.partitions"))
    bucket = F.pmod(F.xxhash64("UserId"), F.lit(n)).alias("_bucket")
    with _quiet_pandas_warning():
        scored = rows.groupBy(bucket).applyInArrow(
            _bucket_scorer(model.predictor, vocabulary), _RESULT_DDL
        )
        table = scored.toArrow()
    problems = table.filter(pc.is_valid(table["_problem"]))
    if problems.num_rows:
        problem = problems["_problem"][0].as_py()
        if problem.startswith(_TIMESTAMPS):
            raise FakeusersError(_no_timestamps(inputs, problem.removeprefix(_TIMESTAMPS)))
        raise FakeusersError(f"{', '.join(inputs)}: {problem}")
    if table.num_rows == 0:
        raise FakeusersError(
            f"{', '.join(inputs)}: no usable rows. Each row needs a UserId, an Event and a "
            "Category."
        )
    kinds = sorted(set(table["_ts_kind"].to_pylist()) - {""})
    if len(kinds) > 1:
        raise FakeusersError(
            _no_timestamps(inputs, f"the Timestamp column mixes formats ({', '.join(kinds)})")
        )
    table = table.sort_by([(c, "ascending") for c in _ORDER])
    return table.select(["UserId", "is_fake_probability", "events"])


def _no_timestamps(inputs: Sequence[str], why: str) -> str:
    return (
        f"{', '.join(inputs)}: this model was trained with timestamps, but the Timestamp "
        f"column cannot be used ({why.rstrip('.')}). Fix the timestamps, or use a model "
        "trained without them (python -m fakeusers train LOGS --ignore-timestamps)."
    )


def score_spark(
    inputs: Sequence[str],
    *,
    store: Any,
    model: str | None = None,
    rule: Any = None,
    verdicts: Mapping[str, Any] | None = None,
    spark: Any = None,
    master: str | None = None,
) -> Any:
    """Score logs on Spark and decide under ``rule`` as :func:`fakeusers.scoring.score_sources`
    does.

    Parameters
    ----------
    inputs : sequence of str
        See :func:`spark_probabilities`.
    store : ModelStore
    model : str, optional
        ``NAME[@VERSION]``; the store's default when None.
    rule : Rule, optional
    verdicts : mapping, optional
        Analysts' verdicts by user ID, applied to the decision as locally.
    spark : pyspark.sql.SparkSession, optional
        The session; by default :func:`spark_session` with ``master``.
    master : str, optional
        The Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``).

    Returns
    -------
    ScoredLog
        Its log holds the users only (their rows stayed on the cluster): the probabilities,
        the events per user, the decision and the verdicts are there; the load report, the
        reasons and the applicability check are not.
    """
    from fakeusers.log import LoadReport, Log
    from fakeusers.scoring import ScoredLog

    stored = store.load(model)
    spark = spark or spark_session(master)
    table = spark_probabilities(spark, [str(i) for i in inputs], stored.model)
    ids = np.asarray(table["UserId"].to_numpy(zero_copy_only=False), dtype=object).astype(str)
    events = table["events"].to_numpy()
    empty = np.zeros(0, dtype=np.int32)
    report = LoadReport(files=[str(i) for i in inputs], rows=int(events.sum()), users=len(ids))
    users = Log(ids, empty, [], empty, [], empty, labels=None, timestamps=None, report=report)
    scored = ScoredLog(
        users,
        stored.model,
        stored.ref,
        table["is_fake_probability"].to_numpy(),
        out_of_fold=False,
        rule=None,
        decision=None,
        _memo={"n_events": events},
    )
    return scored.with_verdicts(verdicts).with_rule(rule)


def write_parquet(table: pa.Table, output: str, spark: Any = None) -> None:
    """Write ``table`` as a Parquet folder at ``output`` (a local path or a URL), by Spark.

    Raises
    ------
    FakeusersError
        When ``output`` exists already or cannot be written.
    """
    from pyspark.errors import AnalysisException

    spark = spark or spark_session()
    try:
        with _quiet_pandas_warning():
            spark.createDataFrame(table).write.mode("errorifexists").parquet(output)
    except AnalysisException as exc:
        reason = str(exc).splitlines()[0]
        raise FakeusersError(
            f"Cannot write {output}: {reason}. Choose another output folder (an existing "
            "one is never overwritten)."
        ) from None
