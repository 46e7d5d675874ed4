"""Scoring at production size, measured against baselines in one run.

Prints:
1. ``predict`` on 10M events, wall time divided by a bare ``pyarrow.csv.read_csv`` of the
   same file (both whole processes taking turns, median of 5; target <= 2.0, never above
   3.0), the CPU time (user + system) of each, and predict's peak memory (target <= 2 GB).
2. Our features (read + featurize) against the naive pandas way (``groupby().apply`` with a
   per-user Python function) on 1M events, and against DuckDB SQL computing the same
   features, as speed-ups.
3. The fused read-and-aggregate engines on 10M events, from the CSV file to the features,
   checked to agree, in wall and CPU time: ours (``read_logs`` + ``featurize``, at this size
   the compiled reader and aggregation) against DuckDB SQL and Polars (``scan_csv`` then
   ``group_by().agg()``; when installed).

Run: ``python benchmarks/bench_predict.py [--events 10000000] [--small 1000000] [--sections 123]``.
Files go to ``benchmarks/out/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))


def timed_process(args: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + system) of a whole child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        args,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def median_runs(
    commands: list[tuple[list[str], dict | None]], repeat: int = 3
) -> list[tuple[float, float, float]]:
    """Median wall, peak RSS and median CPU of each command, the commands taking turns (so
    that a change in the load of the shared machine hits them alike)."""
    runs = [[timed_process(args, env) for args, env in commands] for _ in range(repeat)]
    return [
        (
            statistics.median(r[i][0] for r in runs),
            max(r[i][1] for r in runs),
            statistics.median(r[i][2] for r in runs),
        )
        for i in range(len(commands))
    ]


def naive_features(df):
    """The same features the obvious pandas way: one Python call per user."""
    import numpy as np
    import pandas as pd

    from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS

    def per_user(g: pd.DataFrame) -> pd.Series:
        ev, cat = g["Event"].tolist(), g["Category"].tolist()
        n = len(ev)
        out = {
            "n_events": n,
            "n_distinct_events": len(set(ev)),
            "n_distinct_categories": len(set(cat)),
        }
        for e in KNOWN_EVENTS:
            out[f"event_{e}_count"] = ev.count(e)
            out[f"event_{e}_share"] = ev.count(e) / n
        for c in KNOWN_CATEGORIES:
            out[f"category_{c}_count"] = cat.count(c)
            out[f"category_{c}_share"] = cat.count(c) / n
        out["event_switches"] = sum(a != b for a, b in zip(ev, ev[1:], strict=False))
        out["category_switches"] = sum(a != b for a, b in zip(cat, cat[1:], strict=False))
        for name, vals in (("event_entropy", ev), ("category_entropy", cat)):
            counts = pd.Series(vals).value_counts().to_numpy() / n
            out[name] = float(-(counts * np.log2(counts)).sum())
        best = run = 0
        prev = None
        for e in ev:
            run = run + 1 if e == prev else 1
            best = max(best, run)
            prev = e
        out["longest_event_run"] = best
        return pd.Series(out)

    return df.groupby("UserId", sort=False)[["Event", "Category"]].apply(per_user)


DUCKDB_SQL = """
WITH r AS (
  SELECT UserId, Event, Category, row_number() OVER () AS rn
  FROM read_csv(?, header = true, all_varchar = true)
),
l AS (
  SELECT *, lag(Event) OVER w AS prev_event, lag(Category) OVER w AS prev_category,
         row_number() OVER w - row_number() OVER (PARTITION BY UserId, Event ORDER BY rn)
           AS run_id
  FROM r WINDOW w AS (PARTITION BY UserId ORDER BY rn)
),
runs AS (SELECT UserId, count(*) AS len FROM l GROUP BY UserId, Event, run_id),
ev AS (SELECT UserId, Event, count(*) AS n FROM r GROUP BY ALL),
ca AS (SELECT UserId, Category, count(*) AS n FROM r GROUP BY ALL),
ent AS (
  SELECT e.UserId, -sum(e.n / t.n * log2(e.n / t.n)) AS event_entropy
  FROM ev e JOIN (SELECT UserId, sum(n) AS n FROM ev GROUP BY UserId) t USING (UserId)
  GROUP BY e.UserId
),
cent AS (
  SELECT c.UserId, -sum(c.n / t.n * log2(c.n / t.n)) AS category_entropy
  FROM ca c JOIN (SELECT UserId, sum(n) AS n FROM ca GROUP BY UserId) t USING (UserId)
  GROUP BY c.UserId
)
SELECT UserId,
  count(*) AS n_events,
  count(DISTINCT Event) AS n_distinct_events,
  count(DISTINCT Category) AS n_distinct_categories,
  {event_cols},
  {category_cols},
  count(*) FILTER (WHERE prev_event IS NOT NULL AND prev_event <> Event) AS event_switches,
  count(*) FILTER (WHERE prev_category IS NOT NULL AND prev_category <> Category)
    AS category_switches,
  any_value(ent.event_entropy) AS event_entropy,
  any_value(cent.category_entropy) AS category_entropy,
  any_value(lr.longest) AS longest_event_run
