"""What reading a log as Parquet costs against reading it as CSV, measured in one run.

Writes a demo log with timestamps (default 2M events) as CSV and as Parquet typed as a data
lake keeps it (int64 UserId, dictionary Event and Category, bool Fake, timestamp[us, UTC];
snappy), and as a folder of 8 such part files; then prints the median of 5 alternating
reads of each, in ratio to the CSV, the files' sizes, the peak memory of a process reading
each, and
what the API's decoded-size check (:func:`fakeusers.parquetread.decoded_size`) adds to a
Parquet read. All reads give the same log (checked by fingerprint).

Run: ``python benchmarks/bench_parquet.py [--events 2000000]``.
Files go to ``benchmarks/out/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.parquetread import decoded_size  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from tests.support import typed_table  # noqa: E402

PARTS = 8


def write_inputs(events: int) -> dict[str, Path]:
    """The log as CSV, as one Parquet file and as a folder of part files."""
    import pyarrow.csv as pacsv

    base = OUT / f"parquet_{events}"
    paths = {
        "csv": base.with_suffix(".csv"),
        "parquet": base.with_suffix(".parquet"),
        "folder": OUT / f"parquet_{events}_folder",
    }
    if all(p.exists() for p in paths.values()):
        return paths
    table = generate_log(events, seed=11, timestamps=True)
    pacsv.write_csv(table, paths["csv"])
    typed = typed_table(table)
    pq.write_table(typed, paths["parquet"], compression="snappy")
    shutil.rmtree(paths["folder"], ignore_errors=True)
    paths["folder"].mkdir()
    (paths["folder"] / "_SUCCESS").write_bytes(b"")
    step = -(-typed.num_rows // PARTS)
    for i in range(PARTS):
        part = typed.slice(i * step, step)
        pq.write_table(part, paths["folder"] / f"part-{i:05d}.snappy.parquet")
    return paths


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir())
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    paths = write_inputs(args.events)
    parquet_bytes = paths["parquet"].read_bytes()
    cases = {
        "CSV": lambda: read_logs(paths["csv"]),
        "Parquet file": lambda: read_logs(paths["parquet"]),
        f"Parquet folder ({PARTS} parts)": lambda: read_logs(paths["folder"]),
        "API decoded-size check": lambda: decoded_size("x", parquet_bytes, 2**40),
    }
    fingerprints = {read_logs(p).fingerprint() for p in (paths["csv"], paths["parquet"])}
    fingerprints.add(read_logs(paths["folder"]).fingerprint())
    assert len(fingerprints) == 1, "the three inputs must read as the same log"
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, action in cases.items():
            times[name].append(seconds(action))
    base = statistics.median(times["CSV"])
    print(f"{args.events:,} events; median of {args.repeats} alternating runs:")
    for name, runs in times.items():
        print(
            f"  {name:28s} {statistics.median(runs):6.2f} s  x{statistics.median(runs) / base:.2f}"
        )
    print(
        f"  sizes: CSV {size(paths['csv']) / 2**20:,.0f} MB, Parquet "
        f"{size(paths['parquet']) / 2**20:,.0f} MB, folder {size(paths['folder']) / 2**20:,.0f} MB"
    )
    peaks = {name: peak_mb(paths[name]) for name in ("csv", "parquet", "folder")}
    print(
        "  peak memory of a process that only reads it: "
        + ", ".join(f"{name} {mb:,.0f} MB (x{mb / peaks['csv']:.2f})" for name, mb in peaks.items())
    )


def peak_mb(path: Path) -> float:
    """The peak resident memory of a fresh process that imports the reader and reads ``path``."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent.
    code = (
        "import sys; from fakeusers.reading import read_logs; read_logs(sys.argv[1]); "
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    return int(done.stdout.split()[-1]) / 1024


if __name__ == "__main__":
    main()
