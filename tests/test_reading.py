"""The reader: what it accepts (with what report) and what it refuses (with what message)."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import io
import zipfile

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeusers.errors import FakeusersError
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs, read_table

CLEAN = (
    "UserId,Event,Category,Fake\n"
    "u1,click_ad,Phone,1\n"
    "u2,send_sms,Motor,0\n"
    "u1,send_email,Jobs,1\n"
    "u3,phone_call,Leisure,0\n"
    "u2,click_carrousel,Holidays,0\n"
)


def read_text(text: str, name: str = "logs.csv", encoding: str = "utf-8"):
    return read_logs((name, text.encode(encoding)))


def content(log) -> list[tuple]:
    """The log's rows as (user, event, category, label) tuples, in order."""
    users = log.user_ids[log.user_codes]
    events = np.asarray(log.event_values, dtype=object)[log.event_codes]
    cats = np.asarray(log.category_values, dtype=object)[log.category_codes]
    labels = log.labels[log.user_codes] if log.labels is not None else [None] * log.n_rows
    return list(zip(users.tolist(), events.tolist(), cats.tolist(), list(labels), strict=True))


def test_clean_log_is_read_with_a_full_report():
    log = read_text(CLEAN)
    assert log.user_ids.tolist() == ["u1", "u2", "u3"]  # order of first appearance
    assert log.labels.tolist() == [1, 0, 0]
    r = log.report
    assert (r.rows, r.users, r.labelled, r.fake_users) == (5, 3, True, 1)
    assert r.fake_share == pytest.approx(1 / 3)
    assert r.events["click_ad"] == 1 and sum(r.events.values()) == 5
    assert r.unknown_events == [] and r.unknown_categories == [] and r.warnings == []
    assert r.duplicate_rows is None  # not checked without timestamps


def test_spreadsheet_formatting_reads_the_same_as_clean():
    messy = "\ufeff userid ; EVENT ;category; fake \r\n" + "".join(
        f" {u} ; {e} ;{c}  ;{f}\r\n"
        for u, e, c, f in (row.split(",") for row in CLEAN.splitlines()[1:])
    )
    log = read_text(messy)
    assert content(log) == content(read_text(CLEAN))
    assert any("semicolons" in w for w in log.report.warnings)


def test_missing_column_message_names_file_found_columns_and_fix():
    with pytest.raises(FakeusersError) as err:
        read_text("UserId,Event,Fake\nu1,click_ad,1\n", name="logs.csv")
    assert str(err.value) == (
        "logs.csv has no column 'Category' (found: UserId, Event, Fake). "
        "Each row needs UserId, Event and Category."
    )


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "is empty"),
        (b"\xef\xbb\xbf\r\n  \n", "is empty"),
        (b"UserId,Event,Category\n", "header but no rows"),
        (b"UserId,Event,Category\r\n\r\n", "header but no rows"),
        (bytes(range(256)) * 20, "not a CSV file: it is not text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "is a PDF document"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, r"old Excel workbook \(.xls\)"),
        (b"PK\x03\x04 cut off", "is a zip archive or a spreadsheet"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip"),
    ],
)
def test_unusable_files_are_refused_by_name(data, words):
    with pytest.raises(FakeusersError, match=words) as err:
        read_logs(("export.csv", data))
    assert str(err.value).startswith("export.csv")


def zipped(*names: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, "UserId,Event,Category\n")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("inside", "message"),
    [
        (
            ("[Content_Types].xml", "xl/workbook.xml"),
            "report.csv is an Excel workbook (.xlsx), not a CSV file: in Excel choose "
            "File > Save As > CSV UTF-8, then upload that file.",
        ),
        (
            ("mimetype", "content.xml"),
            "report.csv is a LibreOffice or OpenOffice spreadsheet (.ods), not a CSV file: "
            "choose File > Save As > Text CSV, then upload that file.",
        ),
        (
            ("march/logs.csv",),
            "report.csv is a zip archive holding march/logs.csv, not a CSV file: unzip it and "
            "upload the CSV file itself (a .csv.gz file is read as it is).",
        ),
    ],
    ids=["xlsx", "ods", "zip of a csv"],
)
def test_zip_based_files_are_refused_by_what_they_are(inside, message):
    with pytest.raises(FakeusersError) as err:
        read_logs(("report.csv", zipped(*inside)))
    assert str(err.value) == message


