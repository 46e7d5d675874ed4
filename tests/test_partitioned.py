"""Scoring within ``--max-memory``: partitions of users give the in-memory answer, to the bit.

Every test runs the real command line in a subprocess, once in memory and once with a budget
small enough to force the log into many partitions, with its own temporary folder (TMPDIR)
so that the partition files left behind, if any, can be seen.
"""

from __future__ import annotations

import functools
import gzip
import io
from pathlib import Path

import pytest

from fakeusers import csvparse, spreading
from fakeusers.demo import write_demo_csv
from tests.support import assert_clean_error, run_cli

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model store with a logistic model (the default) and a boosting one."""
    root = tmp_path_factory.mktemp("partitioned")
    train = root / "train.csv"
    write_demo_csv(train, n_events=40_000, seed=1, timestamps=True)
    models = root / "models"
    for name, kind in (("lg", "logistic"), ("bo", "boosting")):
        r = run_cli(
            "train", str(train), "--name", name, "--model", kind, "--models-dir", str(models)
        )
        assert r.returncode == 0, r.stderr
    return models


@pytest.fixture(scope="module")
def messy_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled log with timestamps and what real exports carry: padded IDs, a row with
    too many fields, an empty event, a repeated header line and an unknown category."""
    path = tmp_path_factory.mktemp("logs") / "log.csv"
    write_demo_csv(path, n_events=120_000, seed=2, timestamps=True)
    lines = path.read_text().splitlines()
    header = lines[0]
    user = lines[500].split(",")[0]
    lines[700] = f"  {lines[700]}"  # a padded ID: the same user as unpadded
    lines.insert(1000, "1,2,3,4,5,6,7")  # too many fields
    lines.insert(2000, f"{user},,Motor,0,2026-01-01T00:00:00Z")  # empty Event
    # too few fields: the start of an earlier row, located by its whole line (3001), not there
    lines.insert(3000, ",".join(lines[2500].split(",")[:3]))
    lines.insert(50_000, header)  # a repeated header line
    lines.insert(60_000, f"{user},click_ad,Boats,0,2026-01-01T00:00:00Z")
    path.write_text("\n".join(lines) + "\n")
    return path


def _predict(store: Path, tmp: Path, log: Path, out: str, *extra: str):
    temp = tmp / f"tmp-{out}"
    temp.mkdir()
    r = run_cli(
        "predict",
        str(log),
        str(tmp / out),
        "--models-dir",
        str(store),
        "--cost-fp",
        "1",
        "--cost-fn",
        "9",
        "--no-verdicts",
        *extra,
        env={"TMPDIR": str(temp)},
    )
    return r, temp


def _report(stderr: str) -> list[str]:
    """What the run says about the log (not how it was run)."""
    return [
        line
        for line in stderr.splitlines()
        if not line.startswith(("Scoring within", "warning: --max-memory", "Using model"))
    ]


@pytest.mark.parametrize("model", ["lg", "bo"])
def test_partitioned_predict_writes_the_in_memory_output_byte_for_byte(
    store: Path, messy_log: Path, tmp_path: Path, model: str
) -> None:
    extra = ("--model", model, "--reasons")
    whole, _ = _predict(store, tmp_path, messy_log, "whole.csv", *extra)
    parted, temp = _predict(store, tmp_path, messy_log, "parts.csv", *extra, "--max-memory", "1MB")
    assert whole.returncode == 0, whole.stderr
    assert parted.returncode == 0, parted.stderr
    assert "partitions of users" in parted.stderr  # it did run in partitions
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert parted.stdout.replace("parts.csv", "whole.csv") == whole.stdout
    assert _report(parted.stderr) == _report(whole.stderr)
    assert "wrong number of fields (expected 5) at lines 1001, 3001." in whole.stderr
    assert list(temp.iterdir()) == []  # the partition files are gone


def test_partitioned_evaluate_gives_the_same_metrics_and_top_k(
    store: Path, messy_log: Path, tmp_path: Path
) -> None:
    args = ["evaluate", str(messy_log), "--models-dir", str(store), "--top-k", "300"]
    whole = run_cli(*args, "--no-verdicts")
    parted = run_cli(*args, "--no-verdicts", "--max-memory", "2MB")
    assert whole.returncode == parted.returncode == 0, parted.stderr
    assert "partitions of users" in parted.stderr
    assert "ROC AUC" in parted.stdout
    assert parted.stdout == whole.stdout


