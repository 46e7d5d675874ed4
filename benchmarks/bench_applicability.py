"""The applicability check: does it cry wolf, does it catch a shifted log, what does it cost?

Prints:
1. The false-alarm rate: a model trained on one demo log (100k events) checks ``--resamples``
   logs of the same population (the demo generator with other seeds) at 2k, 20k and 100k
   events, for each model type; every status other than ``fits`` is a false alarm.
2. How logs of another shape read (events remapped to ad clicks and emails, every user's
   events tripled, another category mix, renamed events), at the same sizes.
3. The time the check adds to scoring at ``--events`` (default 1M; ``--events 10000000``
   too if time permits): the check (``measure`` + the rule's part) against scoring itself
   (features and probabilities), median of 5, as a ratio.

Run: ``python benchmarks/bench_applicability.py [--resamples 20] [--events 1000000]
[--parts 1 2 3]``.
"""

from __future__ import annotations

import argparse
import collections
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fakeusers.applicability import measure  # noqa: E402
from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.models import features_and_probabilities, train  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.scoring import Rule, score_log  # noqa: E402

SIZES = (2_000, 20_000, 100_000)
RULE = Rule.of(cost_fp=1, cost_fn=9)


def log_of(table: pa.Table):
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    return read_logs([("log.csv", buf.getvalue())])


def replaced(table: pa.Table, column: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(column), column, values)


def shifted(kind: str, n_events: int, seed: int) -> pa.Table:
    """A log of another shape than the demo's."""
    table = generate_log(n_events, seed=seed, timestamps=True)
    rng = np.random.default_rng(seed)
    n = table.num_rows
    if kind == "ad clicks and emails":
        new = pa.array(rng.choice(["click_ad", "send_email"], n))
        return replaced(
            table, "Event", pc.if_else(pa.array(rng.random(n) < 0.6), new, table["Event"])
        )
    if kind == "events tripled":
        return pa.concat_tables([table] * 3).sort_by(
            [("UserId", "ascending"), ("Timestamp", "ascending")]
        )
    if kind == "Phone and Jobs only":
        return replaced(table, "Category", pa.array(rng.choice(["Phone", "Jobs"], n)))
    if kind == "events renamed":
        return replaced(table, "Event", pc.replace_substring(table["Event"], "send_", "msg_"))
    raise ValueError(kind)


def false_alarms(resamples: int) -> None:
    print(f"1. False alarms on {resamples} resamples of the training population (rule M=1, F=9)")
    for model_type in ("logistic", "boosting"):
        model = train(log_of(generate_log(100_000, seed=0, timestamps=True)), model_type)
        for n_events in SIZES:
            statuses = collections.Counter()
            psi = []
            for seed in range(1, resamples + 1):
                check = score_log(
                    log_of(generate_log(n_events, seed=seed, timestamps=True)), model, RULE
                ).applicability
                statuses[check.status] += 1
                psi.append(check.psi_max)
            alarms = resamples - statuses["fits"]
            print(
                f"   {model_type:<9} {n_events:>7,} events: false alarms {alarms}/{resamples} "
                f"({alarms / resamples:.0%}) {dict(statuses)}; largest PSI median "
                f"{statistics.median(psi):.3f}, max {max(psi):.3f}"
            )
    print()


def shifted_logs() -> None:
    print("2. Logs of another shape (model: logistic on 100k demo events)")
    model = train(log_of(generate_log(100_000, seed=0, timestamps=True)), "logistic")
    for kind in ("ad clicks and emails", "events tripled", "Phone and Jobs only", "events renamed"):
        read = []
        for n_events in SIZES:
            check = score_log(log_of(shifted(kind, n_events, seed=5)), model, RULE).applicability
            read.append(f"{n_events:,}: {check.status}")
        print(f"   {kind:<22} " + "; ".join(read))
    print()


def cost(n_events: int) -> None:
    model = train(log_of(generate_log(100_000, seed=0, timestamps=True)), "logistic")
    log = log_of(generate_log(n_events, seed=1, timestamps=True))
    scoring, checking = [], []
    for _ in range(5):
        start = time.perf_counter()
        X, p = features_and_probabilities(model, log)
        middle = time.perf_counter()
        measure(model, log, X, p).at(RULE)
        end = time.perf_counter()
        scoring.append(middle - start)
        checking.append(end - middle)
    s, c = statistics.median(scoring), statistics.median(checking)
    print(
        f"3. At {n_events:,} events ({log.n_users:,} users): scoring {s:.3f} s, the check "
        f"{c:.3f} s: the check adds {c / s:.1%} to scoring (median of 5)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resamples", type=int, default=20)
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    args = parser.parse_args()
    if 1 in args.parts:
        false_alarms(args.resamples)
    if 2 in args.parts:
        shifted_logs()
    if 3 in args.parts:
        for n_events in args.events:
            cost(n_events)


if __name__ == "__main__":
    main()