def test_refusals_speak_of_the_file_not_of_formats_internals():
    samples = [
        zipped("xl/workbook.xml"),
        zipped("notes.docx"),
        b"PK\x03\x04",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100),
        "\ufeffUserId\tEvent\tCategory\r\n".encode("utf-16-le"),
        bytes(range(256)),
        b"%PDF-1.4\n\x00",
    ]
    for data in samples:
        with pytest.raises(FakeusersError) as err:
            read_logs(("report.csv", data))
        words = str(err.value).lower()
        assert words.startswith("report.csv ") and "upload" in words
        for jargon in ("mime", "magic", "bytes", "header signature", "ole2", "binary"):
            assert jargon not in words, f"{jargon!r} in {words!r}"


def test_gzip_is_read_by_content(tmp_path):
    path = tmp_path / "logs.csv.gz"
    path.write_bytes(gzip.compress(CLEAN.encode()))
    assert content(read_logs(path)) == content(read_text(CLEAN))


MESSY = {
    "ragged rows": b"UserId,Event,Category\nu1,click_ad,Phone\nu2,click_ad\nu3,a,b,c,d\nu4,x,y\n",
    "quoted line breaks": b'UserId,Event,Category\n"u\n1",click_ad,Phone\nu2,send_sms,Motor\n',
    "a quote never closed": b'UserId,Event,Category\nu1,click_ad,Phone\n"u2,a,b\nu3,c,d\nu4,e,f\n',
    "latin-1 and a repeated header": (
        "UserId;Event;Category\nJos\u00e9;click_ad;Phone\nUserId;Event;Category\nb;x;y\n"
    ).encode("latin-1"),
    "a header only": b"UserId,Event,Category",
    "an empty file": b"",
    "a spreadsheet": b"PK\x03\x04 not really a zip",
    "gzip": gzip.compress(CLEAN.encode()),
}
# Files of 2 MB and more are read into huge pages: the same cases past that size, the
# problem after 3 MB of good rows (so that its line is found in the mapped bytes).
_GOOD_ROWS = "".join(f"{i},click_ad,Phone\n" for i in range(200_000)).encode()
MESSY.update(
    {
        f"large, {case}": body.replace(b"\n", b"\n" + _GOOD_ROWS.replace(b",", sep), 1)
        for case, body, sep in (
            ("ragged rows", MESSY["ragged rows"], b","),
            ("quoted line breaks", MESSY["quoted line breaks"], b","),
            ("a quote never closed", MESSY["a quote never closed"], b","),
            ("latin-1", MESSY["latin-1 and a repeated header"], b";"),
            ("a header only", b"UserId,Event,Category" + b" " * (3 << 20), b","),
        )
    }
)
MESSY["large, gzip"] = gzip.compress(MESSY["large, ragged rows"])


@pytest.mark.parametrize("body", MESSY.values(), ids=MESSY.keys())
def test_a_file_on_disk_reads_as_the_same_bytes_uploaded(tmp_path, body):
    # Files on disk are mapped in memory rather than read; what is read must not differ.
    path = tmp_path / "logs.csv"
    path.write_bytes(body)
    outcomes = []
    for source in (path, ("logs.csv", body)):
        try:
            log = read_logs(source)
        except FakeusersError as exc:
            outcomes.append(str(exc))
        else:
            outcomes.append((content(log), log.report.to_dict()))
    assert outcomes[0] == outcomes[1]


def test_missing_file_says_so(tmp_path):
    with pytest.raises(FakeusersError, match="no such file"):
        read_logs(tmp_path / "nope.csv")


def test_latin1_is_read_with_a_warning():
    log = read_text("UserId,Event,Category\nJosé,click_ad,Phone\n", encoding="latin-1")
    assert log.user_ids.tolist() == ["José"]
    assert any("Latin-1" in w for w in log.report.warnings)


