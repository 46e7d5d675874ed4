"""The command line, run for real in a subprocess as an engineer would at a shell."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakeusers.store import ModelStore
from tests.support import (
    ROOT,
    assert_clean_error,
    read_csv,
    run_cli,
    shifted_csv_bytes,
    write_log,
)

run = run_cli


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Demo logs and a store with one trained model, made through the CLI itself."""
    tmp = tmp_path_factory.mktemp("cli")
    store = tmp / "store"
    train_log = tmp / "train.csv"
    score_log = tmp / "score.csv.gz"
    assert run("demo-data", str(train_log), "--events", "30000", "--seed", "1").returncode == 0
    r = run("demo-data", str(score_log), "--events", "10000", "--seed", "2", "--timestamps")
    assert r.returncode == 0, r.stderr
    r = run("train", str(train_log), "--name", "first", "--models-dir", str(store))
    assert r.returncode == 0, r.stderr
    small = write_log(tmp / "small.csv", 6_000, seed=4, timestamps=False)
    return {
        "tmp": tmp,
        "store": store,
        "train": train_log,
        "small": small,
        "score": score_log,
        "out": r.stdout,
        "train_err": r.stderr,
    }


def test_train_prints_the_cv_summary(workspace):
    out = workspace["out"]
    assert "Model 'first' version 1 (logistic) saved" in out
    assert "It is the default model (first@1)." in out
    for label in ("ROC AUC", "average precision", "Brier score", "log loss", "reliability"):
        assert label in out
    assert (workspace["store"] / "first" / "v1" / "model.json").exists()


def test_train_reports_its_stages_in_plain_lines_when_stderr_is_not_a_terminal(workspace):
    lines = [line for line in workspace["train_err"].splitlines() if line.startswith("[")]
    assert lines[0] == f"[  0%] Reading {workspace['train']} ..."
    assert lines[-1] == "[100%] Saved model 'first' version 1."
    assert lines[1].startswith("[ 20%] Read 30,000 rows"), "what was read, before training"
    done = [int(line[1:4]) for line in lines]
    assert done == sorted(done)
    fits = [line for line in lines if "Cross-validating logistic (5 folds by user)" in line]
    assert len(fits) == 7, "the start, then one line as each of the six fits ends"
    assert all(re.search(r"\(about \d+ s left\)$", line) for line in fits[1:-1])
    assert "\r" not in workspace["train_err"] and "█" not in workspace["train_err"]


