"""How fast verdicts are written and read back, and what applying them costs a decision.

On a SQLite file (the default review database), and on PostgreSQL when
``FAKEUSERS_TEST_POSTGRES_URL`` names a server (``.ci/run`` starts one):

- one verdict as the Review page records it (a verdict row and an audit row, one
  transaction), median and 95th percentile over 200, against a bare ``sqlite3`` INSERT and
  commit of the same row on the same kind of file;
- an import of 100,000 verdicts (``VerdictStore.record``), and ``latest()`` over them;
- ``ScoredLog.with_verdicts`` with 10,000 verdicts on a 500,000-user decision, against the
  decision alone (``with_rule``).

Run from the repository root::

    python benchmarks/bench_verdicts.py
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout, without installing
    sys.path.insert(0, str(ROOT))

from fakeusers.audit import Actor  # noqa: E402
from fakeusers.database import Database  # noqa: E402
from fakeusers.verdicts import NewVerdict, VerdictStore  # noqa: E402

SINGLE = 200
IMPORT = 100_000


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def writes(url: str, label: str) -> float:
    store = VerdictStore(Database(url))
    store.record([NewVerdict("warm-up", "fake")], Actor("bench"))
    one = [
        timed(lambda i=i: store.record([NewVerdict(f"u{i}", "fake", "note")], Actor("bench")))
        for i in range(SINGLE)
    ]
    many = [NewVerdict(f"bulk{i}", "fake" if i % 3 else "real") for i in range(IMPORT)]
    bulk = timed(lambda: store.record(many, Actor("bench"), source="import"))
    read = timed(store.latest)
    median = statistics.median(one)
    p95 = np.percentile(one, 95)
    print(
        f"{label}: one verdict {median * 1000:.1f} ms median, {p95 * 1000:.1f} ms p95; "
        f"import of {IMPORT:,} in {bulk:.2f} s; latest() over {IMPORT + SINGLE:,} in {read:.2f} s"
    )
    return median


def bare_sqlite(path: Path) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (user_id TEXT, verdict TEXT, note TEXT, at TEXT)")
    times = []
    for i in range(SINGLE):
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, 'fake', 'note', '2026-01-01')", (f"u{i}",))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times)


def applying(n_users: int = 500_000, n_verdicts: int = 10_000) -> None:
    from fakeusers.log import LoadReport, Log
    from fakeusers.scoring import Rule, ScoredLog

    rng = np.random.default_rng(0)
    ids = np.array([f"user{i}" for i in range(n_users)], dtype=object)
    log = Log(
        ids,
        np.arange(n_users, dtype=np.int32),
        ["click_ad"],
        np.zeros(n_users, np.int32),
        ["Motor"],
        np.zeros(n_users, np.int32),
        None,
        None,
        LoadReport(files=["bench"]),
    )
    scored = ScoredLog(log, None, None, rng.beta(0.3, 4.7, n_users), False, None, None)
    chosen = rng.choice(n_users, n_verdicts, replace=False)
    verdicts = {ids[i]: ("fake" if k % 2 else "real") for k, i in enumerate(chosen)}
    rule = Rule.of(1, 9)
    plain = min(timed(lambda: scored.with_rule(rule)) for _ in range(5))
    with_v = min(timed(lambda: scored.with_verdicts(verdicts).with_rule(rule)) for _ in range(5))
    print(
        f"deciding {n_users:,} users: {plain * 1000:.0f} ms; with {n_verdicts:,} verdicts "
        f"{with_v * 1000:.0f} ms (ratio {with_v / plain:.2f})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ours = writes(f"sqlite:///{tmp / 'review.db'}", "SQLite")
        bare = bare_sqlite(tmp / "bare.db")
        print(f"  one verdict vs a bare sqlite3 INSERT + COMMIT: ratio {ours / bare:.1f}")
        server = os.environ.get("FAKEUSERS_TEST_POSTGRES_URL")
        if server:
            sys.path.insert(0, str(ROOT / "tests"))
            from conftest import new_postgres_database

            writes(new_postgres_database(server), "PostgreSQL")
        else:
            print("PostgreSQL: skipped (set FAKEUSERS_TEST_POSTGRES_URL to a server's base URL)")
    applying()


if __name__ == "__main__":
    main()