def test_extra_columns_are_ignored_and_listed():
    log = read_text("Country,UserId,Event,Category,Device\nES,u1,click_ad,Phone,ios\n")
    assert log.report.extra_columns == {"logs.csv": ["Country", "Device"]}
    assert log.user_ids.tolist() == ["u1"]


def test_repeated_header_rows_are_dropped_and_reported():
    body = CLEAN + "UserId,Event,Category,Fake\n" + "u4,click_ad,Motor,0\n"
    log = read_text(body)
    assert log.report.rows == 6
    assert log.report.dropped == {"repeated header line": 1}
    assert "userid" not in [u.lower() for u in log.user_ids]


def test_users_are_in_order_of_first_kept_row():
    # b's first row is dropped (no Event), so a comes first.
    log = read_text("UserId,Event,Category\nb,,Phone\na,click_ad,Phone\nb,send_sms,Motor\n")
    assert log.user_ids.tolist() == ["a", "b"]
    assert log.user_ids[log.user_codes].tolist() == ["a", "b"]


def test_the_ids_as_arrow_text_are_the_ids_of_the_log_they_belong_to():
    # the reader hands its Arrow text of the IDs to the log; a subset or a copy with other
    # labels makes its own from its own IDs
    log = read_text("UserId,Event,Category\nb,,Phone\n a ,click_ad,Phone\nb,send_sms,Motor\n")
    assert log.user_id_text.to_pylist() == log.user_ids.tolist() == ["a", "b"]
    subset = log.select_users(np.array([1]))
    assert subset.user_id_text.to_pylist() == ["b"]
    relabelled = dataclasses.replace(subset, labels=np.array([1], dtype=np.int8))
    assert relabelled.user_id_text.to_pylist() == ["b"]


def test_the_ids_as_arrow_text_are_the_ids_numpy_holds():
    # numpy drops a trailing NUL (a Parquet file may hold one): both forms hold the same text
    table = pa.table(
        {"UserId": ["a\x00", "b"], "Event": ["click_ad"] * 2, "Category": ["Phone"] * 2}
    )
    log = read_table(table, "t.parquet")
    assert log.user_id_text.to_pylist() == log.user_ids.tolist()


def test_empty_fields_drop_rows_with_reasons():
    log = read_text("UserId,Event,Category\nu1,click_ad,Phone\n,click_ad,Phone\nu2,,Motor\n")
    assert log.report.rows == 1
    assert log.report.dropped == {"empty UserId": 1, "empty Event": 1}


def test_ragged_rows_are_skipped_with_line_numbers():
    log = read_text("UserId,Event,Category\nu1,click_ad,Phone\nu2,click_ad\nu3,a,b,c,d\n")
    assert log.report.rows == 1
    assert log.report.dropped == {"wrong number of fields": 2}
    assert any("at lines 3, 4." in w for w in log.report.warnings)


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("last_end", [True, False])
def test_a_ragged_row_is_located_by_its_whole_line_not_by_its_text_inside_others(crlf, last_end):
    # "3,click_ad,Phone" is also the end of user 123's rows and the start of user 3's
    rows = ["UserId,Event,Category,Fake", *["123,click_ad,Phone,0", "3,click_ad,Phone,0"] * 5]
    nl = "\r\n" if crlf else "\n"
    log = read_text(nl.join([*rows, "3,click_ad,Phone"]) + (nl if last_end else ""))
    assert log.report.dropped == {"wrong number of fields": 1}
    assert any("at line 12." in w for w in log.report.warnings), log.report.warnings


def test_quoted_newlines_are_kept_inside_the_value():
    log = read_text('UserId,Event,Category\n"u\n1",click_ad,Phone\nu2,send_sms,Motor\n')
    assert log.user_ids.tolist() == ["u\n1", "u2"]


@pytest.mark.parametrize(
    "user_id",
    ["6.37E+07", "1.2345E+15", "1.23457E+11", "1E+15", "6,37E+07", "1.5E-05", "6.37e+07", "1.2E15"],
)
def test_ids_a_spreadsheet_wrote_in_scientific_notation_are_warned_about(user_id):
    log = read_text(f"UserId;Event;Category\n{user_id};click_ad;Phone\n12345;click_ad;Phone\n")
    assert log.report.mangled_ids == [user_id]
    assert any(
        w.startswith(f"1 user ID looks like spreadsheet scientific notation (e.g. {user_id})")
        for w in log.report.warnings
    )


