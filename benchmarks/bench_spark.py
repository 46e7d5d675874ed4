"""The Spark engine against the local path on the same log, measured in one run.

Prints, for a log of ``--events`` events (default 1M, the demo generator's, with timestamps)
scored by a model trained on another log:

1. whether the probabilities are the same (users, order, largest difference);
2. wall times side by side: the local path (read, features, probabilities), and Spark on a
   ``local[N]`` session already started (read, shuffle into buckets of users, features and
   probabilities in Python workers, collect), plus the session's start-up once;
3. where Spark's time goes (reading and cleaning; with the shuffle into buckets of users;
   with the rows sent to Python workers that do nothing), and the ratio Spark / local.

On one machine Spark only adds work (a JVM, a shuffle, Arrow batches to Python workers); the
point of the engine is logs that do not fit one machine. The ratio says what that costs.

Run: ``python benchmarks/bench_spark.py [--events 1000000] [--cores 2] [--repeat 3]``.
Files go to ``benchmarks/out/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import pyarrow.csv as pacsv

    from fakeusers.demo import generate_log
    from fakeusers.models import train
    from fakeusers.reading import read_logs
    from fakeusers.scoring import score_sources
    from fakeusers.spark import score_spark, spark_session
    from fakeusers.store import ModelStore

    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"spark-{args.events}.csv"
    if not log_path.exists():
        pacsv.write_csv(generate_log(args.events, seed=11, timestamps=True), log_path)
    store = ModelStore(OUT / "spark-models")
    if not store.exists("bench"):
        training = OUT / "spark-train.csv"
        pacsv.write_csv(generate_log(100_000, seed=12, timestamps=True), training)
        store.save("bench", train(read_logs(str(training)), "logistic"))
    inputs = [str(log_path)]

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    start = time.perf_counter()
    spark = spark_session(f"local[{args.cores}]")
    # Two buckets of users per core: enough to keep every core busy, few Python calls.
    spark.conf.set("spark.sql.shuffle.partitions", str(2 * args.cores))
    startup = time.perf_counter() - start

    def timed(fn):
        runs, result = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = fn()
            runs.append(time.perf_counter() - t)
        return statistics.median(runs), result

    local_s, local = timed(lambda: score_sources(inputs, store=store, model="bench"))
    spark_s, on_spark = timed(lambda: score_spark(inputs, store=store, model="bench", spark=spark))
    # Where Spark's time goes: the engine's read alone, then with the shuffle into buckets,
    # then with each bucket's rows sent to a Python worker that does nothing with them.
    import pyarrow as pa
    from pyspark.sql import functions as F

    from fakeusers.spark import _input_frame

    def rows():
        return _input_frame(spark, inputs[0], 0, timestamps=True)

    bucket = F.pmod(F.xxhash64("UserId"), F.lit(2 * args.cores))
    read_s, _ = timed(lambda: rows().count())
    shuffle_s, _ = timed(lambda: rows().groupBy(bucket).count().collect())
    arrow_s, _ = timed(
        lambda: (
            rows()
            .groupBy(bucket)
            .applyInArrow(lambda t: pa.table({"n": [t.num_rows]}), "n long")
            .collect()
        )
    )
    spark.stop()

    same_users = np.array_equal(local.user_ids, on_spark.user_ids)
    diff = float(np.max(np.abs(local.p - on_spark.p))) if same_users else float("nan")
    print(f"Log: {args.events:,} events, {local.n_users:,} users ({log_path.name})")
    print(f"Same users in the same order: {same_users}; largest |p_spark - p_local|: {diff:.1e}")
    print(f"Spark session start-up (local[{args.cores}], once): {startup:6.2f} s")
    print(f"local path  (median of {args.repeat}): {local_s:6.2f} s")
    print(f"Spark       (median of {args.repeat}): {spark_s:6.2f} s")
    print(f"  Spark reading and cleaning only:                {read_s:6.2f} s")
    print(f"  the same and the shuffle into buckets:          {shuffle_s:6.2f} s")
    print(f"  the same and the rows sent to Python workers:   {arrow_s:6.2f} s")
    print(f"Spark / local: {spark_s / local_s:.1f}x")


if __name__ == "__main__":
    main()
