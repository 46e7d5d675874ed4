"""How fast the dashboard can answer a move of the cost sliders.

Builds calibrated synthetic scores with labels (~6% fake users, as in real logs),
times ``CostCurve.from_scores`` (done once per scoring), then times a full cost
change: ``decide`` + ``expected_costs`` + ``realised_costs`` + ``optimum``, and
compares the median with the 100 ms budget for a slider move.

Run from the repository root::

    python benchmarks/bench_decisions.py [--users 500000] [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers.costcurve import CostCurve  # noqa: E402
from fakeusers.decisions import decide  # noqa: E402

BUDGET_MS = 100.0
# Slider positions to cycle through, so no run reuses the previous costs: (M, F).
COSTS = [(1.0, 5.0), (2.0, 3.0), (10.0, 1.0), (1.0, 20.0), (5.0, 5.0)]


def synthetic_scores(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Return calibrated probabilities (mean ~0.06) and labels drawn from them."""
    rng = np.random.default_rng(seed)
    p = rng.beta(0.3, 4.7, size=n)
    y = (rng.random(n) < p).astype(np.int8)
    return p, y


def costs_at(i: int) -> tuple[float, float]:
    return COSTS[i % len(COSTS)]


def median_ms(run: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(i)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    p, y = synthetic_scores(args.users)

    start = time.perf_counter()
    curve = CostCurve.from_scores(p, y_true=y)
    build_ms = (time.perf_counter() - start) * 1000

    def decide_at(i: int, top_k: int | None = None) -> None:
        m, f = costs_at(i)
        decide(p, cost_fp=m, cost_fn=f, top_k=top_k, y_true=y)

    def cost_change(i: int, top_k: int | None = None) -> None:
        decide_at(i, top_k)
        curve.expected_costs(*costs_at(i))
        curve.realised_costs(*costs_at(i))
        curve.optimum(*costs_at(i))

    parts = [
        ("decide (cost rule)", decide_at),
        ("decide (top 1,000)", lambda i: decide_at(i, top_k=1000)),
        ("expected_costs", lambda i: curve.expected_costs(*costs_at(i))),
        ("realised_costs", lambda i: curve.realised_costs(*costs_at(i))),
        ("optimum", lambda i: curve.optimum(*costs_at(i))),
    ]
    full_ms = median_ms(cost_change, args.repeats)
    top_k_ms = median_ms(lambda i: cost_change(i, top_k=1000), args.repeats)

    print(f"{args.users:,} users, {int(y.sum()):,} fake, {curve.thresholds.size:,} thresholds")
    print(f"CostCurve.from_scores (once per scoring): {build_ms:8.2f} ms")
    print(f"median of {args.repeats} runs:")
    for name, run in parts:
        print(f"  {name:<38}{median_ms(run, args.repeats):8.2f} ms")
    for name, ms in [
        ("full cost change (cost rule)", full_ms),
        ("full cost change (top-K)", top_k_ms),
    ]:
        verdict = "within" if ms <= BUDGET_MS else "OVER"
        print(
            f"  {name:<38}{ms:8.2f} ms = {ms / BUDGET_MS:.3f} x the "
            f"{BUDGET_MS:.0f} ms budget ({verdict})"
        )


if __name__ == "__main__":
    main()