FROM l
JOIN ent USING (UserId) JOIN cent USING (UserId)
JOIN (SELECT UserId, max(len) AS longest FROM runs GROUP BY UserId) lr USING (UserId)
GROUP BY UserId
"""


def duckdb_features(path: Path):
    import duckdb

    from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS

    event_cols = ",\n  ".join(
        f"count(*) FILTER (WHERE Event = '{e}') AS event_{e}_count, "
        f"count(*) FILTER (WHERE Event = '{e}') / count(*) AS event_{e}_share"
        for e in KNOWN_EVENTS
    )
    category_cols = ",\n  ".join(
        f"count(*) FILTER (WHERE Category = '{c}') AS category_{c}_count, "
        f"count(*) FILTER (WHERE Category = '{c}') / count(*) AS category_{c}_share"
        for c in KNOWN_CATEGORIES
    )
    sql = DUCKDB_SQL.format(event_cols=event_cols, category_cols=category_cols)
    return duckdb.connect().execute(sql, [str(path)]).df()


def polars_features(path: Path):
    """The same features with Polars: a lazy scan of the CSV, one ``group_by`` per user."""
    import polars as pl

    from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS

    ev, cat = pl.col("Event"), pl.col("Category")
    counts = {f"event_{e}": (ev == e).sum() for e in KNOWN_EVENTS}
    counts |= {f"category_{c}": (cat == c).sum() for c in KNOWN_CATEGORIES}
    return (
        pl.scan_csv(path, schema_overrides={"UserId": pl.String, "Fake": pl.String})
        .group_by("UserId", maintain_order=True)
        .agg(
            pl.len().alias("n_events"),
            ev.n_unique().alias("n_distinct_events"),
            cat.n_unique().alias("n_distinct_categories"),
            *(count.alias(f"{name}_count") for name, count in counts.items()),
            (ev != ev.shift(1)).sum().alias("event_switches"),
            (cat != cat.shift(1)).sum().alias("category_switches"),
            ev.unique_counts().entropy(base=2).alias("event_entropy"),
            cat.unique_counts().entropy(base=2).alias("category_entropy"),
            ev.rle().struct.field("len").max().alias("longest_event_run"),
        )
        .with_columns(
            (pl.col(f"{name}_count") / pl.col("n_events")).alias(f"{name}_share") for name in counts
        )
        .collect()
        .to_pandas()
    )


def agree(ours_df, others: dict) -> None:
    """Assert that other engines' features (frames with a UserId column) equal ours."""
    import numpy as np

    for col in ("n_events", "event_switches", "longest_event_run", "event_entropy"):
        a = ours_df[col].sort_index()
        for name, other in others.items():
            b = other.set_index("UserId")[col].sort_index().astype(float)
            assert a.index.equals(b.index), (name, "users")
            assert np.allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-9), (name, col)


