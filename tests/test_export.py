"""Tests for fakeusers.export: ranking the flagged users and CSV-injection-safe export."""

from __future__ import annotations

import csv
import doctest
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fakeusers import export
from fakeusers.export import (
    COLUMNS,
    FORMULA_PREFIXES,
    flagged_table,
    neutralise,
    rank_flagged,
    to_csv,
)


def test_doctests() -> None:
    assert doctest.testmod(export).failed == 0


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(prefix: str) -> None:
    assert neutralise(prefix + "cmd|' /C calc'!A0") == "'" + prefix + "cmd|' /C calc'!A0"


@pytest.mark.parametrize("text", ["", "12345", "a=b", "user-1", " =1", "'already"])
def test_other_text_is_unchanged(text: str) -> None:
    assert neutralise(text) == text


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_neutralises_text_cells_and_keeps_numbers_numbers() -> None:
    frame = pd.DataFrame(
        {
            "UserId": ["=1+2", "+33 6", "-7", "@SUM(A1)", "\tx", "\rx", "plain", None],
            "p": [0.5, -1.0, 0.25, 1.0, 0.0, 0.1, 0.2, 0.3],
            "n": [1, -2, 3, 4, 5, 6, 7, 8],
            "note": ["a,b", 'say "hi"', "line\nbreak", "=x", "", "-", "ok", "@"],
        }
    )
    rows = parse(to_csv(frame))
    assert rows[0] == ["UserId", "p", "n", "note"]
    assert [r[0] for r in rows[1:]] == [
        "'=1+2",
        "'+33 6",
        "'-7",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "plain",
        "",
    ]
    assert [r[1] for r in rows[1:]] == ["0.5", "-1.0", "0.25", "1.0", "0.0", "0.1", "0.2", "0.3"]
    assert [r[2] for r in rows[1:]] == ["1", "-2", "3", "4", "5", "6", "7", "8"]
    assert [r[3] for r in rows[1:]] == [
        "a,b",
        'say "hi"',
        "line\nbreak",
        "'=x",
        "",
        "'-",
        "ok",
        "'@",
    ]


@given(st.lists(st.text(max_size=12), min_size=1, max_size=20))
@settings(deadline=None)
def test_every_text_cell_reads_back_neutralised(ids: list[str]) -> None:
    rows = parse(to_csv(pd.DataFrame({"UserId": ids})))
    assert [r[0] for r in rows[1:]] == [neutralise(i) for i in ids]
    assert not any(r[0].startswith(FORMULA_PREFIXES) for r in rows[1:])


def brute_rank(p, flagged) -> list[int]:
    users = [i for i in range(len(p)) if flagged[i]]
    return sorted(users, key=lambda i: (-p[i], i))


probabilities = arrays(
    np.float64, st.integers(0, 30), elements=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])
)


@given(probabilities, st.data())
@settings(deadline=None)
def test_rank_flagged_is_highest_risk_first_ties_in_log_order(p: np.ndarray, data) -> None:
    flagged = np.array(data.draw(st.lists(st.booleans(), min_size=p.size, max_size=p.size)))
    flagged = flagged.astype(bool)
    expected = brute_rank(p.tolist(), flagged.tolist())
    assert rank_flagged(p, flagged).tolist() == expected
    order = np.argsort(-p, kind="stable")
    assert rank_flagged(p, flagged, order).tolist() == expected


def test_flagged_table_rows_follow_the_given_users() -> None:
    table = flagged_table(
        np.array(["u0", "u1", "u2"]),
        [0.1, 0.9, 0.5],
        [3, 4, 5],
        [1, 2],
        [["why 1"], []],
        why=["model", "confirmed fake"],
    )
    assert list(table.columns) == list(COLUMNS)
    assert table.to_dict("list") == {
        "UserId": ["u1", "u2"],
        "is_fake_probability": [0.9, 0.5],
        "events": [4, 5],
        "why": ["model", "confirmed fake"],
        "reason_1": ["why 1", ""],
        "reason_2": ["", ""],
        "reason_3": ["", ""],
    }
    assert list(flagged_table(["a"], [0.5], [1], [0]).columns) == list(COLUMNS[:3])
    with pytest.raises(ValueError, match="2 reasons for 1 users"):
        flagged_table(["a"], [0.5], [1], [0], [["x"], ["y"]])


def test_empty_list_is_a_header_only_csv() -> None:
    frame = flagged_table(np.array([], dtype=str), [], [], [], [], why=[])
    assert to_csv(frame).decode() == ",".join(COLUMNS) + "\r\n"


@pytest.mark.parametrize("model_type", ["logistic", "boosting"])
@pytest.mark.parametrize("for_spreadsheets", [True, False])
def test_a_list_built_in_parts_is_the_list_built_at_once(
    model_type: str, for_spreadsheets: bool
) -> None:
    from functools import partial

    from fakeusers.reading import read_logs
    from fakeusers.scoring import Rule, score_log
    from tests.support import csv_bytes, trained

    log = read_logs([("other.csv", csv_bytes(20_000, 2, timestamps=True))])
    scored = score_log(log, trained(20_000, seed=1, model_type=model_type), Rule.of(1, 9))
    ranked = scored.ranked_flagged
    assert ranked.size > 7
    done = []
    frame = export.table_in_parts(
        ranked,
        partial(scored.table, reasons=True),
        part=7,
        progress=lambda d, n: done.append((d, n)),
    )
    built = to_csv(frame, for_spreadsheets=for_spreadsheets)
    assert built == scored.flagged_csv(for_spreadsheets=for_spreadsheets)
    assert done[-1] == (ranked.size, ranked.size)
    assert [d for d, _ in done] == sorted(
        {min(i + 7, ranked.size) for i in range(0, ranked.size, 7)}
    )


def test_an_empty_list_in_parts_has_the_columns() -> None:
    frame = export.table_in_parts([], lambda idx: pd.DataFrame({"UserId": idx.astype(str)}))
    assert list(frame.columns) == ["UserId"] and frame.empty


@pytest.mark.parametrize(("users", "parts"), [(100, 1), (12_000, 3), (250_000, 20)])
def test_a_long_list_is_built_in_a_few_parts(users: int, parts: int) -> None:
    done = []
    frame = export.table_in_parts(
        np.arange(users),
        lambda idx: pd.DataFrame({"user": idx}),
        progress=lambda d, n: done.append(d),
    )
    assert len(done) == parts and done[-1] == users
    assert frame["user"].tolist() == list(range(users))