@pytest.mark.parametrize(
    "user_id", ["1E38095673", "9E12", "3e7", "12E+05", "1E", "E+07", "1.2E", "0x1E+5", "1E+"]
)
def test_ids_that_merely_hold_an_e_between_digits_are_not(user_id):
    log = read_text(f"UserId,Event,Category\n{user_id},click_ad,Phone\n")
    assert log.user_ids.tolist() == [user_id]
    assert log.report.mangled_ids == [] and log.report.warnings == []


def test_unknown_values_are_flagged_not_refused():
    log = read_text("UserId,Event,Category\nu1,share_link,Pets\nu1,click_ad,Phone\n")
    assert log.report.unknown_events == ["share_link"]
    assert log.report.unknown_categories == ["Pets"]
    assert any("'other'" in w for w in log.report.warnings)


def test_non_binary_label_is_refused_with_the_line():
    with pytest.raises(FakeusersError) as err:
        read_text("UserId,Event,Category,Fake\nu1,click_ad,Phone,0\nu2,click_ad,Phone,2\n")
    message = str(err.value)
    assert "logs.csv line 3" in message and "'2'" in message and "0 (real user)" in message


def test_label_words_are_accepted():
    log = read_text("UserId,Event,Category,Fake\nu1,click_ad,Phone,TRUE\nu2,click_ad,Phone,0.0\n")
    assert log.labels.tolist() == [1, 0]


def test_conflicting_labels_are_listed_and_training_refuses():
    log = read_text(
        "UserId,Event,Category,Fake\nu1,click_ad,Phone,1\nu1,click_ad,Phone,0\n"
        "u2,click_ad,Phone,0\n"
    )
    assert log.report.label_conflicts == ["u1"]
    assert log.labels.tolist() == [-1, 0]
    with pytest.raises(FakeusersError, match="both Fake=0 and Fake=1 rows \\(e.g. u1\\)"):
        log.require_labels()


def test_unlabelled_log_cannot_train():
    log = read_text("UserId,Event,Category\nu1,click_ad,Phone\n")
    assert log.labels is None and not log.report.labelled
    with pytest.raises(FakeusersError, match="no Fake column"):
        log.require_labels()


def test_iso_and_epoch_timestamps_are_parsed():
    iso = read_text(
        "UserId,Event,Category,Timestamp\n"
        "u1,click_ad,Phone,2026-11-24T10:00:00Z\nu1,click_ad,Phone,2026-11-24T10:00:01.500Z\n"
    )
    epoch = read_text(
        "UserId,Event,Category,Timestamp\nu1,click_ad,Phone,1795514400\n"
        "u1,click_ad,Phone,1795514401.5\n"
    )
    assert np.diff(iso.timestamps).tolist() == [1.5]
    assert np.diff(epoch.timestamps).tolist() == [1.5]
    assert iso.report.has_timestamps


def test_unparseable_timestamps_are_ignored_with_a_warning():
    log = read_text("UserId,Event,Category,Timestamp\nu1,click_ad,Phone,yesterday\n")
    assert log.timestamps is None and not log.report.has_timestamps
    assert any("'yesterday'" in w for w in log.report.warnings)


def test_duplicate_rows_are_counted_with_timestamps():
    row = "u1,click_ad,Phone,2026-11-24T10:00:00Z\n"
    log = read_text("UserId,Event,Category,Timestamp\n" + row * 3)
    assert log.report.duplicate_rows == 2


def test_several_files_concatenate_and_locate_errors():
    a = ("a.csv", CLEAN.encode())
    b = ("b.csv", b"UserId,Event,Category\nu9,click_ad,Phone\n")
    log = read_logs([a, b])
    assert log.report.files == ["a.csv", "b.csv"]
    assert log.n_users == 4 and log.labels is None
    assert any("Fake column ignored: b.csv" in w for w in log.report.warnings)
    bad = ("c.csv", b"UserId,Event,Category,Fake\nu1,click_ad,Phone,0\nu2,x,y,maybe\n")
    with pytest.raises(FakeusersError, match="c.csv line 3"):
        read_logs([a, bad])