def test_train_draws_a_bar_on_a_terminal(workspace, tmp_path):
    import pty
    import select

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "FAKEUSERS_MODELS_DIR"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fakeusers", "train", str(workspace["small"])]
        + ["--name", "barred", "--models-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    os.close(follower)
    drawn = b""
    while True:  # read as it is drawn, so a full terminal buffer never blocks the command
        ready, _, _ = select.select([leader], [], [], 120)
        try:
            chunk = os.read(leader, 4096) if ready else b""
        except OSError:  # the command has exited and closed the terminal
            chunk = b""
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0
    text = drawn.decode()
    assert "█" in text and "\r" in text, "a bar redrawn in place"
    assert "100%" in text and "Saved model 'barred' version 1" in text
    assert "Read 6,000 rows" in text, "each stage keeps its line, so what was read stays"


def test_models_lists_the_store(workspace):
    r = run("models", "--models-dir", str(workspace["store"]))
    assert r.returncode == 0
    assert r.stdout.splitlines()[0].split()[:5] == ["MODEL", "(*", "default)", "CREATED", "TYPE"]
    assert r.stdout.splitlines()[1].startswith("first@1 * ")


def test_predict_writes_the_contract_format(workspace):
    out = workspace["tmp"] / "scores.csv"
    r = run("predict", str(workspace["score"]), str(out), "--models-dir", str(workspace["store"]))
    assert r.returncode == 0, r.stderr
    assert out.read_text().splitlines()[0] == "UserId,is_fake_probability"
    rows = read_csv(out)
    source = read_csv_gz(workspace["score"])
    assert [r["UserId"] for r in rows] == list(dict.fromkeys(s["UserId"] for s in source))
    assert all(0.0 <= float(r["is_fake_probability"]) <= 1.0 for r in rows)


def read_csv_gz(path: Path) -> list[dict]:
    import gzip

    with gzip.open(path, "rt", newline="") as fh:
        return list(csv.DictReader(fh))


def test_predict_with_costs_flags_at_m_over_m_plus_f(workspace):
    out = workspace["tmp"] / "flags.csv"
    r = run(
        "predict",
        str(workspace["score"]),
        str(out),
        "--cost-fp",
        "1",
        "--cost-fn",
        "9",
        "--models-dir",
        str(workspace["store"]),
    )
    assert r.returncode == 0, r.stderr
    assert "threshold M/(M+F) = 0.1000" in r.stdout
    rows = read_csv(out)
    assert all((float(x["is_fake_probability"]) >= 0.1) == (x["flagged"] == "1") for x in rows)
    assert 0 < sum(x["flagged"] == "1" for x in rows) < len(rows)


def test_predict_top_k_flags_the_k_riskiest(workspace):
    out = workspace["tmp"] / "top.csv"
    env = {"FAKEUSERS_MODELS_DIR": str(workspace["store"])}  # the store from the environment
    r = run("predict", str(workspace["score"]), str(out), "--top-k", "25", env=env)
    assert r.returncode == 0, r.stderr
    rows = read_csv(out)
    flagged = [float(x["is_fake_probability"]) for x in rows if x["flagged"] == "1"]
    others = [float(x["is_fake_probability"]) for x in rows if x["flagged"] == "0"]
    assert len(flagged) == 25 and min(flagged) >= max(others)


def test_overlapping_logs_keep_one_copy_unless_overlaps_keep_all(workspace, tmp_path):
    store = ["--models-dir", str(workspace["store"])]
    log = workspace["small"]
    again = tmp_path / "again.csv"
    again.write_bytes(log.read_bytes())  # the same export, saved twice
    alone, one, both = tmp_path / "alone.csv", tmp_path / "one.csv", tmp_path / "both.csv"
    assert run("predict", str(log), str(alone), *store).returncode == 0
    r_one = run("predict", str(log), str(again), str(one), *store)
    r_both = run("predict", str(log), str(again), str(both), "--overlaps", "keep_all", *store)
    assert r_one.returncode == r_both.returncode == 0, r_both.stderr
    assert "the exports overlap. One copy is kept: those rows of " in r_one.stderr
    assert "Both copies are kept, so those users' events count twice." in r_both.stderr
    # One copy scores as the log alone; two copies give every user twice the events.
    assert read_csv(one) == read_csv(alone)
    p_one = [float(x["is_fake_probability"]) for x in read_csv(one)]
    p_both = [float(x["is_fake_probability"]) for x in read_csv(both)]
    assert [x["UserId"] for x in read_csv(both)] == [x["UserId"] for x in read_csv(one)]
    assert sum(a != b for a, b in zip(p_one, p_both, strict=True)) > len(p_one) / 2


def test_training_on_overlapping_logs_reads_the_rows_as_asked(workspace, tmp_path):
    log = workspace["small"]
    store = ["--models-dir", str(tmp_path / "store")]
    read = {}
    for choice, said in (("keep_one", "One copy is kept"), ("keep_all", "Both copies are kept")):
        r = run("train", str(log), str(log), "--name", choice, "--overlaps", choice, *store)
        assert r.returncode == 0, r.stderr
        assert said in r.stderr
        read[choice] = re.search(r"Read ([\d,]+) rows, ([\d,]+) users", r.stderr).groups()
    (rows_one, users_one), (rows_both, users_both) = read["keep_one"], read["keep_all"]
    assert (rows_one, rows_both) == ("6,000", "12,000") and users_one == users_both


def test_an_unknown_overlaps_choice_is_a_usage_error(workspace):
    r = run("evaluate", str(workspace["small"]), "--overlaps", "drop")
    assert_clean_error(r, "--overlaps", "'drop'", "keep_one", "keep_all")


def test_costs_too_large_to_price_are_refused_and_the_largest_priced_without_warnings(workspace):
    store = ["--models-dir", str(workspace["store"])]
    costs = ["--cost-fp", "1e308", "--cost-fn", "1e308"]
    huge = run("evaluate", str(workspace["score"]), *costs, *store)
    assert_clean_error(huge, "at most 1e15", "M=1e+308", "larger unit")
    r = subprocess.run(
        [sys.executable, "-W", "error", "-m", "fakeusers", "evaluate", str(workspace["score"])]
        + ["--cost-fp", "1e15", "--cost-fn", "1e15", *store],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if "expected cost" in x)
    assert "inf" not in line and "nan" not in line, line


def test_evaluate_reports_metrics_and_costs(workspace):
    r = run(
        "evaluate",
        str(workspace["score"]),
        "--cost-fp",
        "1",
        "--cost-fn",
        "9",
        "--models-dir",
        str(workspace["store"]),
    )
    assert r.returncode == 0, r.stderr
    for label in ("ROC AUC", "confusion: TP", "precision", "realised cost"):
        assert label in r.stdout
    # The expected cost comes with the interval the realised cost is likely to fall in.
    line = next(x for x in r.stdout.splitlines() if "expected cost" in x)
    m = re.search(r"expected cost ([\d,.]+) \(90% between ([\d,.]+) and ([\d,.]+)\)", line)
    assert m, line
    expected, low, high = (float(g.replace(",", "")) for g in m.groups())
    assert low <= expected <= high


def test_a_typed_threshold_flags_from_it_and_is_priced_by_the_costs(workspace):
    out = workspace["tmp"] / "typed.csv"
    store = ["--models-dir", str(workspace["store"])]
    r = run("predict", str(workspace["score"]), str(out), "--threshold", "0.3", *store)
    assert r.returncode == 0, r.stderr
    assert "threshold 0.3000 (typed)" in r.stdout
    assert "expected cost" not in r.stdout  # no costs, no price
    rows = read_csv(out)
    assert all((float(x["is_fake_probability"]) >= 0.3) == (x["flagged"] == "1") for x in rows)
    priced = run(
        "evaluate",
        str(workspace["score"]),
        "--threshold",
        "0.3",
        "--cost-fp",
        "1",
        "--cost-fn",
        "9",
        *store,
    )
    assert priced.returncode == 0, priced.stderr
    assert "threshold 0.3000 (typed)" in priced.stdout and "90% between" in priced.stdout
    assert_clean_error(
        run(
            "predict",
            str(workspace["score"]),
            str(out),
            "--threshold",
            "0.3",
            "--top-k",
            "5",
            *store,
        ),
        "not both",
    )
    r = run("predict", str(workspace["score"]), str(out), "--threshold", "2", *store)
    assert r.returncode == 2 and "not a probability" in r.stderr and "Traceback" not in r.stderr


def test_errors_are_one_line_with_exit_2_and_no_partial_output(workspace, tmp_path):
    store = ["--models-dir", str(workspace["store"])]
    out = tmp_path / "out.csv"
    out.write_text("previous results\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("UserId,Event,Fake\nu1,click_ad,1\n")
    r = run("predict", str(bad), str(out), *store)
    assert_clean_error(r, "bad.csv has no column 'Category'")
    assert out.read_text() == "previous results\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv")]

    assert_clean_error(run("predict", str(tmp_path / "missing.csv"), str(out), *store), "no such")
    assert_clean_error(
        run("predict", str(workspace["score"]), str(out), "--model", "nope", *store),
        "No model named 'nope'",
    )
    assert_clean_error(
        run("predict", str(workspace["score"]), str(out), "--cost-fp", "1", *store),
        "Give both costs",
    )
    assert_clean_error(run("evaluate", str(workspace["score"]), "--models-dir", str(tmp_path)))
    assert_clean_error(
        run("train", str(workspace["train"]), "--name", "../evil", *store), "not allowed"
    )
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("UserId,Event,Category\nu1,click_ad,Phone\n")
    assert_clean_error(run("train", str(unlabelled), *store), "no Fake column")