def test_gzip_log_is_streamed_with_the_same_result(
    store: Path, messy_log: Path, tmp_path: Path
) -> None:
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(messy_log.read_bytes()))
    whole, _ = _predict(store, tmp_path, messy_log, "whole.csv")
    parted, temp = _predict(store, tmp_path, packed, "parts.csv", "--max-memory", "1MB")
    assert parted.returncode == 0, parted.stderr
    assert "partitions of users" in parted.stderr
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert list(temp.iterdir()) == []


def test_a_bad_row_in_the_middle_fails_cleanly_and_leaves_no_temporary_files(
    store: Path, messy_log: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    lines = messy_log.read_text().splitlines()
    lines[80_000] = lines[80_000].rsplit(",", 2)[0] + ",maybe," + lines[80_000].rsplit(",", 1)[1]
    bad.write_text("\n".join(lines) + "\n")
    whole, _ = _predict(store, tmp_path, bad, "whole.csv")
    r, temp = _predict(store, tmp_path, bad, "out.csv", "--max-memory", "1MB")
    assert_clean_error(r, "Fake", "maybe")
    assert "partitions of users" in r.stderr
    # The same message, naming the same line of the file (not a line of a partition).
    assert r.stderr.splitlines()[-1] == whole.stderr.splitlines()[-1]
    assert list(temp.iterdir()) == []
    assert not (tmp_path / "out.csv").exists()


def test_a_model_that_cannot_score_the_log_fails_cleanly_and_leaves_no_temporary_files(
    store: Path, tmp_path: Path
) -> None:
    # The models were trained with timestamps; this log has none.
    log = tmp_path / "plain.csv"
    write_demo_csv(log, n_events=30_000, seed=3)
    r, temp = _predict(store, tmp_path, log, "out.csv", "--max-memory", "1MB")
    assert_clean_error(r, "Timestamp")
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("value", ["lots", "0", "-5GB", "12 parsecs"])
def test_a_bad_max_memory_value_says_what_to_write(
    store: Path, messy_log: Path, tmp_path: Path, value: str
) -> None:
    r, _ = _predict(store, tmp_path, messy_log, "out.csv", f"--max-memory={value}")
    assert_clean_error(r, "--max-memory", "700MB")


@pytest.mark.parametrize("overlaps", ["keep_one", "keep_all"])
def test_two_overlapping_exports_give_the_in_memory_output_and_report(
    store: Path, messy_log: Path, tmp_path: Path, overlaps: str
) -> None:
    lines = messy_log.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    first, second = tmp_path / "monday.csv", tmp_path / "tuesday.csv"
    first.write_text("\n".join([header, *rows[: len(rows) * 7 // 10]]) + "\n")
    second.write_text("\n".join([header, *rows[len(rows) // 2 :]]) + "\n")
    extra = ["--overlaps", overlaps]
    whole = run_cli(
        "predict",
        str(first),
        str(second),
        str(tmp_path / "whole.csv"),
        "--models-dir",
        str(store),
        "--no-verdicts",
        *extra,
    )
    parted = run_cli(
        "predict",
        str(first),
        str(second),
        str(tmp_path / "parts.csv"),
        "--models-dir",
        str(store),
        "--no-verdicts",
        *extra,
        "--max-memory",
        "1MB",
    )
    assert whole.returncode == parted.returncode == 0, parted.stderr
    assert "overlap" in whole.stderr  # the overlap was found, and said
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert _report(parted.stderr) == _report(whole.stderr)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 8, 13, 1 << 20])
def test_streamed_line_numbers_are_the_in_memory_ones_across_blocks(monkeypatch, block):
    # Streaming looks for the skipped rows block by block: a line cut by a block's end, or
    # a row that is only the start or the end of another line, is not where that row is.
    rows = ["UserId,Event,Category", "9a,b,c", "a,b,cz", "9a,b", "a,b", "x,y", "a,b"]
    for end in ("\n", "\r\n"):
        for last_end in (end, ""):
            data = (end.join(rows) + last_end).encode()
            texts = ["a,b", "x,y", "a,b"]
            in_memory = csvparse._line_numbers(data, texts, "utf-8")
            assert in_memory == [5, 6, 7]
            monkeypatch.setattr(spreading, "MAX_BLOCK", block)
            streamed = spreading._line_numbers(functools.partial(io.BytesIO, data), texts, "utf-8")
            assert streamed == in_memory, (block, end, last_end)
