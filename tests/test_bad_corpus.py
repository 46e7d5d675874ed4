"""The corpus of bad logs: all of it through the library, representative cases through the CLI.

Accepted files are scored by ``python -m fakeusers predict`` (exit 0, the library's warnings on
stderr, one output row per user with the IDs exactly as read); refused files end with exit 2
and the library's message as the one ``error:`` line, and no output file.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from fakeusers.demo import write_demo_csv
from fakeusers.errors import FakeusersError
from fakeusers.models import train
from fakeusers.reading import read_logs
from fakeusers.store import ModelStore
from tests.bad_corpus import BAD_DIR, CASES, FACE_CASES, BadCase
from tests.data.make_bad_corpus import build

ROOT = Path(__file__).resolve().parents[1]
IDS = [case.name for case in CASES]
CLI_TEST = "test_cli_makes_the_library_decision"


def library_outcome(case: BadCase):
    """The library's log, or its refusal message."""
    try:
        return read_logs(case.path)
    except FakeusersError as exc:
        return str(exc)


def test_committed_files_are_what_the_generator_writes():
    built = build()
    assert sorted(built) == sorted(IDS) == sorted(p.name for p in BAD_DIR.iterdir())
    for name, data in built.items():
        assert (BAD_DIR / name).read_bytes() == data, (
            f"{name} differs from the generator: run python tests/data/make_bad_corpus.py"
        )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_library_decision(case: BadCase):
    outcome = library_outcome(case)
    if case.decision == "refuse":
        assert isinstance(outcome, str), f"{case.name} was accepted: {case.description}"
        case.check_refusal(outcome)
        return
    assert not isinstance(outcome, str), outcome
    log, report = outcome, outcome.report
    case.check_warnings(report.warnings)
    actual = {
        "rows": report.rows,
        "users": report.users,
        "timestamps": report.has_timestamps,
        "labelled": report.labelled,
    }
    for key, value in actual.items():
        expected = getattr(case, key)
        assert expected is None or value == expected, f"{key}: {value} != {expected}"
    if case.user_ids is not None:
        assert tuple(log.user_ids.tolist()) == case.user_ids
    assert log.n_rows == report.rows and log.n_users == report.users
    json.dumps(report.to_dict())  # the API sends it as it is


# ---------------------------------------------------------------------------------------------
# The command line, in a subprocess per case


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    """A store with one logistic model trained without timestamps, so any log can be scored."""
    tmp = tmp_path_factory.mktemp("corpus-model")
    demo = tmp / "demo.csv"
    write_demo_csv(demo, n_events=20_000, seed=3)
    model = train(read_logs(demo), "logistic")
    ModelStore(tmp / "models").save("corpus", model)
    return tmp / "models"


def predict(
    case: BadCase, models_dir: Path, root: Path
) -> tuple[subprocess.CompletedProcess, Path]:
    folder = root / case.name
    folder.mkdir()
    out = folder / "scores.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("FAKEUSERS_MODELS_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "fakeusers", "predict", str(case.path), str(out)]
        + ["--models-dir", str(models_dir), "--model", "corpus"],
        capture_output=True,
        encoding="utf-8",
        env=env,
        cwd=folder,
        timeout=300,
    )
    return result, out


@pytest.fixture(scope="module")
def cli_runs(request, models_dir, tmp_path_factory) -> dict:
    """The selected cases through the CLI, several processes at a time (each one spends about a
    second importing), so the whole corpus costs a fraction of running them one by one."""
    selected = {
        item.callspec.params["case"].name
        for item in request.session.items
        if item.module is request.module and item.originalname == CLI_TEST
    }
    cases = [case for case in FACE_CASES if case.name in selected]
    root = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        runs = pool.map(lambda case: predict(case, models_dir, root), cases)
        return dict(zip([case.name for case in cases], runs, strict=True))


def read_output(path: Path) -> list[list[str]]:
    limit = csv.field_size_limit(1 << 30)  # the 5 MB user ID
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.reader(fh))
    finally:
        csv.field_size_limit(limit)


@pytest.mark.parametrize("case", FACE_CASES, ids=lambda case: case.name)
def test_cli_makes_the_library_decision(case: BadCase, cli_runs):
    result, out = cli_runs[case.name]
    outcome = library_outcome(case)
    if case.decision == "refuse":
        assert result.returncode == 2, result.stderr
        assert result.stderr == f"error: {outcome}\n"  # one line, the same words, no traceback
        assert result.stdout == ""
        assert list(out.parent.iterdir()) == []  # no output, not even a partial one
        return
    assert result.returncode == 0, result.stderr
    # The load report's warnings, in order; besides them only the model's own "warning:" lines
    # (whether the log fits the model) may be printed.
    lines = result.stderr.splitlines(keepends=True)
    assert "".join(line for line in lines if line.startswith("Warning: ")) == "".join(
        f"Warning: {w}\n" for w in outcome.report.warnings
    )
    assert all(line.startswith(("Warning: ", "warning: ")) for line in lines), result.stderr
    assert f"Scored {outcome.n_users:,} users with model 'corpus@1'" in result.stdout
    header, *rows = read_output(out)
    assert header == ["UserId", "is_fake_probability"]
    ids = [row[0] for row in rows]
    assert ids == outcome.user_ids.tolist()  # exactly as read: no quote, prefix or trimming
    if case.user_ids is not None:
        assert ids == list(case.user_ids)
    p = np.array([float(row[1]) for row in rows])
    assert ((p >= 0) & (p <= 1)).all()
    assert [f.name for f in out.parent.iterdir()] == ["scores.csv"]