def test_tampered_model_is_refused_by_the_cli(workspace, tmp_path):
    import shutil

    store = tmp_path / "store"
    shutil.copytree(workspace["store"], store)
    bundle = store / "first" / "v1" / "model.skops"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bundle.write_bytes(bytes(data))
    r = run("predict", str(workspace["score"]), str(tmp_path / "o.csv"), "--models-dir", str(store))
    assert_clean_error(r, "first")
    assert not (tmp_path / "o.csv").exists()


def test_bad_arguments_are_usage_errors():
    r = run("predict", "only-one.csv", "--cost-fp", "-3", "--cost-fn", "1")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    r = run("demo-data", "x.csv", "--events", "lots")
    assert r.returncode == 2 and "not a whole number" in r.stderr


def test_a_model_trained_without_timestamps_scores_logs_without_them(workspace, tmp_path):
    store = ["--models-dir", str(tmp_path)]
    timed = workspace["score"]  # has timestamps
    plain = workspace["train"]  # has none
    assert run("train", str(timed), "--name", "timed", *store).returncode == 0
    out = tmp_path / "o.csv"
    assert_clean_error(
        run("predict", str(plain), str(out), "--model", "timed", *store), "trained with timestamps"
    )
    r = run("train", str(timed), "--name", "untimed", "--ignore-timestamps", *store)
    assert r.returncode == 0, r.stderr
    r = run("predict", str(plain), str(out), "--model", "untimed", *store)
    assert r.returncode == 0, r.stderr


