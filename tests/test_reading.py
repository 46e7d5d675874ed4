"""The reader: what it accepts (with what report) and what it refuses (with what message)."""

from __future__ import annotations

import contextlib
import gzip
import io
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeusers.errors import FakeusersError
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs

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
        (bytes(range(256)) * 20, "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip"),
    ],
)
def test_unusable_files_are_refused_by_name(data, words):
    with pytest.raises(FakeusersError, match=words) as err:
        read_logs(("export.csv", data))
    assert str(err.value).startswith("export.csv")


def test_spreadsheet_renamed_csv_is_refused_with_the_fix():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(FakeusersError, match="Save As") as err:
        read_logs(("logs.csv", buf.getvalue()))
    assert "spreadsheet" in str(err.value)


def test_gzip_is_read_by_content(tmp_path):
    path = tmp_path / "logs.csv.gz"
    path.write_bytes(gzip.compress(CLEAN.encode()))
    assert content(read_logs(path)) == content(read_text(CLEAN))


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


def test_empty_fields_drop_rows_with_reasons():
    log = read_text("UserId,Event,Category\nu1,click_ad,Phone\n,click_ad,Phone\nu2,,Motor\n")
    assert log.report.rows == 1
    assert log.report.dropped == {"empty UserId": 1, "empty Event": 1}


def test_ragged_rows_are_skipped_with_line_numbers():
    log = read_text("UserId,Event,Category\nu1,click_ad,Phone\nu2,click_ad\nu3,a,b,c,d\n")
    assert log.report.rows == 1
    assert log.report.dropped == {"wrong number of fields": 2}
    assert any("at lines 3, 4." in w for w in log.report.warnings)


def test_quoted_newlines_are_kept_inside_the_value():
    log = read_text('UserId,Event,Category\n"u\n1",click_ad,Phone\nu2,send_sms,Motor\n')
    assert log.user_ids.tolist() == ["u\n1", "u2"]


def test_mangled_ids_are_warned_about():
    log = read_text("UserId,Event,Category\n6.37E+07,click_ad,Phone\n12345,click_ad,Phone\n")
    assert log.report.mangled_ids == ["6.37E+07"]
    assert any("scientific notation" in w for w in log.report.warnings)


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
