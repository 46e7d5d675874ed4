"""How fast the Review page is with 50,000 users in the queue, and a verdict's write latency.

Builds a labelled log of ~110k users (2.5M events), scores it once with a logistic model, and
decides with a review capacity of K = 50,000, so the queue holds 50,000 users. Then measures:

1. ``review_queue`` on the decided log, without and with 10,000 verdicts applied;
2. recording one verdict in a SQLite review database (``VerdictStore.record``: one
   transaction, the verdict and its audit row), on an empty database and on one holding
   10,000 verdicts; and reading back the verdicts that hold (``VerdictStore.latest``);
3. whole reruns of the Review page with Streamlit's AppTest: the first render (the user's
   reasons computed), Next (the cache warm), and Fake (a verdict written, read back, applied
   to every user, the queue rebuilt, the next user rendered).

Run from the repository root (a few minutes on two cores)::

    python benchmarks/bench_review.py [--events 2500000] [--queue 50000] [--repeats 7]
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

from fakeusers import models  # noqa: E402
from fakeusers.audit import Actor  # noqa: E402
from fakeusers.database import Database  # noqa: E402
from fakeusers.demo import generate_log  # noqa: E402
from fakeusers.reading import read_logs  # noqa: E402
from fakeusers.review_queue import review_queue  # noqa: E402
from fakeusers.scoring import Rule, score_log  # noqa: E402
from fakeusers.verdicts import NewVerdict, VerdictStore  # noqa: E402


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
    parser.add_argument("--events", type=int, default=2_500_000)
    parser.add_argument("--queue", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="streamlit")

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from views import _state as state

    print(f"Generating and reading a {args.events:,}-event labelled log ...", flush=True)
    log = read_logs(("big.csv", csv_of(args.events, seed=11)))
    model = models.train(read_logs(("train.csv", csv_of(100_000, seed=1))), "logistic")
    base = score_log(log, model)
    rule = Rule.of(1.0, 9.0, top_k=args.queue)
    decided = base.with_rule(rule)
    ids = log.user_ids
    some = decided.ranked_flagged[:10_000:1]
    verdicts = {str(ids[u]): ("fake" if i % 2 else "real") for i, u in enumerate(some)}

    queue_ms = median_ms(lambda i: review_queue(decided), args.repeats)
    with_verdicts = decided.with_verdicts(verdicts)
    queue_v_ms = median_ms(lambda i: review_queue(with_verdicts), args.repeats)
    apply_ms = median_ms(lambda i: base.with_verdicts(verdicts).with_rule(rule), args.repeats)

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/review.db"
        store = VerdictStore(Database(url))
        ana = Actor("ana")

        def one(i: int) -> None:
            store.record([NewVerdict(f"bench-{i}", "fake", "", 0.9)], ana, model="m@1")

        store.latest()  # opens and migrates the database
        empty_ms = median_ms(one, 50)
        entries = [NewVerdict(u, v) for u, v in verdicts.items()]
        bulk_ms = timed(lambda: store.record(entries, ana, source="import"))
        full_ms = median_ms(lambda i: one(1_000 + i), 50)
        latest_ms = median_ms(lambda i: store.latest(), args.repeats)

        os.environ["FAKEUSERS_DB_URL"] = url
        os.environ["FAKEUSERS_MODELS_DIR"] = str(Path(tmp) / "models")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.session_state[state.DATASET] = state.Dataset(log, "bench-data")
        at.session_state[state.MODEL] = state.ActiveModel(model, "bench-model")
        at.session_state[state.RULE] = state.RULE_TOP_K
        at.session_state[state.TOP_K] = args.queue
        at.session_state[state.ANALYST] = "ana"
        at.run()
        at.switch_page("views/review.py")
        first_ms = timed(at.run)
        assert not at.exception, [e.value for e in at.exception]
        progress = at.get("progress")[0].proto.text

        def click(label: str) -> Callable[[int], object]:
            return lambda i: next(b for b in at.button if b.label == label).click().run()

        next_ms = median_ms(click("Next"), args.repeats)
        fake_ms = median_ms(click("Fake (confirmed)"), args.repeats)
        assert not at.exception and not at.error, [e.value for e in at.error]
        after = at.get("progress")[0].proto.text
    st.cache_data.clear()
    st.cache_resource.clear()

    print(f"{log.n_rows:,} events, {log.n_users:,} users; queue of {args.queue:,} (top K)")
    print(f"  {'review_queue, no verdicts':<52}{queue_ms:9.1f} ms")
    print(f"  {'review_queue, 10,000 verdicts':<52}{queue_v_ms:9.1f} ms")
    print(f"  {'applying 10,000 verdicts + the rule (with_verdicts)':<52}{apply_ms:9.1f} ms")
    print("SQLite review database, median of 50:")
    print(f"  {'one verdict (+ audit row), empty database':<52}{empty_ms:9.1f} ms")
    print(f"  {'one verdict (+ audit row), 10,000 verdicts held':<52}{full_ms:9.1f} ms")
    print(f"  {'10,000 verdicts in one import':<52}{bulk_ms:9.1f} ms")
    print(f"  {'reading the ~10,000 verdicts that hold':<52}{latest_ms:9.1f} ms")
    print(f"Review page, whole reruns (AppTest), with ~10,000 verdicts held ({progress}):")
    print(f"  {'first render (reasons of the first user)':<52}{first_ms:9.1f} ms")
    print(f"  {'Next, median':<52}{next_ms:9.1f} ms")
    print(f"  {'Fake (write, re-read, re-apply, next user), median':<52}{fake_ms:9.1f} ms")
    print(f"  progress after: {after}")


if __name__ == "__main__":
    main()
