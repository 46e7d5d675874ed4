"""How long the dashboard takes to answer a cost change with ~500k scored users.

A cost change must not re-read, re-featurize or re-score: it reruns the Decisions page's
fragment, whose work is ``decide`` + the cost curve's costs and optimum + the flagged-users
ranking, table page and figures. This script builds a 10M-event labelled log (~470k users),
scores it once with a logistic model as the dashboard does (``pages/_state.py``), then
measures:

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

from fakeusers import decisions, explain, export, models, plots  # noqa: E402
from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402

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
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    from pages import _state as state

    print(f"Generating and reading a {args.events:,}-event labelled log ...", flush=True)
    data = csv_of(args.events, seed=11)
    start = time.perf_counter()
    log = read_logs(("big.csv", data))
    read_ms = (time.perf_counter() - start) * 1000
    del data
    dataset = state.Dataset(log, "bench-data", log.fingerprint())
    model = models.train(read_logs(("train.csv", csv_of(100_000, seed=1))), "logistic")
    active = state.ActiveModel(model, "bench-model")

    # 0. Scoring once: the dashboard's cached scoring function, on a cache miss.
    score_ms = timed(lambda: state._score(dataset.key, active.key, dataset, model))
    scored = state._score(dataset.key, active.key, dataset, model)
    p, y, curve = scored.p, scored.y, scored.curve
    reference = None  # logistic: contributions need no reference values

    # 1. The fragment's work on a cost change (explanations of page 1 are cached by the page).
    X = explain.user_features(log, model.vocabulary, scored.order[:PAGE_ROWS])
    contrib = explain.contributions(model, X, reference)
    reasons = explain.top_reasons(contrib, X)

    def fragment_work(i: int) -> None:
        m, f = COSTS[i % len(COSTS)]
        decision = decisions.decide(p, cost_fp=m, cost_fn=f, y_true=y)
        ranked = export.rank_flagged(p, decision.flagged, scored.order)
        optimum = curve.optimum(m, f)
        plots.cost_curve_figure(curve, m, f, decision.threshold, optimum).to_json()
        plots.confusion_figure(decision.outcome).to_json()
        shown = ranked[:PAGE_ROWS]
        export.flagged_table(log.user_ids, p, scored.n_events, shown, reasons[: shown.size])

    parts = {
        "decide (flags, expected cost, outcome)": lambda i: decisions.decide(
            p, cost_fp=COSTS[i % 5][0], cost_fn=COSTS[i % 5][1], y_true=y
        ),
        "rank flagged (O(n), order precomputed)": lambda i: export.rank_flagged(
            p, p >= 0.1, scored.order
        ),
        "cost curve optimum": lambda i: curve.optimum(*COSTS[i % 5]),
        "cost curve figure + JSON": lambda i: plots.cost_curve_figure(
            curve, *COSTS[i % 5], 0.1, curve.optimum(*COSTS[i % 5])
        ).to_json(),
    }
    fragment_ms = median_ms(fragment_work, args.repeats)
    explain_ms = timed(
        lambda: explain.contributions(
            model, explain.user_features(log, model.vocabulary, scored.order[100:200])
        )
    )

    flagged_at_01 = export.rank_flagged(p, p >= 0.1, scored.order)

    def build_download() -> bytes:  # what the download button runs, only when clicked
        X = explain.user_features(log, model.vocabulary, flagged_at_01)
        why = explain.top_reasons(explain.contributions(model, X, reference), X)
        table = export.flagged_table(log.user_ids, p, scored.n_events, flagged_at_01, why)
        return export.to_csv(table)

    download_ms = timed(build_download)

    # 2-3. Whole-page reruns with AppTest, the session holding the scored log.
    def init(self, *a, **k) -> None:  # run app.py on every run, as a server does (see tests)
        original(self, *a, **k)
        PagesManager.uses_pages_directory = False

    original = PagesManager.__init__
    PagesManager.__init__ = init
    with tempfile.TemporaryDirectory() as models_dir:
        os.environ["FAKEUSERS_MODELS_DIR"] = models_dir
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.session_state[state.DATASET] = dataset
        at.session_state[state.MODEL] = active
        at.session_state[state.SCORES] = ((dataset.key, active.key), scored)
        at.run()
        at.switch_page("pages/decisions.py").run()
        assert not at.exception, [e.value for e in at.exception]

        def cost_change(i: int) -> None:
            m, f = COSTS[(i + 1) % len(COSTS)]
            at.number_input(key=state.COST_FP_INPUT).set_value(m)
            at.number_input(key=state.COST_FN_INPUT).set_value(f)
            at.run()

        page_ms = median_ms(cost_change, args.repeats)
        flagged = next(m.value for m in at.metric if m.label == "Users flagged")
        at.switch_page("pages/users.py").run()
        users_ms = median_ms(lambda i: at.run(), max(3, args.repeats // 2))
        assert not at.exception, [e.value for e in at.exception]
    st.cache_data.clear()

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
    label = f"building the download ({flagged_at_01.size:,} flagged at 0.1)"
    print(f"  {label:<44}{download_ms:9.1f} ms")
    print(
        f"  {'Users page, whole rerun (AppTest)':<44}{users_ms:9.1f} ms = "
        f"{users_ms / score_ms:.3f} x scoring once"
    )


if __name__ == "__main__":
    main()
