"""What finding overlapping files costs the reader, measured against one file in one run.

Prints, on a demo log with timestamps (default 2M events), the median of 5 alternating reads:
1. the whole log as one file;
2. the same rows as two files whose time windows overlap by 10% (the rows in the overlap are
   copies across files, users straddle the boundary: the check runs and finds few users
   repeated whole);
3. the same file read twice (every user repeated whole: the most the check can find and drop);
each as time per input row, in ratio to (1). Only logs of several files pay for the check.

Run: ``python benchmarks/bench_reading.py [--events 2000000]``.
Files go to ``benchmarks/out/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))

from fakeusers.demo import write_demo_csv  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402


def split(path: Path, overlap: float) -> tuple[Path, Path]:
    """Two files with the log's first and last rows, sharing ``overlap`` of them."""
    header, *lines = path.read_text().splitlines(keepends=True)
    half, shared = len(lines) // 2, int(len(lines) * overlap / 2)
    first, second = path.with_suffix(".first.csv"), path.with_suffix(".second.csv")
    first.write_text(header + "".join(lines[: half + shared]))
    second.write_text(header + "".join(lines[half - shared :]))
    return first, second


def seconds(sources) -> float:
    start = time.perf_counter()
    read_logs(sources)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    log = OUT / f"reading_{args.events}.csv"
    if not log.exists():
        write_demo_csv(log, n_events=args.events, seed=11, timestamps=True)
    cases = {"one file": [log], "two overlapping": list(split(log, 0.1)), "twice": [log, log]}
    for sources in cases.values():
        read_logs(sources)  # warm up
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, sources in cases.items():
            times[name].append(seconds(sources))
    reports = {name: read_logs(sources).report for name, sources in cases.items()}

    def per_row(name: str) -> float:
        return statistics.median(times[name]) / sum(reports[name].file_rows)

    for name, report in reports.items():
        print(
            f"{name:16s} {statistics.median(times[name]):6.2f} s for "
            f"{sum(report.file_rows):,} rows: x{per_row(name) / per_row('one file'):.2f} per row;"
            f" users repeated whole {sum(o['users'] for o in report.overlaps):,},"
            f" rows copied across files {report.duplicate_rows_across_files or 0:,}"
        )


if __name__ == "__main__":
    main()
