"""Parquet logs: read as the same log as the CSV they hold, refused in the CSV path's words."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fakeusers.demo import generate_log
from fakeusers.errors import FakeusersError, InputTooLargeError
from fakeusers.models import features_and_probabilities
from fakeusers.reading import MAX_LOG_BYTES_ENV, read_logs
from tests.support import csv_bytes, parquet_bytes, trained, typed_table

DATA = Path(__file__).parent / "data" / "parquet"
PARIS = ZoneInfo("Europe/Paris")
ROWS = {
    "UserId": ["u1", "u2", "u1", "u3"],
    "Event": ["click_ad", "send_sms", "send_email", "phone_call"],
    "Category": ["Phone", "Motor", "Jobs", "Leisure"],
    "Fake": [1, 0, 1, 0],
}


def as_csv(columns: dict[str, list]) -> bytes:
    names = list(columns)
    rows = zip(*(columns[n] for n in names), strict=True)
    lines = [",".join(names)] + [",".join(map(str, r)) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def read_parquet_table(table: pa.Table, name: str = "log.parquet", **kwargs):
    return read_logs((name, parquet_bytes(table, **kwargs)))


def test_typed_demo_log_gives_the_csv_logs_features_and_probabilities():
    table = generate_log(20_000, seed=3, timestamps=True)
    from_csv = read_logs(("log.csv", csv_bytes(20_000, seed=3)))
    # Several row groups, so the columns are decoded group by group and joined.
    from_parquet = read_parquet_table(typed_table(table), row_group_size=3_000)
    assert from_parquet.fingerprint() == from_csv.fingerprint()
    assert from_parquet.report.has_timestamps and from_parquet.report.labelled
    assert from_parquet.report.warnings == from_csv.report.warnings
    assert from_parquet.report.to_dict() | {"files": None} == from_csv.report.to_dict() | {
        "files": None
    }
    model = trained()
    x_csv, p_csv = features_and_probabilities(model, from_csv)
    x_parquet, p_parquet = features_and_probabilities(model, from_parquet)
    assert x_parquet.equals(x_csv)
    np.testing.assert_array_equal(p_parquet, p_csv)


def test_string_columns_read_as_the_same_csv():
    log = read_parquet_table(pa.table(ROWS))
    assert log.fingerprint() == read_logs(("log.csv", as_csv(ROWS))).fingerprint()
    assert log.report.files == ["log.parquet"]


def stamped(values: pa.Array) -> pa.Table:
    return pa.table({**{k: v[:2] for k, v in ROWS.items()}, "Timestamp": values})


@pytest.mark.parametrize(
    "values",
    [
        pa.array([1_764_410_403_123, 1_764_410_404_000], pa.timestamp("ms", tz="UTC")),
        pa.array([1_764_410_403_123_000_000, 1_764_410_404_000_000_000], pa.timestamp("ns")),
        # 11:00:03 in Paris is 10:00:03 UTC.
        pa.array(
            [
                dt.datetime(2025, 11, 29, 11, 0, 3, 123_000, tzinfo=PARIS),
                dt.datetime(2025, 11, 29, 11, 0, 4, tzinfo=PARIS),
            ],
            pa.timestamp("us", tz="Europe/Paris"),
        ),
    ],
    ids=["ms-utc", "ns-naive", "us-paris"],
)
def test_timestamps_of_any_unit_and_zone_are_utc_epoch_seconds(values):
    log = read_parquet_table(stamped(values))
    iso = {**{k: v[:2] for k, v in ROWS.items()}}
    iso["Timestamp"] = ["2025-11-29T10:00:03.123Z", "2025-11-29T10:00:04Z"]
    assert log.timestamps.tolist() == [1_764_410_403.123, 1_764_410_404.0]
    assert log.fingerprint() == read_logs(("log.csv", as_csv(iso))).fingerprint()
    assert log.report.warnings == []


def test_epoch_numbers_and_iso_text_are_read_as_in_a_csv():
    millis = stamped(pa.array([1_764_410_403_123, 1_764_410_404_000], pa.int64()))
    log = read_parquet_table(millis)
    assert log.timestamps.tolist() == [1_764_410_403.123, 1_764_410_404.0]
    assert any("epoch milliseconds" in w for w in log.report.warnings)
    text = stamped(pa.array(["2025-11-29T10:00:03.123Z", "2025-11-29T10:00:04Z"]))
    assert read_parquet_table(text).timestamps.tolist() == [1_764_410_403.123, 1_764_410_404.0]


def test_nulls_are_empty_cells_dropped_or_warned_about_as_in_a_csv():
    table = pa.table(
        {
            "UserId": pa.array([7, 8, None, 9], pa.int64()),
            "Event": ["click_ad", None, "send_sms", "send_email"],
            "Category": ["Phone", "Motor", "Jobs", "Leisure"],
            "Fake": pa.array([None, None, None, None], pa.bool_()),
            "Timestamp": pa.array([1, None, 3, 4], pa.timestamp("s")),
        }
    )
    log = read_parquet_table(table)
    assert log.user_ids.tolist() == ["7", "9"]
    assert log.report.dropped == {"empty UserId": 1, "empty Event": 1}
    assert log.labels is None  # Fake empty on every row: unlabelled, as an empty CSV column


def test_column_names_in_any_case_and_extra_columns_are_reported():
    table = pa.table(
        {
            "userid": ROWS["UserId"],
            " EVENT ": ROWS["Event"],
            "Category": ROWS["Category"],
            "fake": pa.array(ROWS["Fake"], pa.int8()),
            "country": ["ES"] * 4,
            "__index_level_0__": [3, 5, 7, 9],  # a pandas index: not reported
        }
    )
    log = read_parquet_table(table)
    assert log.labels.tolist() == [1, 0, 0]
    assert log.report.extra_columns == {"log.parquet": ["country"]}
    assert log.report.warnings == ["log.parquet: extra columns ignored: country."]


def test_parquet_is_recognised_by_its_bytes_whatever_its_name():
    log = read_logs(("export.csv", parquet_bytes(pa.table(ROWS))))
    assert log.report.rows == 4


def write_folder(folder, parts: list[pa.Table]) -> None:
    """A Spark-like output: part files, ``_SUCCESS``, checksum files, a Hive subfolder."""
    folder.mkdir()
    (folder / "_SUCCESS").write_bytes(b"")
    for i, part in enumerate(parts):
        sub = folder / "day=2026-11-29" if i == 0 else folder
        sub.mkdir(exist_ok=True)
        name = f"part-{i:05d}-abc.snappy.parquet"
        pq.write_table(part, sub / name)
        (sub / f".{name}.crc").write_bytes(b"not parquet")
    (folder / "_temporary").mkdir()
    (folder / "_temporary" / "part-99999.parquet").write_bytes(b"half written")


def test_a_folder_is_one_log_of_its_parts_in_path_order(tmp_path):
    table = typed_table(generate_log(6_000, seed=2, timestamps=True))
    n = table.num_rows
    # The first slice is in "day=.../", which sorts before the "part-..." files.
    parts = [table.slice(0, n // 3), table.slice(n // 3, n // 3), table.slice(2 * (n // 3))]
    write_folder(tmp_path / "events.parquet", parts)
    log = read_logs(tmp_path / "events.parquet")
    assert log.fingerprint() == read_logs(("one.parquet", parquet_bytes(table))).fingerprint()
    assert log.report.files == ["events.parquet"]
    assert log.report.overlaps == []  # parts are one log, never overlapping files


def test_columns_named_by_hive_partition_folders_are_read_from_there(tmp_path):
    table = pa.table(ROWS)
    folder = tmp_path / "lake"
    for label in (0, 1):
        rows = table.filter(pc.equal(table["Fake"], label)).drop_columns(["Fake"])
        # A partition that is not a column (the day) is only a folder.
        part = folder / f"fake={label}" / "day=2026-11-29%2F30" / "part-0.parquet"
        part.parent.mkdir(parents=True)
        pq.write_table(rows, part)
    log = read_logs(folder)
    assert content_of(log) == [
        ("u2", "send_sms", 0),
        ("u3", "phone_call", 0),
        ("u1", "click_ad", 1),
        ("u1", "send_email", 1),
    ]
    assert log.report.extra_columns == {}


def content_of(log) -> list[tuple]:
    users = log.user_ids[log.user_codes].tolist()
    events = [log.event_values[c] for c in log.event_codes]
    return list(zip(users, events, log.labels[log.user_codes].tolist(), strict=True))


def test_a_folder_and_a_csv_are_read_together(tmp_path):
    write_folder(tmp_path / "lake", [pa.table(ROWS)])
    (tmp_path / "more.csv").write_bytes(as_csv({k: v[:1] for k, v in ROWS.items()}))
    log = read_logs([tmp_path / "lake", tmp_path / "more.csv"])
    assert log.report.files == ["lake", "more.csv"]
    assert log.report.file_rows == [4, 1]


def test_a_folder_without_parquet_files_is_refused(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.csv").write_bytes(as_csv(ROWS))
    with pytest.raises(FakeusersError, match="folder without .parquet files"):
        read_logs(tmp_path / "logs")


def test_parts_with_different_columns_are_refused_by_name(tmp_path):
    unlabelled = pa.table({k: v for k, v in ROWS.items() if k != "Fake"})
    write_folder(tmp_path / "lake", [pa.table(ROWS), unlabelled])
    with pytest.raises(FakeusersError) as err:
        read_logs(tmp_path / "lake")
    message = str(err.value)
    assert "lake/part-00001-abc.snappy.parquet" in message
    assert "one schema" in message


def test_a_cut_off_file_is_refused_as_damaged(tmp_path):
    data = parquet_bytes(pa.table(ROWS))
    for cut in (data[: len(data) // 2], data[:4], data[:-1]):
        with pytest.raises(FakeusersError, match=r"log.parquet cannot be read as Parquet: it is"):
            read_logs(("log.parquet", cut))


def test_a_damaged_page_is_refused_as_damaged():
    data = bytearray(parquet_bytes(pa.table(ROWS), compression="snappy"))
    data[4:60] = b"\xff" * 56  # the first column's pages, not the footer
    with pytest.raises(FakeusersError, match="cannot be read as Parquet"):
        read_logs(("log.parquet", bytes(data)))


def test_a_parquet_name_on_other_bytes_is_refused():
    with pytest.raises(FakeusersError, match="named .parquet but is not a Parquet file"):
        read_logs(("log.parquet", as_csv(ROWS)))


def test_a_missing_column_gets_the_csv_paths_message():
    no_event = {k: v for k, v in ROWS.items() if k != "Event"}
    with pytest.raises(FakeusersError) as from_parquet:
        read_logs(("log.parquet", parquet_bytes(pa.table(no_event))))
    with pytest.raises(FakeusersError) as from_csv:
        read_logs(("log.csv", as_csv(no_event)))
    assert "log.parquet has no column 'Event'" in str(from_parquet.value)
    assert "found: UserId, Category, Fake" in str(from_parquet.value)
    assert str(from_parquet.value).replace("parquet", "csv") == str(from_csv.value)


def test_a_nested_column_is_refused_by_name():
    table = pa.table({**ROWS, "Event": pa.array([["click_ad"]] * 4)})
    with pytest.raises(FakeusersError, match=r"log.parquet: the column 'Event' holds list"):
        read_logs(("log.parquet", parquet_bytes(table)))


def test_a_file_without_rows_is_refused():
    with pytest.raises(FakeusersError, match="log.parquet has no rows"):
        read_logs(("log.parquet", parquet_bytes(pa.table(ROWS).slice(0, 0))))


def test_the_size_cap_holds_for_files_and_folders(tmp_path, monkeypatch):
    data = parquet_bytes(pa.table(ROWS))
    (tmp_path / "log.parquet").write_bytes(data)
    write_folder(tmp_path / "lake", [pa.table(ROWS)] * 3)
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, str(len(data) - 1))
    for source in (("log.parquet", data), tmp_path / "log.parquet", tmp_path / "lake"):
        with pytest.raises(InputTooLargeError, match=MAX_LOG_BYTES_ENV):
            read_logs(source)
    # Each part is under the cap, the folder is not: it is one log.
    monkeypatch.setenv(MAX_LOG_BYTES_ENV, str(2 * len(data)))
    with pytest.raises(InputTooLargeError, match="lake holds more than"):
        read_logs(tmp_path / "lake")


def test_a_small_file_that_decodes_past_the_cap_is_refused_before_it_all_is():
    # One long ID on every row: a dictionary page makes the file tiny, the text is not.
    n = 200_000
    table = pa.table(
        {
            "UserId": pa.array(["x" * 1_000] * n).dictionary_encode(),
            "Event": pa.array(["click_ad"] * n).dictionary_encode(),
            "Category": pa.array(["Phone"] * n).dictionary_encode(),
        }
    )
    data = parquet_bytes(table, row_group_size=10_000)
    assert len(data) < 200_000
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(MAX_LOG_BYTES_ENV, str(50_000_000))
        with pytest.raises(InputTooLargeError, match="decodes to more than the 50,000,000"):
            read_logs(("bomb.parquet", data))


def test_a_damaged_size_histogram_is_refused_not_a_crash():
    # Reading this file's column metadata from Python aborted the process (pyarrow 26).
    with pytest.raises(FakeusersError, match="cannot be read as Parquet"):
        read_logs(DATA / "damaged-size-histogram.parquet")


def test_mutated_parquet_files_only_raise_the_project_error():
    # Seeded, so a failure reproduces. pyarrow once aborted the whole process on such a file
    # (a damaged size histogram read through the footer's column metadata): the reader does
    # not touch that metadata, and checks decoded pages before using them.
    table = generate_log(300, seed=1, timestamps=True)
    files = [parquet_bytes(typed_table(table)), parquet_bytes(table, compression="none")]
    rng = np.random.default_rng(0)
    for _ in range(400):
        data = bytearray(files[rng.integers(len(files))])
        for at in rng.integers(len(data), size=rng.integers(1, 9)):
            data[at] = rng.integers(256)
        if rng.random() < 0.2:
            data = data[: rng.integers(len(data))]
        with contextlib.suppress(FakeusersError):
            read_logs(("log.parquet", bytes(data)))