# ---------------------------------------------------------------------------------------------
# Files that overlap: a re-export that covers part of the previous one

WEEK1 = (
    "UserId,Event,Category,Timestamp\n"
    "u1,click_ad,Phone,2026-11-24T10:00:00Z\n"
    "u2,send_sms,Motor,2026-11-24T10:00:01Z\n"
    "u1,send_email,Jobs,2026-11-24T10:00:02Z\n"
    "u3,phone_call,Leisure,2026-11-24T10:00:03Z\n"
)
# u1 again with the same rows (the overlap), u2 with one more row (seen in two windows: kept
# whole, its first row a copy across files), u4 new.
WEEK2 = (
    "UserId,Event,Category,Timestamp\n"
    "u1,click_ad,Phone,2026-11-24T10:00:00Z\n"
    "u2,send_sms,Motor,2026-11-24T10:00:01Z\n"
    "u1,send_email,Jobs,2026-11-24T10:00:02Z\n"
    "u2,click_ad,Motor,2026-11-25T09:00:00Z\n"
    "u4,click_ad,Phone,2026-11-25T09:00:01Z\n"
)


def weeks(**kwargs):
    return read_logs([("week1.csv", WEEK1.encode()), ("week2.csv", WEEK2.encode())], **kwargs)


def test_users_repeated_whole_in_a_later_file_are_kept_once_and_reported():
    log = weeks()
    rows = [r[:3] for r in content(log)]
    assert rows[:4] == [r[:3] for r in content(read_text(WEEK1))]
    assert rows[4:] == [
        ("u2", "send_sms", "Motor"),
        ("u2", "click_ad", "Motor"),
        ("u4", "click_ad", "Phone"),
    ]
    r = log.report
    assert r.rows == 7 and r.overlaps_kept == "keep_one"
    assert r.overlaps == [{"files": ["week1.csv", "week2.csv"], "users": 1, "rows": 2}]
    assert r.duplicate_rows == 1 and r.duplicate_rows_across_files == 1  # u2's first row
    assert r.warnings == [
        "1 user appears with the same events in week1.csv and week2.csv (2 rows in "
        "week2.csv): the exports overlap. One copy is kept: those rows of week2.csv are left "
        "out, not counted twice.",
        "1 rows repeat another row exactly (same user, event, category and timestamp), 1 of "
        "them copies of a row in another file (the files' time windows overlap); they are kept.",
    ]


def test_both_copies_can_be_kept_and_the_report_says_so():
    log = weeks(overlaps="keep_all")
    assert log.report.rows == 9 and log.report.overlaps_kept == "keep_all"
    assert log.report.overlaps == weeks().report.overlaps
    assert log.report.warnings[0].endswith(
        "the exports overlap. Both copies are kept, so those users' events count twice."
    )
    assert log.rows_of("u1")["Event"].tolist() == ["click_ad", "send_email"] * 2


def test_the_fingerprint_follows_the_rows_kept():
    once = read_text(WEEK1)
    assert read_logs([("a.csv", WEEK1.encode()), ("b.csv", WEEK1.encode())]).fingerprint() == (
        once.fingerprint()
    )
    both = read_logs([("a.csv", WEEK1.encode())] * 2, overlaps="keep_all")
    assert both.n_rows == 8 and both.fingerprint() != once.fingerprint()


@pytest.mark.parametrize(
    "second",
    [
        "UserId,Event,Category\nu1,send_email,Jobs\nu1,click_ad,Phone\n",  # other order
        "UserId,Event,Category\nu1,click_ad,Phone\n",  # fewer rows
        "UserId,Event,Category\nu1,click_ad,Phone\nu1,send_email,Motor\n",  # other category
    ],
    ids=["order", "fewer rows", "category"],
)
def test_users_whose_rows_differ_between_files_are_not_overlaps(second):
    first = "UserId,Event,Category\nu1,click_ad,Phone\nu1,send_email,Jobs\n"
    log = read_logs([("a.csv", first.encode()), ("b.csv", second.encode())])
    assert log.report.overlaps == [] and log.report.warnings == []
    assert log.n_rows == 2 + second.count("\n") - 1