def test_training_never_overwrites_a_model_and_replace_adds_a_version(workspace, tmp_path):
    store = ["--models-dir", str(tmp_path)]
    log = str(workspace["small"])
    assert run("train", log, "--name", "june", *store).returncode == 0
    card = (tmp_path / "june" / "v1" / "model.json").read_bytes()
    assert_clean_error(run("train", log, "--name", "june", *store), "already exists", "--replace")
    r = run("train", log, "--name", "june", "--replace", "--model", "boosting", *store)
    assert r.returncode == 0, r.stderr
    assert "version 2" in r.stdout and "models promote june@2" in r.stdout
    assert (tmp_path / "june" / "v1" / "model.json").read_bytes() == card, "v1 is kept"
    r = run("models", "versions", "june", *store)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].startswith("june@2 ") and lines[2].startswith("june@1 * ")
    assert "'june' means june@2." in r.stdout


def test_promote_and_rollback_choose_what_predict_uses(workspace, tmp_path):
    store = ["--models-dir", str(tmp_path)]
    log, out = str(workspace["small"]), tmp_path / "o.csv"
    assert run("train", log, "--name", "a", *store).returncode == 0
    assert run("train", log, "--name", "b", "--model", "boosting", *store).returncode == 0
    r = run("predict", str(workspace["score"]), str(out), *store)
    assert "Using model 'a@1', the default" in r.stderr, "the newer model did not take over"
    r = run("models", "promote", "b", *store)
    assert r.returncode == 0 and "b@1 is now the default model." in r.stdout
    r = run("predict", str(workspace["score"]), str(out), *store)
    assert "Using model 'b@1'" in r.stderr and "model 'b@1'" in r.stdout
    assert run("train", log, "--name", "b", "--replace", *store).returncode == 0
    r = run("models", "rollback", "b@1", *store)
    assert r.returncode == 0 and "'b' now means b@1" in r.stdout
    assert ModelStore(tmp_path).resolve("b") == ("b", 1)
    assert_clean_error(run("models", "promote", "nobody", *store), "No model named 'nobody'")
    assert_clean_error(run("models", "rollback", "b@7", *store), "no version 7")


def test_evaluate_on_the_training_log_reports_the_cards_out_of_fold_figures(workspace):
    store = ModelStore(workspace["store"])
    cv = store.card("first")["cv"]
    r = run("evaluate", str(workspace["train"]), "--models-dir", str(workspace["store"]))
    assert r.returncode == 0, r.stderr
    assert "out-of-fold" in r.stdout and "cross-validated (out-of-fold)" in r.stderr
    assert f"average precision  {cv['average_precision']:.4f}" in r.stdout
    assert f"ROC AUC            {cv['roc_auc']:.4f}" in r.stdout


