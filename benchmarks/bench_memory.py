"""Peak memory of ``predict`` with and without ``--max-memory``, measured in one run.

Prints:
1. the resident memory of ``predict`` on a tiny log (what fakeusers needs before any log);
2. ``predict`` on 10M events in memory and within ``--max-memory 700MB``: wall time, peak
   RSS (``os.wait4``'s ``ru_maxrss`` of the child process), their ratios, and whether the two
   output files are identical (target: bounded peak <= 0.9 GB, same bytes);
3. with ``--huge``: a 100M-event log, generated in chunks into a temporary folder (deleted
   afterwards, never committed), scored within ``--max-memory 4GB``: wall time and peak.

Run: ``python benchmarks/bench_memory.py [--events 10000000] [--huge]``.
Files go to ``benchmarks/out/`` (ignored by git), the huge log to the system's temp folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``python -m fakeusers ARGS`` in a child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakeusers", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(args)}\n{err}")
    return wall, usage.ru_maxrss / 1024


def write_huge(path: Path, n_events: int, chunk: int) -> None:
    """A log of ``n_events`` written chunk by chunk (memory stays at one chunk's), each
    chunk's users made distinct by a prefix."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from fakeusers.demo import generate_log

    with path.open("wb") as fh:
        for i, start in enumerate(range(0, n_events, chunk)):
            table = generate_log(min(chunk, n_events - start), seed=100 + i)
            ids = pc.binary_join_element_wise(f"c{i}-", table.column("UserId"), "")
            table = table.set_column(0, "UserId", ids).cast(
                pa.schema([(f.name, pa.string()) for f in table.schema])
            )
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=i == 0))
            del table


def prepare(events: int) -> None:
    """The logs and the model the runs use (in a child process: see :func:`main`)."""
    from fakeusers.demo import write_demo_csv
    from fakeusers.errors import FakeusersError
    from fakeusers.models import train
    from fakeusers.reading import read_logs
    from fakeusers.store import ModelStore

    OUT.mkdir(parents=True, exist_ok=True)
    big = OUT / f"events-{events}.csv"
    if not big.exists():
        write_demo_csv(big, n_events=events, seed=7)
    write_demo_csv(OUT / "events-1000.csv", n_events=1_000, seed=9)
    store_dir = OUT / "models"
    try:
        ModelStore(store_dir).load("bench")
    except FakeusersError:
        train_file = OUT / "train.csv"
        write_demo_csv(train_file, n_events=100_000, seed=1)
        ModelStore(store_dir).save("bench", train(read_logs(train_file), "logistic"), replace=True)


def child(*args: str) -> None:
    """Run this script's ``args`` in a child process.

    The data are made there: a forked child's peak RSS (``ru_maxrss``) starts at its
    parent's, so the parent must stay small for the measures to be the commands' own.
    """
    subprocess.run([sys.executable, __file__, *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--huge", action="store_true", help="also score 100M events in 4GB")
    parser.add_argument("--huge-events", type=int, default=100_000_000)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-huge", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        return prepare(args.events)
    if args.write_huge:
        return write_huge(Path(args.write_huge), args.huge_events, 10_000_000)

    child("--prepare", "--events", str(args.events))
    big, tiny, store_dir = (
        OUT / f"events-{args.events}.csv",
        OUT / "events-1000.csv",
        OUT / "models",
    )
    common = ["--models-dir", str(store_dir), "--model", "bench", "--cost-fp", "1"]
    common += ["--cost-fn", "9", "--no-verdicts"]

    _, base = run(["predict", str(tiny), str(OUT / "tiny-out.csv"), *common])
    print(f"1) predict on 1,000 events: peak {base:,.0f} MB (what fakeusers needs before a log)")
    size = big.stat().st_size / 1e6
    print(f"\n2) predict on {args.events:,} events ({size:,.0f} MB CSV)")
    whole_out, bounded_out = OUT / "memory-whole.csv", OUT / "memory-bounded.csv"
    wall_w, peak_w = run(["predict", str(big), str(whole_out), *common, "--max-memory", "1TB"])
    print(f"   in memory:            {wall_w:6.1f} s  peak {peak_w:7,.0f} MB")
    wall_b, peak_b = run(["predict", str(big), str(bounded_out), *common, "--max-memory", "700MB"])
    print(f"   --max-memory 700MB:   {wall_b:6.1f} s  peak {peak_b:7,.0f} MB")
    same = whole_out.read_bytes() == bounded_out.read_bytes()
    print(
        f"   bounded/in-memory: time x{wall_b / wall_w:.2f}, peak x{peak_b / peak_w:.2f}; "
        f"outputs identical: {same}"
    )
    print(
        f"   in-memory peak above the tiny run per CSV byte: "
        f"{(peak_w - base) * 2**20 / big.stat().st_size:.2f}"
    )
    print(f"   target: bounded peak <= 900 MB: {'met' if peak_b <= 900 else 'NOT met'}")

    if args.huge:
        folder = Path(tempfile.mkdtemp(prefix="fakeusers-huge-"))
        try:
            huge = folder / "huge.csv"
            start = time.perf_counter()
            child("--write-huge", str(huge), "--huge-events", str(args.huge_events))
            gen = time.perf_counter() - start
            size = huge.stat().st_size / 1e9
            print(f"\n3) {args.huge_events:,} events ({size:.1f} GB CSV, generated in {gen:.0f} s)")
            wall, peak = run(
                ["predict", str(huge), str(folder / "out.csv"), *common, "--max-memory", "4GB"]
            )
            print(f"   --max-memory 4GB: {wall:,.0f} s ({wall / 60:.1f} min), peak {peak:,.0f} MB")
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