def test_a_label_that_differs_is_not_an_overlap():
    first = "UserId,Event,Category,Fake\nu1,click_ad,Phone,0\n"
    log = read_logs([("a.csv", first.encode()), ("b.csv", first.replace(",0", ",1").encode())])
    assert log.report.overlaps == [] and log.report.label_conflicts == ["u1"]


def test_overlaps_are_counted_per_pair_of_files():
    a = "UserId,Event,Category\nu1,click_ad,Phone\nu2,send_sms,Motor\n"
    b = "UserId,Event,Category\nu2,send_sms,Motor\nu3,click_ad,Jobs\n"
    c = "UserId,Event,Category\nu1,click_ad,Phone\nu3,click_ad,Jobs\nu2,send_sms,Motor\n"
    log = read_logs([("a.csv", a.encode()), ("b.csv", b.encode()), ("c.csv", c.encode())])
    assert log.report.overlaps == [
        {"files": ["a.csv", "b.csv"], "users": 1, "rows": 1},
        {"files": ["a.csv", "c.csv"], "users": 2, "rows": 2},
        {"files": ["b.csv", "c.csv"], "users": 1, "rows": 1},
    ]
    assert [r[0] for r in content(log)] == ["u1", "u2", "u3"]


def test_many_small_files_with_many_users_are_checked_the_same_way():
    # Far more (user, file) pairs could exist than there are rows: grouped another way.
    files = [
        (f"f{i}.csv", f"UserId,Event,Category\nu{i},click_ad,Phone\nshared,send_sms,Motor\n")
        for i in range(8)
    ]
    log = read_logs([(name, text.encode()) for name, text in files])
    assert log.report.overlaps == [
        {"files": ["f0.csv", f"f{i}.csv"], "users": 1, "rows": 1} for i in range(1, 8)
    ]
    assert log.n_rows == 9 and log.rows_of("shared")["Event"].tolist() == ["send_sms"]


def test_an_unknown_overlaps_choice_is_refused():
    with pytest.raises(FakeusersError, match="overlaps must be 'keep_one' or 'keep_all'"):
        read_logs(("a.csv", CLEAN.encode()), overlaps="drop")


def test_rows_of_and_preview():
    log = read_text(CLEAN)
    assert log.rows_of("u1")["Event"].tolist() == ["click_ad", "send_email"]
    assert log.preview(2)["UserId"].tolist() == ["u1", "u2"]
    with pytest.raises(FakeusersError, match="No user"):
        log.rows_of("nobody")


def test_fingerprint_ignores_formatting_but_not_content():
    clean = read_text(CLEAN)
    padded = read_text(CLEAN.replace(",", " , ").replace("\n", "\r\n"))
    assert clean.fingerprint() == padded.fingerprint()
    assert clean.fingerprint() != read_text(CLEAN.replace("u3", "u4")).fingerprint()


# ---------------------------------------------------------------------------------------------
# Properties

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)
rows = st.lists(
    st.tuples(ids, st.sampled_from(KNOWN_EVENTS), st.sampled_from(KNOWN_CATEGORIES)),
    min_size=1,
    max_size=40,
)


