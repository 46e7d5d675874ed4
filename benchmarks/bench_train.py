"""Training at scale: where the time of ``python -m fakeusers train`` goes, stage by stage.

Prints, on a demo log with timestamps (default 10M events, about 470k users), for each model
type: the wall and CPU seconds of each stage of :func:`fakeusers.training.train_and_save`
(the one path of the CLI and the API) as its progress reports them (read, featurize, the six
fits of 5-fold cross-validation and the fit on all users, out-of-fold figures, training
profile, save; CPU seconds hardly depend on how busy the machine is, wall seconds do), when
each fit finished, the total and its ratio to a bare read of the same file in the same run,
and the out-of-fold ROC AUC and log loss, to compare settings on quality as well as time.
``--workers 1 2`` trains each type fitting one at a time, then two side by side, and prints
the ratio of their fit stages (same log, same run).

Run: ``python benchmarks/bench_train.py [--events 10000000] [--kinds logistic boosting]
[--workers N ...]``. Files go to ``benchmarks/out/`` (ignored by git); the store to a
temporary folder.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
sys.path.insert(0, str(ROOT))

from fakeusers import models  # noqa: E402
from fakeusers.demo import write_demo_csv  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.store import ModelStore  # noqa: E402
from fakeusers.training import train_and_save  # noqa: E402


def timed_training(path: Path, kind: str, workers: int | None) -> tuple[list, list, dict, float]:
    """Train through the one path: (stage, wall seconds, CPU seconds) triples, when each fit
    ended, the card, the total wall seconds."""
    marks: list[tuple[str, float, float]] = []
    etas: list[float | None] = []
    start, cpu = time.perf_counter(), time.process_time()

    def progress(stage: str, done: float, eta: float | None) -> None:
        marks.append((stage, time.perf_counter() - start, time.process_time() - cpu))
        if stage.startswith("Cross-validating"):
            etas.append(eta)

    train = models.train
    if workers is not None:
        models.train = lambda *a, **k: train(*a, **k, workers=workers)
    try:
        with tempfile.TemporaryDirectory() as store:
            card, _ = train_and_save(
                [str(path)], store=ModelStore(store), model_type=kind, progress=progress
            )
    finally:
        models.train = train
    end = ("end", time.perf_counter() - start, time.process_time() - cpu)
    firsts: dict[str, tuple[float, float]] = {}
    for stage, t, c in marks:
        firsts.setdefault(stage, (t, c))
    ordered = [(stage, t, c) for stage, (t, c) in firsts.items()]
    stages = [
        (stage, t_next - t, c_next - c)
        for (stage, t, c), (_, t_next, c_next) in zip(ordered, [*ordered[1:], end], strict=True)
    ]
    fits = [
        (t, eta)
        for (stage, t, _), eta in zip(
            [m for m in marks if m[0].startswith("Cross-validating")], etas, strict=True
        )
    ][1:]
    return stages, fits, card, end[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--kinds", nargs="+", default=list(models.MODEL_TYPES))
    parser.add_argument("--workers", type=int, nargs="+", default=[None])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"train_{args.events}.csv"
    if not path.exists():
        write_demo_csv(path, n_events=args.events, seed=0, timestamps=True)
    start = time.perf_counter()
    log = read_logs([str(path)])
    bare = time.perf_counter() - start
    print(f"{path.name}: {log.n_rows:,} rows, {log.n_users:,} users; bare read {bare:.1f} s")
    del log
    fit_seconds: dict[str, float] = {}
    for kind, workers in itertools.product(args.kinds, args.workers):
        stages, fits, card, total = timed_training(path, kind, workers)
        workers = workers or models._workers()
        print(f"\n{kind}, {workers} fit(s) at a time: {total:.1f} s = {total / bare:.1f}x the read")
        fitting = next(t for stage, t, _ in stages if stage.startswith("Cross-validating"))
        first = fit_seconds.setdefault(kind, fitting)
        if first != fitting:
            print(f"  fits {first / fitting:.2f}x as fast as with {args.workers[0]} at a time")
        print("     wall      CPU  stage")
        for stage, seconds, cpu in stages:
            short = stage if len(stage) <= 60 else stage[:57] + "..."
            print(f"  {seconds:7.1f} s {cpu:6.1f} s  {short}")
        print("  fits finished at " + ", ".join(f"{t:.1f}" for t, _ in fits) + " s")
        print(
            "  time left estimated then: "
            + ", ".join("?" if eta is None else f"{eta:.0f}" for _, eta in fits)
            + " s"
        )
        cv = card["cv"]
        params = card["params"]
        chosen = params.get("chosen_C", params.get("boosting_iterations"))
        print(
            f"  out-of-fold ROC AUC {cv['roc_auc']:.5f}, log loss {cv['log_loss']:.5f}, "
            f"Brier {cv['brier']:.5f}, AP {cv['average_precision']:.5f} (C or iterations: "
            f"{chosen})"
        )


if __name__ == "__main__":
    main()