def test_racing_trainings_for_one_name_end_with_one_model(workspace, tmp_path):
    args = [sys.executable, "-m", "fakeusers", "train", str(workspace["small"])]
    args += ["--name", "race", "--models-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert sorted(code for code, _ in results) == [0, 2, 2], results
    assert all("already exists" in err for code, err in results if code == 2)
    assert [v["version"] for v in ModelStore(tmp_path).versions("race")] == [1]


def test_outputs_follow_the_umask_and_a_killed_predict_leaves_no_litter(workspace, tmp_path):
    out = tmp_path / "scores.csv"
    stale = tmp_path / ".scores.csv.abc.fakeusers-tmp"
    stale.write_text("half a file from a killed run")
    os.utime(stale, (time.time() - 600, time.time() - 600))
    r = run("predict", str(workspace["score"]), str(out), "--models-dir", str(workspace["store"]))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_mode & 0o777 == 0o644  # the test runs under umask 022
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_usage_errors_are_one_line_too():
    r = run("predict", "in.csv", "out.csv", "--cost-fp", "-1", "--cost-fn", "1")
    assert_clean_error(r, "--cost-fp", "not a cost", "--help")
    assert_clean_error(run("demo-data", "x.csv", "--events", "0"), "100 to 100,000,000")


def test_the_default_model_is_named(workspace, tmp_path):
    out = tmp_path / "o.csv"
    r = run("predict", str(workspace["score"]), str(out), "--models-dir", str(workspace["store"]))
    assert r.returncode == 0 and "Using model 'first@1', the default" in r.stderr


def test_docs_is_a_command_with_a_port():
    r = run("docs", "--help")
    assert r.returncode == 0 and "--port" in r.stdout and "7000" in r.stdout


def test_predict_and_evaluate_warn_in_one_line_when_the_model_does_not_fit(workspace):
    store = ["--models-dir", str(workspace["store"])]
    shifted = workspace["tmp"] / "shifted.csv"
    shifted.write_bytes(shifted_csv_bytes(10_000, seed=3))
    out = workspace["tmp"] / "shifted_scores.csv"
    plain = run("predict", str(workspace["score"]), str(out), *store)
    assert plain.returncode == 0 and "warning:" not in plain.stderr
    for args in (("predict", str(shifted), str(out)), ("evaluate", str(shifted))):
        r = run(*args, "--cost-fp", "1", "--cost-fn", "9", *store)
        assert r.returncode == 0, r.stderr
        warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1, r.stderr
        assert warnings[0].startswith("warning: the log does not fit the model"), warnings[0]
        assert "flags" in warnings[0] and "training users" in warnings[0]
        assert "warning:" not in r.stdout
    assert read_csv(out)[0].keys() == {"UserId", "is_fake_probability", "flagged", "why"}


def test_predict_reasons_are_the_librarys_sentences_for_every_user(workspace):
    """--reasons adds reason_1..3; the riskiest users' first reason compares them with the
    model's real training users; a CSV reader reads the quoted sentences back whole."""
    from fakeusers.reading import read_logs
    from fakeusers.scoring import score_log

    out = workspace["tmp"] / "reasons.csv"
    r = run(
        "predict",
        str(workspace["score"]),
        str(out),
        "--top-k",
        "10",
        "--reasons",
        "--models-dir",
        str(workspace["store"]),
    )
    assert r.returncode == 0, r.stderr
    rows = read_csv(out)
    assert list(rows[0]) == [
        "UserId",
        "is_fake_probability",
        "flagged",
        "why",
        "reason_1",
        "reason_2",
        "reason_3",
    ]
    model = ModelStore(workspace["store"]).load("first").model
    scored = score_log(read_logs([workspace["score"]]), model)
    expected = scored.reasons(range(scored.n_users))
    assert [r["UserId"] for r in rows] == scored.user_ids.tolist()
    for row, reasons in zip(rows, expected, strict=True):
        texts = [x.text for x in reasons] + [""] * (3 - len(reasons))
        assert [row["reason_1"], row["reason_2"], row["reason_3"]] == texts
    flagged = [x for x in rows if x["flagged"] == "1"]
    assert len(flagged) == 10
    assert all("of real users" in x["reason_1"] and "more likely" in x["reason_1"] for x in flagged)