@given(
    rows=rows,
    upper=st.booleans(),
    pad=st.sampled_from(["", " ", "  \t"]),
    crlf=st.booleans(),
    bom=st.booleans(),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_formatting_never_changes_content(rows, upper, pad, crlf, bom):
    header = ["UserId", "Event", "Category"]
    if upper:
        header = [h.upper() for h in header]
    nl = "\r\n" if crlf else "\n"
    text = ",".join(f"{pad}{h}{pad}" for h in header) + nl
    text += "".join(",".join(f"{pad}{v}{pad}" for v in row) + nl for row in rows)
    if bom:
        text = "\ufeff" + text
    log = read_text(text)
    assert [r[:3] for r in content(log)] == [tuple(r) for r in rows]
    assert log.n_users == len({r[0] for r in rows})


@given(rows=rows, stamped=st.booleans())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_file_read_twice_reads_as_once(rows, stamped):
    header = "UserId,Event,Category" + (",Timestamp" if stamped else "") + "\n"
    text = header + "".join(
        ",".join(r) + (f",{1795514400 + i}" if stamped else "") + "\n" for i, r in enumerate(rows)
    )
    once = read_text(text)
    twice = read_logs([("a.csv", text.encode()), ("b.csv", text.encode())])
    assert content(twice) == content(once) and twice.fingerprint() == once.fingerprint()
    assert twice.report.overlaps == [
        {"files": ["a.csv", "b.csv"], "users": once.n_users, "rows": once.n_rows}
    ]


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None)
def test_random_bytes_only_raise_the_project_error(data):
    try:
        log = read_logs(("fuzz.csv", data))
    except FakeusersError as exc:
        assert str(exc).startswith("fuzz.csv")
    else:
        assert log.n_rows > 0 and log.n_users > 0


@given(rows=rows, cut=st.integers(min_value=0, max_value=400), junk=st.binary(max_size=20))
@settings(max_examples=200, deadline=None)
def test_mutated_valid_logs_only_raise_the_project_error(rows, cut, junk):
    text = "UserId,Event,Category\n" + "".join(",".join(r) + "\n" for r in rows)
    data = text.encode()
    data = data[:cut] + junk + data[cut:]
    with contextlib.suppress(FakeusersError):
        read_logs(("mutated.csv", data))


def test_ids_that_only_trimming_makes_equal_are_reported_with_their_raw_forms():
    data = (
        b'UserId,Event,Category\n=1+2,click_ad,Motor\n"\t=1+2",click_ad,Motor\n'
        b"u2 ,phone_call,Jobs\nu2,phone_call,Jobs\nu3,send_sms,Jobs\n u4 ,send_sms,Jobs\n"
    )
    log = read_logs([("ids.csv", data)])
    assert log.user_ids.tolist() == ["=1+2", "u2", "u3", "u4"]
    assert log.report.trimmed_ids == ["'=1+2' = '\\t=1+2'", "'u2 ' = 'u2'"]
    (warning,) = [w for w in log.report.warnings if "read as the same users" in w]
    assert warning.startswith("2 user IDs differ from others only by spaces")
    assert "fix the IDs in the source" in warning
    consistent = read_logs([("ids.csv", b"UserId,Event,Category\n u4 ,send_sms,Jobs\n")])
    assert consistent.report.trimmed_ids == [], "one raw form per ID: nothing merged"


@pytest.mark.parametrize(
    "ids",
    [
        ["007", "7", "0", "00"],  # leading zeros: distinct IDs, not the number 7
        ["0x1F", "31"],  # a hexadecimal spelling is not the number 31
        ["-5", "5"],
        ["99999999999999999999", "1"],  # past 64 bits
        ["12", "12 ", " 12"],  # padding is trimmed and reported, as for any ID
        ["63700000", "6.37E+07"],
    ],
)
def test_numeric_looking_ids_are_read_as_the_text_they_are(ids):
    rows = "".join(f"{i},click_ad,Motor\n" for i in [*ids, *reversed(ids)])
    log = read_text("UserId,Event,Category\n" + rows)
    expected = list(dict.fromkeys(i.strip() for i in ids))
    assert log.user_ids.tolist() == expected
    assert [r[0] for r in content(log)] == [i.strip() for i in [*ids, *reversed(ids)]]