def ours(path: Path):
    from fakeusers.features import featurize
    from fakeusers.reading import read_logs

    return featurize(read_logs(path))


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_of(fn, *args, repeat: int = 3) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--sections", default="123", help="which sections to run, e.g. 1 or 13")
    args = parser.parse_args()

    import pandas as pd

    from fakeusers.demo import write_demo_csv
    from fakeusers.errors import FakeusersError
    from fakeusers.models import train
    from fakeusers.reading import read_logs
    from fakeusers.store import ModelStore

    OUT.mkdir(parents=True, exist_ok=True)
    big = OUT / f"events-{args.events}.csv"
    small = OUT / f"events-{args.small}.csv"
    for path, n, seed in ((big, args.events, 7), (small, args.small, 8)):
        if not path.exists():
            start = time.perf_counter()
            write_demo_csv(path, n_events=n, seed=seed)
            print(f"generated {n:,} events in {time.perf_counter() - start:.1f} s -> {path}")
    store_dir = OUT / "models"
    store = ModelStore(store_dir)
    try:
        # a logistic model scores with its arrays (scoring.npz): one saved before them would
        # measure scikit-learn's import instead
        if "scoring_file" not in store.card("bench"):
            raise FakeusersError("saved before scoring arrays")
        store.load("bench")
    except FakeusersError:  # first run, or a model of an older format: (re)train it
        train_file = OUT / "train.csv"
        write_demo_csv(train_file, n_events=100_000, seed=1)
        model = train(read_logs(train_file), "logistic")
        store.save("bench", model, replace=True)

    if "1" in args.sections:
        # Bytecode as any second run has it (this machine sets PYTHONDONTWRITEBYTECODE, so
        # every run would compile fakeusers' modules again: 0.08 s a run).
        import compileall

        compileall.compile_dir(ROOT / "fakeusers", quiet=1)
        size_mb = big.stat().st_size / 1e6
        print(
            f"\n1) predict vs bare pyarrow.csv.read_csv, {args.events:,} events ({size_mb:,.0f} MB)"
        )
        bare_code = "import sys, pyarrow.csv as c; c.read_csv(sys.argv[1])"
        pred_out = OUT / "predictions.csv"
        predict = [sys.executable, "-m", "fakeusers", "predict", str(big), str(pred_out)]
        predict_env = {"FAKEUSERS_MODELS_DIR": str(store_dir), "PYTHONPATH": str(ROOT)}
        # once untimed: the first run on a machine compiles the numba kernels into its cache
        timed_process([*predict, "--model", "bench"], predict_env)
        (bare_t, bare_mem, bare_cpu), (pred_t, pred_mem, pred_cpu) = median_runs(
            [
                ([sys.executable, "-c", bare_code, str(big)], None),
                ([*predict, "--model", "bench"], predict_env),
            ],
            repeat=5,
        )
        with open(pred_out) as fh:
            users = sum(1 for _ in fh) - 1
        print(
            f"   bare read_csv   {bare_t:6.2f} s   CPU {bare_cpu:6.2f} s   peak {bare_mem:7,.0f} MB"
        )
        print(
            f"   predict         {pred_t:6.2f} s   CPU {pred_cpu:6.2f} s   peak {pred_mem:7,.0f} MB"
            f"   ({users:,} users)"
        )
        ratio = pred_t / bare_t
        print(f"   ratio predict / bare read = {ratio:.2f}  (target <= 2.0, never above 3.0)")
        print(f"   ratio of their CPU times  = {pred_cpu / bare_cpu:.2f}")
        print(f"   predict peak memory = {pred_mem / 1024:.2f} GB  (target <= 2 GB)")

    if "2" in args.sections:
        print(f"\n2) features on {args.small:,} events: ours vs naive pandas vs DuckDB SQL")
        ours_t, ours_df = best_of(ours, small)
        start = time.perf_counter()
        naive_df = naive_features(pd.read_csv(small, dtype=str))
        naive_t = time.perf_counter() - start
        duck_t, duck_df = best_of(duckdb_features, small)
        for col in ("n_events", "event_switches", "longest_event_run", "event_entropy"):
            a = ours_df[col].sort_index()
            for name, other in (
                ("naive", naive_df[col]),
                ("duckdb", duck_df.set_index("UserId")[col]),
            ):
                b = other.sort_index().astype(float)
                assert all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b, strict=True)), (
                    name,
                    col,
                )
        print("   (all three agree on n_events, event_switches, longest_event_run, event_entropy)")
        print(f"   ours (read + featurize)  {ours_t:7.2f} s")
        print(f"   naive pandas apply       {naive_t:7.2f} s   speed-up x{naive_t / ours_t:,.0f}")
        print(
            f"   DuckDB SQL               {duck_t:7.2f} s   ours is x{duck_t / ours_t:.1f} faster"
        )

    if "3" in args.sections:
        print(f"\n3) fused read-and-aggregate, CSV file to features, {args.events:,} events")
        engines = {"ours (compiled)": ours, "DuckDB SQL": duckdb_features}
        try:
            import polars
        except ImportError:
            print("   (Polars is not installed: pip install polars to compare it too)")
        else:
            engines[f"Polars {polars.__version__}"] = polars_features
        times, cpus, results = {}, {}, {}
        for name, engine in engines.items():
            before = cpu_seconds()
            times[name], results[name] = best_of(engine, big, repeat=1)
            cpus[name] = cpu_seconds() - before
        first, *others = engines
        agree(results[first], {name: results[name] for name in others})
        print(
            f"   (all {len(engines)} agree on n_events, event_switches, longest_event_run, entropy)"
        )
        for name, seconds in times.items():
            print(
                f"   {name:<24} {seconds:7.2f} s  x{seconds / times[first]:.1f}   "
                f"CPU {cpus[name]:7.2f} s  x{cpus[name] / cpus[first]:.1f}  (x: of ours)"
            )


if __name__ == "__main__":
    main()