# ---------------------------------------------------------------------------------------------
# Reader fixes the corpus led to, on inputs too large or too specific to be corpus files


def read_text(text: str, name: str = "logs.csv"):
    return read_logs((name, text.encode()))


def test_timestamps_stay_aligned_with_rows_around_a_repeated_header():
    log = read_logs(BAD_DIR / "repeated_headers.csv")
    start = 1795514400.0  # 2026-11-24T10:00:00Z
    assert (log.timestamps - start).tolist() == [0, 1, 2, 3, 4]


def test_a_bad_timestamp_deep_in_a_large_log_is_located():
    rows = "".join(f"u{i % 97},click_ad,Phone,{1795514400 + i}\n" for i in range(70_000))
    log = read_text("UserId,Event,Category,Timestamp\n" + rows + "u1,click_ad,Phone,soon\n")
    assert log.timestamps is None
    assert any("logs.csv line 70002: 'soon' is neither" in w for w in log.report.warnings)
    mixed = rows + "u1,click_ad,Phone,2026-11-24T10:00:00Z\n"
    log = read_text("UserId,Event,Category,Timestamp\n" + mixed)
    assert any(
        "line 70002: '2026-11-24T10:00:00Z' is ISO 8601 with a time zone but the first value "
        "is epoch seconds" in w
        for w in log.report.warnings
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_epoch_timestamps_are_ignored_with_the_line(value):
    log = read_text(
        "UserId,Event,Category,Timestamp\n"
        f"u1,click_ad,Phone,1795514400\nu1,click_ad,Phone,{value}\n"
    )
    assert log.timestamps is None
    assert any(f"logs.csv line 3: '{value}' is not a time" in w for w in log.report.warnings)


@pytest.mark.parametrize(
    ("factor", "unit"), [(1_000, "milliseconds"), (10**6, "microseconds"), (10**9, "nanoseconds")]
)
def test_epoch_units_finer_than_seconds_are_recognised(factor, unit):
    stamps = [1795514400 * factor, 1795514401 * factor + factor // 2]
    log = read_text(
        "UserId,Event,Category,Timestamp\n" + "".join(f"u1,click_ad,Phone,{t}\n" for t in stamps)
    )
    assert log.timestamps.tolist() == [1795514400.0, 1795514401.5]
    assert any(f"epoch {unit}, not seconds" in w for w in log.report.warnings)


def test_huge_values_are_cut_in_messages_and_warnings():
    huge = "x" * 1_000_000
    with pytest.raises(FakeusersError) as err:
        read_text(f"UserId,Event,Category,Fake\nu1,click_ad,Phone,{huge}\n")
    assert "Fake is 'xxxx" in str(err.value) and len(str(err.value)) < 600
    with pytest.raises(FakeusersError) as err:
        read_logs(("wide.csv", ("y" * 100_000).encode()))
    assert len(str(err.value)) < 600
    log = read_text(
        f"UserId,Event,Category,Fake\n{huge},click_ad,Phone,1\n{huge},send_sms,Phone,0\n"
        f"u1,{huge},{huge},0\n"
    )
    assert log.report.label_conflicts == [huge]  # the report keeps the data; messages cut it
    assert len(log.report.warnings) == 3
    assert all(len(w) < 600 for w in log.report.warnings)
    with pytest.raises(FakeusersError) as err:
        log.require_labels()
    assert len(str(err.value)) < 600


def test_long_lists_of_unknown_values_are_summarised():
    rows = "".join(f"u1,event_{i},Phone\n" for i in range(30))
    log = read_text("UserId,Event,Category\n" + rows)
    assert len(log.report.unknown_events) == 30
    assert any("and 25 more" in w for w in log.report.warnings)


def test_a_stray_quote_that_closes_later_shows_up_as_a_visible_value():
    rows = "".join(f"u{i},click_ad,Phone\n" for i in range(5))
    log = read_text(f'UserId,Event,Category\nu9,"click_ad,Phone\n{rows}u8,"x",Phone\n')
    (warning,) = log.report.warnings
    assert warning.startswith("Unknown events 'click_ad,Phone\\nu0,")  # the line break shows
    assert "\n" not in warning


def test_utf16_big_endian_is_refused_like_little_endian():
    data = ("\ufeffUserId\tEvent\tCategory\r\nu1\tclick_ad\tPhone\r\n").encode("utf-16-be")
    with pytest.raises(FakeusersError, match="Excel's 'Unicode Text' \\(UTF-16\\)") as err:
        read_logs(("export.txt", data))
    assert str(err.value).startswith("export.txt")


def test_no_row_with_the_right_width_names_the_first_line():
    with pytest.raises(FakeusersError) as err:
        read_text("UserId,Event,Category\nu1;click_ad;Phone\nu2;send_sms;Motor\n")
    assert str(err.value).startswith("logs.csv: no row has the header's 3 fields (line 2")


def test_a_ragged_row_with_a_closed_quoted_line_break_is_not_called_an_unclosed_quote():
    log = read_text('UserId,Event,Category\n"a\nb",click_ad\nu2,send_sms,Motor\n')
    assert log.report.dropped == {"wrong number of fields": 1}
    assert not any("never closed" in w for w in log.report.warnings)