@given(
    ids=st.lists(
        st.one_of(
            st.integers(min_value=0, max_value=2**63 - 1).map(str),
            st.from_regex(r"\A[0-9]{1,20}\Z"),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=150, deadline=None)
def test_ids_made_of_digits_read_as_text_would(ids):
    rows = "".join(f"{i},click_ad,Motor\n" for i in ids)
    log = read_text("UserId,Event,Category\n" + rows)
    assert log.user_ids.tolist() == list(dict.fromkeys(ids))
    assert log.user_ids[log.user_codes].tolist() == ids


def test_files_parsed_to_different_column_types_are_read_together():
    # The CSV parser dictionary-encodes Event, Category and Fake; a reader that hands
    # over plain text for them (another format) must combine with it.
    import pyarrow as pa

    from fakeusers.log import LoadReport
    from fakeusers.reading import _read_file, encode_tables

    report = LoadReport(files=[])
    parsed = _read_file(("a.csv", CLEAN.encode()), report)
    plain = pa.table({c: parsed.column(c).cast(pa.string()) for c in parsed.column_names})
    report.files.append("b.parquet")
    report.file_rows.append(plain.num_rows)
    log = encode_tables([parsed, plain], report)
    assert content(log) == content(read_text(CLEAN)), "the second file repeats the first"
    assert log.report.overlaps == [{"files": ["a.csv", "b.parquet"], "users": 3, "rows": 5}]


@settings(max_examples=300, deadline=None)
@given(
    values=st.lists(st.integers(0, 40), min_size=1, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=6),
    text=st.booleans(),
)
def test_encoding_two_halves_gives_dictionary_encode_s_codes_and_values(values, cuts, text):
    import pyarrow as pa

    from fakeusers.encoding import _dictionary_encode_halves

    edges = sorted({0, len(values), *(c for c in cuts if c <= len(values))})
    typ = pa.string() if text else pa.int64()
    data = [str(v) for v in values] if text else values
    column = pa.chunked_array(
        [pa.array(data[a:b], typ) for a, b in zip(edges, edges[1:], strict=False)], typ
    )
    codes, dictionary = _dictionary_encode_halves(column)
    expected = column.dictionary_encode().combine_chunks()
    assert codes.dtype == np.int32
    np.testing.assert_array_equal(codes, expected.indices.to_numpy())
    assert dictionary.equals(expected.dictionary)


def test_a_large_file_read_in_short_reads_or_that_grows_reads_whole(tmp_path, monkeypatch):
    import mmap

    import fakeusers.sources as sources

    path = tmp_path / "logs.csv"
    body = b"UserId,Event,Category\n" + _GOOD_ROWS
    path.write_bytes(body)

    class ShortReads(io.FileIO):
        def readinto(self, buffer):  # at most 1 MB a call, as a 2 GiB file or a pipe gives
            with memoryview(buffer) as view:
                return super().readinto(view[: 1 << 20])

    with monkeypatch.context() as m:
        m.setattr(sources, "open", lambda p, *a, **k: ShortReads(p, "rb"), raising=False)
        _, data = sources.open_source(path, mapped=True)
    assert isinstance(data, mmap.mmap), "short reads are read on, not read again"
    assert data[:] == body

    real_fstat = sources.os.fstat

    def smaller(fd):  # the file grew after its size was taken: it is read again, whole
        st = real_fstat(fd)
        return type("Stat", (), {"st_size": st.st_size - 100, "st_mode": st.st_mode})()

    monkeypatch.setattr(sources.os, "fstat", smaller)
    _, data = sources.open_source(path, mapped=True)
    assert isinstance(data, bytes) and data == body
    monkeypatch.setenv("FAKEUSERS_MAX_LOG_BYTES", str(len(body) - 50))  # and past the cap
    with pytest.raises(FakeusersError, match="is larger than"):
        sources.open_source(path, mapped=True)


@pytest.mark.parametrize("chunks", [[["12", "7", "12"]], [["12", "7"], ["12", "9"]], [[], ["3"]]])
def test_canonical_numeric_ids_take_the_integer_path_in_any_number_of_chunks(chunks):
    # the fast path (hashing numbers, not text): a single chunk is the common small file
    import pyarrow as pa

    from fakeusers.encoding import _canonical_integers

    column = pa.chunked_array([pa.array(c, pa.string()) for c in chunks], pa.string())
    encoded = _canonical_integers(column)
    assert encoded is not None
    values = [v for c in chunks for v in c]
    assert encoded.values[encoded.codes].tolist() == values
    with_zero = pa.chunked_array([*column.chunks, pa.array(["007"])], pa.string())
    assert _canonical_integers(with_zero) is None  # "007" is not 7: the text path
