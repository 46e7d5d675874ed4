"""The Data page: uploads, the demo button, the load report, and files that cannot be read."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fakeusers import reading
from fakeusers.demo import write_demo_csv
from fakeusers.errors import FakeusersError
from tests.app.conftest import assert_clean, click, goto, metric, new_app, train, upload
from views import _state as state


def test_upload_shows_the_load_report_with_readable_numbers(labelled: bytes) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    assert_clean(at)
    report = reading.read_logs(("train.csv", labelled)).report
    assert metric(at, "Rows") == "20,000"
    assert metric(at, "Users") == f"{report.users:,}"
    assert metric(at, "Fake users") == f"{report.fake_users:,}"
    assert metric(at, "Timestamps") == "yes"
    events, categories, preview = (d.value for d in at.dataframe)
    assert dict(zip(events["event"], events["rows"], strict=True)) == report.events
    assert dict(zip(categories["category"], categories["rows"], strict=True)) == report.categories
    assert len(preview) == 20
    assert list(preview.columns) == ["UserId", "Event", "Category", "Fake", "Timestamp"]


def test_several_files_and_gzip_are_read_as_one_log(labelled: bytes, unlabelled: bytes) -> None:
    at = upload(new_app(), ("a.csv", labelled), ("b.csv.gz", gzip.compress(unlabelled)))
    assert_clean(at)
    rows = reading.read_logs([("a.csv", labelled), ("b.csv", unlabelled)]).report.rows
    assert metric(at, "Rows") == f"{rows:,}"
    assert "a.csv, b.csv.gz" in " ".join(m.value for m in at.markdown)


def test_the_same_export_uploaded_twice_is_counted_once_and_said(labelled: bytes) -> None:
    at = upload(new_app(), ("a.csv", labelled), ("b.csv.gz", gzip.compress(labelled)))
    assert_clean(at)
    assert metric(at, "Rows") == "20,000"
    users = reading.read_logs(("a.csv", labelled)).report.users
    assert any(
        w.value.startswith(f"{users:,} users appear with the same events in a.csv and b.csv.gz")
        and "One copy is kept" in w.value
        for w in at.warning
    )


def overlaps_radio(at: AppTest):
    (radio,) = [r for r in at.radio if r.key == state.OVERLAPS_INPUT]
    return radio


def test_overlapping_files_can_be_kept_once_or_twice_keeping_model_and_costs(
    labelled: bytes,
) -> None:
    at = upload(new_app(), ("train.csv", labelled))
    assert not [r for r in at.radio if r.key == state.OVERLAPS_INPUT], "one file: no choice"
    train(at)
    model = at.session_state[state.MODEL]
    at.session_state[state.COST_FN] = 7.0
    at = upload(at, ("a.csv", labelled), ("b.csv", labelled))
    assert_clean(at)
    users = metric(at, "Users")
    assert metric(at, "Rows") == "20,000"
    assert overlaps_radio(at).value == "keep_one"
    assert overlaps_radio(at).options == ["Keep one copy (recommended)", "Keep both copies"]
    assert any("One copy is kept" in w.value for w in at.warning)

    at = overlaps_radio(at).set_value("keep_all").run()
    assert_clean(at)
    assert (metric(at, "Rows"), metric(at, "Users")) == ("40,000", users)
    events = at.dataframe[0].value
    assert events["rows"].sum() == 40_000
    assert any("Both copies are kept" in w.value for w in at.warning)
    assert not any("One copy is kept" in w.value for w in at.warning)
    assert overlaps_radio(at).value == "keep_all"
    assert at.session_state[state.DATASET].log.report.overlaps_kept == "keep_all"
    assert at.session_state[state.MODEL] is model and at.session_state[state.COST_FN] == 7.0
    assert "40,000 rows" in at.sidebar.markdown[0].value + at.sidebar.markdown[1].value

    goto(at, "decisions")  # the model scores the log as now read: twice the events of
    assert not at.exception  # each user, which the applicability check sees
    assert "does not fit the model" in at.error[0].value and metric(at, "Users flagged")
    goto(at, "data")
    assert overlaps_radio(at).value == "keep_all" and metric(at, "Rows") == "40,000"
    at = overlaps_radio(at).set_value("keep_one").run()
    assert metric(at, "Rows") == "20,000"
    assert any("One copy is kept" in w.value for w in at.warning)


def test_unlabelled_log_is_marked_for_scoring_not_training(unlabelled: bytes) -> None:
    at = upload(new_app(), ("new.csv", unlabelled))
    assert metric(at, "Fake users") == "unlabelled"
    goto(at, "model")
    assert_clean(at)
    assert "Train model" not in [b.label for b in at.button]
    assert any("no Fake column" in i.value for i in at.info)


@pytest.mark.parametrize(
    "bad",
    [
        b"UserId,Event\n1,click_ad\n",
        b"PK\x03\x04 this is a spreadsheet",
        b"",
    ],
    ids=["missing column", "xlsx", "empty"],
)
def test_bad_upload_shows_the_library_message_and_keeps_data_and_model(
    labelled: bytes, bad: bytes
) -> None:
    with pytest.raises(FakeusersError) as expected:
        reading.read_logs(("bad.csv", bad))
    at = upload(new_app(), ("train.csv", labelled))
    train(at)
    before_data = at.session_state[state.DATASET]
    before_model = at.session_state[state.MODEL]

    upload(at, ("bad.csv", bad))
    assert not at.exception
    assert [e.value for e in at.error] == [str(expected.value)]
    assert at.session_state[state.DATASET] is before_data
    assert at.session_state[state.MODEL] is before_model
    assert metric(at, "Rows") == "20,000", "the previous load report stays on screen"

    goto(at, "decisions")  # and the app keeps working
    assert_clean(at)
    assert metric(at, "Users flagged")


def test_unexpected_failure_is_a_friendly_message_not_a_traceback(
    labelled: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(sources, **options):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(reading, "read_logs", broken)
    at = upload(new_app(), ("train.csv", labelled))
    assert not at.exception
    (error,) = at.error
    assert "Something unexpected went wrong while reading the uploaded logs" in error.value
    assert "disk on fire" in error.value
    assert "Traceback" not in error.value


def test_demo_button_loads_the_demo_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    demo = write_demo_csv(tmp_path / "demo.csv", n_events=5_000, timestamps=True)
    monkeypatch.setattr(state, "DEMO_CSV", demo)
    at = click(goto(new_app(), "data"), "Load demo data")
    assert_clean(at)
    assert metric(at, "Rows") == "5,000"
    assert "demo.csv" in " ".join(m.value for m in at.markdown)


def test_missing_demo_file_says_how_to_create_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "DEMO_CSV", tmp_path / "nowhere" / "demo.csv")
    at = click(goto(new_app(), "data"), "Load demo data")
    assert not at.exception
    (error,) = at.error
    assert "python -m fakeusers demo-data data/demo.csv --timestamps" in error.value


def test_same_upload_is_read_once(labelled: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = reading.read_logs
    monkeypatch.setattr(
        reading, "read_logs", lambda s, **options: calls.append(1) or original(s, **options)
    )
    at = upload(new_app(), ("train.csv", labelled))
    at.run()
    goto(at, "users")
    goto(at, "data")
    assert len(calls) == 1
    other = upload(new_app(), ("train.csv", labelled))  # another session, same bytes: cached
    assert metric(other, "Rows") == "20,000"
    assert len(calls) == 1


def test_every_bad_upload_is_named_and_the_error_clears_when_removed(labelled: bytes) -> None:
    at = upload(new_app(), ("good.csv", labelled))
    at = upload(
        at,
        ("good.csv", labelled),
        ("binary.csv", bytes(range(256)) * 8),
        ("nocat.csv", b"UserId,Event\nu1,click_ad\n"),
    )
    (error,) = at.error
    assert "binary.csv is not a CSV file: it is not text" in error.value
    assert "nocat.csv has no column 'Category'" in error.value
    assert "good.csv" in at.markdown[0].value or any("good.csv" in m.value for m in at.markdown)
    at.file_uploader(key="logs").set_value([])
    at = at.run()
    assert not at.error
    assert not at.exception


def test_a_parquet_upload_reads_as_the_same_log_as_its_csv(labelled: bytes) -> None:
    from fakeusers.demo import generate_log
    from tests.support import parquet_bytes, typed_table

    # The table behind the ``labelled`` CSV, typed as a data lake keeps it.
    data = parquet_bytes(typed_table(generate_log(20_000, seed=1, timestamps=True)))
    at = new_app()
    goto(at, "data")
    assert ".parquet" in at.file_uploader(key="logs").proto.type
    at = upload(at, ("train.parquet", data))
    assert_clean(at)
    report = reading.read_logs(("train.csv", labelled)).report
    assert (metric(at, "Rows"), metric(at, "Users")) == ("20,000", f"{report.users:,}")
    assert metric(at, "Fake users") == f"{report.fake_users:,}"
    assert metric(at, "Timestamps") == "yes"
    assert "train.parquet" in " ".join(m.value for m in at.markdown)
    loaded = at.session_state[state.DATASET].log
    assert loaded.fingerprint() == reading.read_logs(("train.csv", labelled)).fingerprint()

    cut = data[: len(data) // 2]
    with pytest.raises(FakeusersError) as refused:
        reading.read_logs(("cut.parquet", cut))
    at = upload(at, ("cut.parquet", cut))
    assert [e.value for e in at.error] == [str(refused.value)]
    assert "cut.parquet cannot be read as Parquet" in at.error[0].value
    assert metric(at, "Rows") == "20,000"  # the log read before stays
