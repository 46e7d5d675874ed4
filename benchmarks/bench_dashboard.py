"""How long the dashboard takes to answer a cost change with ~500k scored users.

A cost change must not re-read, re-featurize or re-score: it reruns the Decisions page's
fragment, whose work is ``ScoredLog.with_rule`` (the decision) + the cost curve's optimum +
the flagged-users table page and figures. This script builds a 10M-event labelled log (~470k
users), scores it once with a logistic model through ``fakeusers.scoring.score_log``, as the
dashboard does (``views/_state.py`` caches the result), then measures:

1. the fragment's work, calling the same library functions the page calls, with the figures
   serialised to JSON as Streamlit does before sending them;
2. a whole rerun of the Decisions page after a cost change, with Streamlit's AppTest and the
   session holding the scored log (an upper bound: the browser reruns only the fragment);
3. a whole rerun of the Users page (population charts over 10M rows) for comparison;

and prints each in milliseconds and as a ratio to the time of scoring once.

Run from the repository root (under a minute on two cores, ~6 GB of memory)::

    python benchmarks/bench_dashboard.py [--events 10000000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers import models, plots  # noqa: E402
from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.scoring import Rule, score_log  # noqa: E402

COSTS = [(1.0, 9.0), (2.0, 3.0), (1.0, 20.0), (5.0, 5.0), (1.0, 4.0)]
PAGE_ROWS = 100


def csv_of(n_events: int, seed: int) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(generate_log(n_events, seed=seed, timestamps=True), buf)
    return buf.getvalue()


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def median_ms(run: Callable[[int], object], repeats: int) -> float:
    return statistics.median(timed(lambda i=i: run(i)) for i in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="streamlit")

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from views import _state as state

    print(f"Generating and reading a {args.events:,}-event labelled log ...", flush=True)
    data = csv_of(args.events, seed=11)
    start = time.perf_counter()
    log = read_logs(("big.csv", data))
    read_ms = (time.perf_counter() - start) * 1000
    del data
    model = models.train(read_logs(("train.csv", csv_of(100_000, seed=1))), "logistic")

    # 0. Scoring once: what the dashboard's cached scoring does on a cache miss.
    start = time.perf_counter()
    base = score_log(log, model)
    _ = base.order, base.curve  # derived once, shared by every later rule
    score_ms = (time.perf_counter() - start) * 1000
    y = base.labels
    rules = [Rule.of(m, f) for m, f in COSTS]
    base.table(base.order[:PAGE_ROWS], reasons=True)  # the page caches its first table page

    # 1. The fragment's work on a cost change (the table page of the same users is cached).
    def fragment_work(i: int) -> None:
        rule = rules[i % len(rules)]
        scored = base.with_rule(rule)
        optimum = scored.curve.optimum(rule.cost_fp, rule.cost_fn)
        threshold = scored.decision.threshold
        plots.cost_curve_figure(
            scored.curve, rule.cost_fp, rule.cost_fn, threshold, optimum
        ).to_json()
        plots.confusion_figure(scored.decision.outcome).to_json()
        _ = scored.ranked_flagged[:PAGE_ROWS]

    parts = {
        "with_rule (flags, expected cost, outcome)": lambda i: base.with_rule(rules[i % 5]),
        "ranked flagged users": lambda i: base.with_rule(rules[i % 5]).ranked_flagged,
        "cost curve optimum": lambda i: base.curve.optimum(*COSTS[i % 5]),
        "cost curve figure + JSON": lambda i: plots.cost_curve_figure(
            base.curve, *COSTS[i % 5], 0.1, base.curve.optimum(*COSTS[i % 5])
        ).to_json(),
    }
    fragment_ms = median_ms(fragment_work, args.repeats)
    explain_ms = timed(lambda: base.explain(base.order[100:200]))
    at_01 = base.with_rule(Rule.of(1, 9))
    download_ms = timed(at_01.flagged_csv)  # what the download button runs, only when clicked

    # 2-3. Whole-page reruns with AppTest; the first run scores (the cache is cold), the
    # timed ones find the scored log in the dashboard's cache.
    with tempfile.TemporaryDirectory() as models_dir:
        os.environ["FAKEUSERS_MODELS_DIR"] = models_dir
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.session_state[state.DATASET] = state.Dataset(log, "bench-data")
        at.session_state[state.MODEL] = state.ActiveModel(model, "bench-model")
        at.run()
        at.switch_page("views/decisions.py").run()
        assert not at.exception, [e.value for e in at.exception]

        def cost_change(i: int) -> None:
            m, f = COSTS[(i + 1) % len(COSTS)]
            at.number_input(key=state.COST_FP_INPUT).set_value(m)
            at.number_input(key=state.COST_FN_INPUT).set_value(f)
            at.run()

        page_ms = median_ms(cost_change, args.repeats)
        flagged = next(m.value for m in at.metric if m.label == "Users flagged")
        at.switch_page("views/users.py").run()
        users_ms = median_ms(lambda i: at.run(), max(3, args.repeats // 2))
        assert not at.exception, [e.value for e in at.exception]
    st.cache_data.clear()
    st.cache_resource.clear()

    n = log.n_users
    print(f"{log.n_rows:,} events, {n:,} users ({int(y.sum()):,} fake); read in {read_ms:,.0f} ms")
    print(f"Scoring once (featurize + predict + order + cost curve): {score_ms:9.1f} ms")
    print(f"Cost change, median of {args.repeats} (last one flagged {flagged} users):")
    for name, run in parts.items():
        ms = median_ms(run, args.repeats)
        print(f"  {name:<44}{ms:9.1f} ms")
    for name, ms in [
        ("fragment work (all of the above + table)", fragment_ms),
        ("Decisions page, whole rerun (AppTest)", page_ms),
    ]:
        print(f"  {name:<44}{ms:9.1f} ms = {ms / score_ms:.3f} x scoring once")
    print("For comparison:")
    print(f"  {'explaining a new page of 100 users':<44}{explain_ms:9.1f} ms")
    label = f"building the download ({at_01.decision.n_flagged:,} flagged at 0.1)"
    print(f"  {label:<44}{download_ms:9.1f} ms")
    print(
        f"  {'Users page, whole rerun (AppTest)':<44}{users_ms:9.1f} ms = "
        f"{users_ms / score_ms:.3f} x scoring once"
    )


if __name__ == "__main__":
    main()
