"""Tests for the synthetic click logs in fakeusers.demo."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from fakeusers import demo
from fakeusers.demo import generate_log, write_demo_csv
from fakeusers.errors import FakeusersError

EVENTS = {"click_ad", "click_carrousel", "phone_call", "send_email", "send_sms"}
CATEGORIES = {"Phone", "Motor", "Jobs", "Leisure", "Holidays", "Real_State"}
SCHEMA = pa.schema(
    [
        ("UserId", pa.string()),
        ("Event", pa.string()),
        ("Category", pa.string()),
        ("Fake", pa.int8()),
        ("Timestamp", pa.string()),
    ]
)


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """The demo data set: 100k events, seed 0, with timestamps."""
    return generate_log(100_000, seed=0, timestamps=True).to_pandas()


@pytest.fixture(scope="module")
def users(log: pd.DataFrame) -> pd.DataFrame:
    return log.groupby("UserId").agg(events=("Fake", "size"), fake=("Fake", "first"))


def read_csv(path) -> pa.Table:
    """Read a written demo CSV back with the types generate_log produces."""
    types = {field.name: field.type for field in SCHEMA}
    return pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types=types))


def test_same_seed_gives_the_same_table():
    assert generate_log(5_000, seed=3, timestamps=True).equals(
        generate_log(5_000, seed=3, timestamps=True)
    )


def test_different_seeds_give_different_tables():
    assert not generate_log(5_000, seed=3).equals(generate_log(5_000, seed=4))


def test_timestamps_only_add_a_column():
    with_time = generate_log(5_000, seed=2, timestamps=True)
    assert with_time.drop_columns(["Timestamp"]).equals(generate_log(5_000, seed=2))


@pytest.mark.parametrize("timestamps", [False, True])
def test_columns_and_types(timestamps: bool):
    table = generate_log(1_000, timestamps=timestamps)
    names = SCHEMA.names if timestamps else SCHEMA.names[:4]
    assert table.schema.equals(pa.schema([SCHEMA.field(name) for name in names]))
    assert all(column.null_count == 0 for column in table.columns)


@pytest.mark.parametrize("n_events", [100, 101, 149, 997, 12_345, 100_000])
def test_exact_row_count(n_events: int):
    assert generate_log(n_events, seed=n_events).num_rows == n_events


def test_every_user_has_15_to_50_events_for_any_size():
    # Fitting the last users to the exact row count must not break the bounds.
    for n_events in range(100, 1_000, 7):
        for seed in range(3):
            per_user = generate_log(n_events, seed=seed).column("UserId").value_counts()
            counts = per_user.field("counts").to_numpy()
            assert counts.sum() == n_events
            assert counts.min() >= 15
            assert counts.max() <= 50


def test_values(log: pd.DataFrame):
    assert set(log["Event"]) == EVENTS
    assert set(log["Category"]) == CATEGORIES
    assert set(log["Fake"]) == {0, 1}
    assert log["UserId"].str.fullmatch(r"[1-9]\d{7}").all()


def test_label_is_constant_per_user(log: pd.DataFrame):
    assert (log.groupby("UserId")["Fake"].nunique() == 1).all()


def test_proportions_match_real_exports(log: pd.DataFrame, users: pd.DataFrame):
    assert 4_500 <= len(users) <= 5_500
    assert users["events"].between(15, 50).all()
    assert 18 <= users["events"].median() <= 20
    assert 0.055 <= users["fake"].mean() <= 0.065
    assert 0.085 <= log["Fake"].mean() <= 0.115
    assert users.groupby("fake")["events"].mean().diff().iloc[-1] > 5


def test_fakes_over_use_click_ad_and_send_email(log: pd.DataFrame):
    mix = pd.crosstab(log["Fake"], log["Event"], normalize="index")
    assert mix.loc[0].between(0.17, 0.23).all()
    assert mix.loc[1, ["click_ad", "send_email"]].between(0.33, 0.47).all()


def test_users_interleave(log: pd.DataFrame):
    same_user_as_previous_row = (log["UserId"] == log["UserId"].shift()).mean()
    assert same_user_as_previous_row < 0.05


def test_timestamps_lie_in_five_minutes_in_order(log: pd.DataFrame):
    assert log["Timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    times = pd.to_datetime(log["Timestamp"], format="ISO8601", utc=True)
    assert times.is_monotonic_increasing
    assert times.iloc[-1] - times.iloc[0] < pd.Timedelta(minutes=5)


def test_fakes_act_faster_but_overlap(log: pd.DataFrame, users: pd.DataFrame):
    times = pd.to_datetime(log["Timestamp"], format="ISO8601", utc=True)
    seconds = (times - times.iloc[0]).dt.total_seconds()
    span = seconds.groupby(log["UserId"]).agg(lambda s: s.max() - s.min())
    gap = (span / (users["events"] - 1)).groupby(users["fake"])
    assert gap.median()[1] < 0.85 * gap.median()[0]
    # Plenty of fakes are slower than the median real user.
    assert (gap.get_group(1) > gap.median()[0]).mean() > 0.1


def test_classes_overlap_like_real_logs(log: pd.DataFrame):
    # A good model ranks users well, yet precision suffers: the threshold must cost something.
    shares = pd.crosstab(log["UserId"], log["Event"], normalize="index").join(
        pd.crosstab(log["UserId"], log["Category"], normalize="index")
    )
    fake = log.groupby("UserId")["Fake"].first().loc[shares.index]
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    p = cross_val_predict(model, shares, fake, cv=cv, method="predict_proba")[:, 1]
    assert 0.97 <= roc_auc_score(fake, p) <= 0.999
    assert 0.75 <= average_precision_score(fake, p) <= 0.93


@pytest.mark.parametrize("timestamps", [False, True])
def test_csv_round_trip(tmp_path, timestamps: bool):
    path = write_demo_csv(tmp_path / "demo.csv", n_events=2_000, seed=1, timestamps=timestamps)
    assert path == tmp_path / "demo.csv"
    text = path.read_text()
    assert text.startswith("UserId,Event,Category,Fake")
    assert '"' not in text
    assert read_csv(path).equals(generate_log(2_000, seed=1, timestamps=timestamps))


def test_gzip_round_trip(tmp_path):
    path = write_demo_csv(tmp_path / "demo.csv.gz", n_events=2_000, timestamps=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    with gzip.open(path, "rt") as f:
        assert f.readline() == "UserId,Event,Category,Fake,Timestamp\n"
    assert read_csv(path).equals(generate_log(2_000, timestamps=True))


def test_write_leaves_no_temporary_file(tmp_path):
    write_demo_csv(tmp_path / "demo.csv", n_events=1_000)
    write_demo_csv(tmp_path / "demo.csv", n_events=2_000)
    assert [p.name for p in tmp_path.iterdir()] == ["demo.csv"]
    assert read_csv(tmp_path / "demo.csv").num_rows == 2_000


def test_failed_write_keeps_the_old_file_and_cleans_up(tmp_path, monkeypatch):
    path = write_demo_csv(tmp_path / "demo.csv", n_events=1_000)
    before = path.read_bytes()

    def broken_write(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(demo.pa_csv, "write_csv", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_demo_csv(path, n_events=2_000)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo.csv"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_events": 99}, "n_events=99 is out of range"),
        ({"n_events": -5}, "between 100 and"),
        ({"n_events": 10**12}, "between 100 and"),
        ({"n_events": 1_000.0}, "whole number"),
        ({"n_events": "1000"}, "n_events=100_000"),
        ({"n_events": True}, "whole number"),
        ({"seed": -1}, "seed=0"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"timestamps": "yes"}, "True or False"),
    ],
)
def test_bad_arguments_say_what_to_pass(kwargs: dict, message: str, tmp_path):
    with pytest.raises(FakeusersError, match=message):
        generate_log(**kwargs)
    with pytest.raises(FakeusersError, match=message):
        write_demo_csv(tmp_path / "demo.csv", **kwargs)
    assert not any(tmp_path.iterdir())


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(FakeusersError, match="does not exist"):
        write_demo_csv(tmp_path / "nowhere" / "demo.csv", n_events=1_000)


def test_folder_as_path_is_reported(tmp_path):
    with pytest.raises(FakeusersError, match="is a folder"):
        write_demo_csv(tmp_path, n_events=1_000)


def test_numpy_integers_are_accepted():
    # Callers often pass sizes computed with numpy.
    assert generate_log(np.int64(500), seed=np.int64(1)).equals(generate_log(500, seed=1))
