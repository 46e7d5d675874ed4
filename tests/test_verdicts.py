"""Verdicts and the audit trail in a real database: SQLite files and a real PostgreSQL server.

The rules (latest wins, reverts, all-or-nothing imports), migrations, two processes writing
at once through the real command line, and clear messages when the database is unavailable.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from fakeusers.audit import Actor, AuditTrail
from fakeusers.database import Database, tables
from fakeusers.errors import DatabaseUnavailableError, FakeusersError
from fakeusers.reading import read_logs
from fakeusers.scoring import Rule, score_log
from fakeusers.verdicts import NewVerdict, VerdictStore, held_verdicts, parse_verdicts
from tests.support import ROOT, csv_bytes, trained

ANA = Actor("ana")


@pytest.fixture
def store(database_url: str) -> VerdictStore:
    return VerdictStore(Database(database_url))


def test_the_schema_is_migrated_once_and_reopening_is_harmless(database_url: str) -> None:
    for _ in range(2):
        db = Database(database_url)
        with db.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            assert version == "0002"
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(tables.verdicts)).scalar() == 0
            )
        db.dispose()
    if database_url.startswith("sqlite"):
        path = sa.make_url(database_url).database
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_latest_verdict_wins_and_a_revert_brings_back_the_one_before(store) -> None:
    store.record([NewVerdict("u1", "fake", "40 emails a minute"), NewVerdict("u2", "real")], ANA)
    store.record([NewVerdict("u1", "real", "a reseller")], Actor("bo", verified=True))
    held = store.latest()
    assert {u: v.verdict for u, v in held.items()} == {"u1": "real", "u2": "real"}
    assert (held["u1"].analyst, held["u1"].analyst_verified, held["u1"].why) == (
        "bo",
        True,
        "cleared",
    )
    restored = store.revert(held["u1"].id, "the reseller story was false", ANA)
    assert (restored.verdict, restored.note) == ("fake", "40 emails a minute")
    assert [v.verdict for v in store.history("u1")] == ["revert", "real", "fake"]
    with pytest.raises(FakeusersError, match="already reverted"):
        store.revert(held["u1"].id, "again", ANA)
    with pytest.raises(FakeusersError, match="Say why"):
        store.revert(restored.id, "  ", ANA)
    assert store.revert(store.latest()["u2"].id, "mistake", ANA) is None
    assert set(store.latest()) == {"u1"}


def test_every_verdict_and_revert_is_in_the_audit_trail(store) -> None:
    store.record([NewVerdict("u1", "fake")], ANA, model="june@2", threshold=0.1)
    store.record([NewVerdict("u2", "real"), NewVerdict("u3", "fake")], Actor("bo"), source="import")
    store.revert(store.latest()["u1"].id, "wrong user", Actor("bo"))
    trail = store.audit.entries()
    assert trail["action"].tolist() == ["revert", "import", "verdict"]
    assert trail["count"].tolist() == [1, 2, 1]
    first = trail.iloc[2]
    assert (first["actor"], first["model"], first["threshold"]) == ("ana", "june@2", 0.1)
    assert store.audit.entries(actor="bo")["action"].tolist() == ["revert", "import"]
    assert store.audit.entries(action="verdict")["actor"].tolist() == ["ana"]


def test_verdict_files_are_checked_whole_and_refused_with_line_numbers(store) -> None:
    good = (
        "\ufeffuserid , Verdict,note\r\n u1 ,FAKE,bot\r\nu2,real,\r\n\r\nu1,fake,bot\r\nu3,fake\r\n"
    )
    entries = parse_verdicts(good.encode())
    assert entries == [
        NewVerdict("u1", "fake", "bot"),
        NewVerdict("u2", "real", ""),
        NewVerdict("u3", "fake", ""),  # the optional note left out altogether
    ]
    bad = b"UserId,verdict\nu1,fake\nu2,maybe\n,real\nu1,real\nu4,fake,extra\n"
    with pytest.raises(FakeusersError) as err:
        parse_verdicts(bad, "v.csv")
    message = str(err.value)
    for part in (
        "v.csv: 4 bad rows, nothing was imported",
        "line 3: verdict 'maybe'",
        "line 4: the UserId is empty",
        "line 5: user 'u1' already has a different verdict on line 2",
        "line 6: 3 fields",
    ):
        assert part in message
    for data, words in [
        (b"", "empty"),
        (b"id,verdict\nu1,fake\n", "no UserId column"),
        (b"UserId\nu1\n", "no verdict column"),
        (b"UserId,verdict\n", "no verdicts"),
        ("UserId,verdict\nu\xe9,fake\n".encode("latin-1"), "not UTF-8"),
    ]:
        with pytest.raises(FakeusersError, match=words):
            parse_verdicts(data)
    assert store.latest() == {}, "nothing was recorded"


def test_block_and_allow_lists_give_one_verdict_to_every_listed_user() -> None:
    assert [e.verdict for e in parse_verdicts(b"UserId\nu1\nu2\n", verdict="fake")] == ["fake"] * 2
    with pytest.raises(FakeusersError, match="line 3: verdict 'fake' in a list of real users"):
        parse_verdicts(b"UserId,verdict\nu1,real\nu2,fake\n", verdict="real")


def test_verdicts_decide_over_the_model_everywhere_the_rule_decides() -> None:
    model = trained(20_000, 1)
    log = read_logs([("score.csv", csv_bytes(20_000, 2))])
    base = score_log(log, model, Rule.of(1, 9))
    riskiest, safest = base.ranked_flagged[0], base.order[-1]
    verdicts = {log.user_ids[riskiest]: "real", log.user_ids[safest]: "fake", "elsewhere": "fake"}
    scored = score_log(log, model, Rule.of(1, 9), verdicts=verdicts)
    assert not scored.flagged[riskiest] and scored.flagged[safest]
    assert scored.decision.n_flagged == base.decision.n_flagged
    assert (scored.why[riskiest], scored.why[safest], scored.why[base.order[1]]) == (
        "cleared",
        "confirmed fake",
        "model",
    )
    # Top K: the K are chosen among users without a verdict; confirmed fakes come on top.
    top = scored.with_rule(Rule.of(top_k=5))
    assert top.decision.n_flagged == 6 and top.flagged[safest] and not top.flagged[riskiest]
    assert set(np.flatnonzero(top.flagged)) - {safest} == set(base.order[1:6])
    rows = list(csv.DictReader(io.StringIO(scored.flagged_csv().decode())))
    assert {r["why"] for r in rows} == {"model", "confirmed fake"}
    assert log.user_ids[riskiest] not in {r["UserId"] for r in rows}


def test_an_unavailable_database_is_a_clear_message_and_scoring_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    db = Database(f"sqlite:///{folder / 'review.db'}")
    VerdictStore(db).record([NewVerdict("u1", "fake")], ANA)
    db.dispose()
    folder.chmod(0o555)
    (folder / "review.db").chmod(0o444)
    try:
        if os.geteuid() != 0:  # root ignores file modes
            with pytest.raises(DatabaseUnavailableError, match="read-only"):
                VerdictStore(Database(f"sqlite:///{folder / 'review.db'}")).record(
                    [NewVerdict("u2", "real")], ANA
                )
    finally:
        folder.chmod(0o755)
    down = Database("postgresql+psycopg://nobody@/fakeusers?host=/nonexistent&connect_timeout=2")
    with pytest.raises(DatabaseUnavailableError) as err:
        VerdictStore(down).latest()
    message = str(err.value)
    assert "postgresql+psycopg://nobody@/fakeusers" in message
    assert (
        "check that the server is running" in message
        and "scoring and deciding still work" in message
    )
    verdicts, problem = held_verdicts(down)
    assert verdicts == {} and problem.startswith("Verdicts not applied: Cannot open")
    with pytest.raises(DatabaseUnavailableError, match="not a database URL"):
        Database("no url at all")


def test_a_locked_database_says_so_after_its_timeout(tmp_path: Path) -> None:
    path = tmp_path / "review.db"
    VerdictStore(Database(f"sqlite:///{path}")).record([NewVerdict("u1", "fake")], ANA)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        waiting = VerdictStore(Database(f"sqlite:///{path}", timeout=0.5))
        with pytest.raises(DatabaseUnavailableError, match="try again in a moment"):
            waiting.record([NewVerdict("u2", "real")], ANA)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_default_database_that_does_not_exist_is_not_created_by_reading(tmp_path: Path) -> None:
    path = tmp_path / "data" / "fakeusers.db"
    assert held_verdicts(Database(f"sqlite:///{path}")) == ({}, None)
    assert not path.exists()


def test_two_processes_importing_500_verdicts_each_at_once_keep_all_1000(
    database_url: str, tmp_path: Path
) -> None:
    files = []
    for writer in range(2):
        rows = "".join(f"w{writer}-u{i},{'fake' if i % 3 else 'real'},n{i}\n" for i in range(500))
        path = tmp_path / f"writer{writer}.csv"
        path.write_text("UserId,verdict,note\n" + rows)
        files.append(path)
    env = {**os.environ, "FAKEUSERS_DB_URL": database_url}
    Database(database_url).engine()  # migrated first, as the dashboard or API would
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "fakeusers", "review", "import", str(f), "--analyst", f"w{i}"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, f in enumerate(files)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert "Imported 500 verdicts (333 fake, 167 real)" in out
    held = VerdictStore(Database(database_url)).latest()
    assert len(held) == 1000
    assert {v.analyst for v in held.values()} == {"w0", "w1"}
    trail = AuditTrail(Database(database_url)).entries(action="import")
    assert sorted(trail["count"].tolist()) == [500, 500]


def test_two_processes_migrating_a_new_database_at_once_both_succeed(database_url: str) -> None:
    code = (
        "import sys; from fakeusers.database import Database; "
        "from fakeusers.verdicts import VerdictStore; "
        "print(len(VerdictStore(Database(sys.argv[1])).latest()))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert (p.returncode, out.strip()) == (0, "0"), err


def test_train_with_verdicts_labels_an_unlabelled_log_and_says_how_many_more_are_needed(
    tmp_path: Path,
) -> None:
    """The real CLI: too few verdicts refused with the count missing; enough train a model
    whose card records what the verdicts did, and the training is in the audit trail."""
    from fakeusers.store import ModelStore
    from tests.support import run_cli

    labelled = read_logs([("l.csv", csv_bytes(6_000, 3, timestamps=False))])
    fakes = labelled.user_ids[labelled.labels == 1][:8]
    reals = labelled.user_ids[labelled.labels == 0][:30]
    log = tmp_path / "unlabelled.csv"
    log.write_bytes(csv_bytes(6_000, 3, labelled=False, timestamps=False))
    env = {**os.environ, "FAKEUSERS_DB_URL": f"sqlite:///{tmp_path / 'review.db'}"}
    store = tmp_path / "models"

    def verdicts(name: str, ids, kind: str) -> Path:
        path = tmp_path / name
        path.write_text("UserId,verdict\n" + "".join(f"{u},{kind}\n" for u in ids))
        return path

    train = ("train", str(log), "--with-verdicts", "--name", "fb", "--models-dir", str(store))
    assert (
        run_cli("review", "import", str(verdicts("a.csv", fakes[:3], "fake")), env=env).returncode
        == 0
    )
    assert (
        run_cli("review", "import", str(verdicts("b.csv", reals, "real")), env=env).returncode == 0
    )
    refused = run_cli(*train, env=env)
    assert refused.returncode == 2
    assert "3 fake and 30 real labelled users" in refused.stderr
    assert "Record 2 more fake verdicts" in refused.stderr
    assert (
        run_cli("review", "import", str(verdicts("c.csv", fakes[3:], "fake")), env=env).returncode
        == 0
    )
    done = run_cli(*train, env=env)
    assert done.returncode == 0, done.stderr
    assert "38 users of the log have one (8 fake, 30 real)" in done.stderr
    card = ModelStore(store).card("fb")
    assert card["training"]["verdicts"] == {
        "verdicts": 38,
        "fake": 8,
        "real": 30,
        "changed": 0,
        "added": 38,
        "dropped": labelled.n_users - 38,
    }
    assert card["cv"]["users"] == 38
    scored = run_cli(
        "predict",
        str(log),
        str(tmp_path / "out.csv"),
        "--model",
        "fb",
        "--models-dir",
        str(store),
        env=env,
    )
    assert scored.returncode == 0, scored.stderr
    trail = AuditTrail(Database(env["FAKEUSERS_DB_URL"])).entries()
    assert trail["action"].tolist() == ["train", "import", "import", "import"]
    assert trail["model"].iloc[0] == "fb@1"
    # A new version on more feedback is compared with the one it replaces, on the same folds.
    more = verdicts("d.csv", labelled.user_ids[labelled.labels == 0][30:60], "real")
    assert run_cli("review", "import", str(more), env=env).returncode == 0
    again = run_cli(*train, "--replace", env=env)
    assert again.returncode == 0, again.stderr
    assert "Against fb@1 on the same 68 users and verdict-corrected labels" in again.stdout
    lines = [x for x in again.stdout.splitlines() if x.strip().startswith(("ROC AUC", "Brier"))]
    assert len(lines) == 4 and all("->" in x for x in lines[2:])
    assert "python -m fakeusers models promote fb@2" in again.stdout


def test_the_current_model_is_judged_on_the_same_users_and_corrected_labels() -> None:
    """On its own training log the current model's probabilities are its out-of-fold ones,
    so the same model on both sides gives the same figures; verdicts change the labels both
    are judged against."""
    from fakeusers.training import compare_with_current, verdict_training_log

    log = read_logs([("train.csv", csv_bytes(20_000, 1))])
    model = trained(20_000, 1)
    both = compare_with_current(log, log, model, model, cost_fp=1, cost_fn=9)
    assert both["current"] == both["new"]
    assert both["new"]["roc_auc"] == model.cv["roc_auc"] and both["new"]["cost"] > 0
    flipped = {u: "real" for u in log.user_ids[log.labels == 1][:5]}
    taught, _ = verdict_training_log(log, flipped)
    again = compare_with_current(log, taught, model, model)
    assert again["current"]["fake_users"] == model.cv["fake_users"] - 5
    assert again["current"]["roc_auc"] < both["current"]["roc_auc"]


def test_a_verdict_overrides_a_label_and_the_card_counts_it() -> None:
    from fakeusers.verdicts import with_verdict_labels

    log = read_logs([("l.csv", csv_bytes(4_000, 5, timestamps=False))])
    fake = log.user_ids[log.labels == 1][0]
    relabelled, counts = with_verdict_labels(log, {fake: "real", "not-in-log": "fake"})
    assert counts == {"verdicts": 1, "fake": 0, "real": 1, "changed": 1, "added": 0, "dropped": 0}
    assert relabelled.n_users == log.n_users
    assert relabelled.labels[list(relabelled.user_ids).index(fake)] == 0
    assert relabelled.fingerprint() != log.fingerprint()


def test_predict_with_a_rule_records_the_flagged_list_in_the_audit_trail(tmp_path: Path) -> None:
    import hashlib

    from fakeusers.store import ModelStore
    from tests.support import run_cli

    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    log = tmp_path / "log.csv"
    log.write_bytes(csv_bytes(3_000, 2))
    env = {**os.environ, "FAKEUSERS_DB_URL": f"sqlite:///{tmp_path / 'review.db'}"}
    out = tmp_path / "flags.csv"
    r = run_cli(
        "predict",
        str(log),
        str(out),
        "--top-k",
        "7",
        "--models-dir",
        str(tmp_path / "models"),
        env=env,
    )
    assert r.returncode == 0, r.stderr
    assert "No analysts' verdicts applied: the review database sqlite:///" in r.stderr
    assert "does not exist (another one: --db-url or FAKEUSERS_DB_URL)" in r.stderr
    (entry,) = AuditTrail(Database(env["FAKEUSERS_DB_URL"])).entries().to_dict("records")
    assert (entry["action"], entry["model"], entry["count"]) == ("download", "june@1", 7)
    assert entry["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert "the top 7" in entry["detail"]


def test_a_model_trained_on_verdicts_scores_its_log_as_read_out_of_fold(tmp_path: Path) -> None:
    """Verdicts changed labels but left out nobody: the log as read is the model's training
    log, so its users get the out-of-fold probabilities, as with any training log. Verdicts
    about nobody in the log are refused."""
    from fakeusers.store import ModelStore
    from fakeusers.training import train_and_save

    data = [("train.csv", csv_bytes(6_000, 4, timestamps=False))]
    log = read_logs(data)
    flipped = {u: "real" for u in log.user_ids[log.labels == 1][:3]}
    store = ModelStore(tmp_path / "models")
    train_and_save(data, store=store, name="fb", verdicts=flipped)
    model = store.load("fb").model
    scored = score_log(log, model)
    assert scored.out_of_fold
    np.testing.assert_array_equal(scored.p, model.oof_p)
    with pytest.raises(FakeusersError, match="None of the 1 verdicts .* is about a user"):
        train_and_save(data, store=store, name="fb2", verdicts={"elsewhere": "fake"})
