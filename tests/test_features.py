"""Per-user features, checked against a plain-Python computation of the same definitions."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fakeusers import encoding, features
from fakeusers.errors import FakeusersError
from fakeusers.features import OTHER, Vocabulary, featurize, group_by_user
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs


def log_of(rows, timestamps=None):
    header = "UserId,Event,Category" + (",Timestamp" if timestamps is not None else "")
    lines = [header]
    for i, (u, e, c) in enumerate(rows):
        extra = f",{timestamps[i]}" if timestamps is not None else ""
        lines.append(f"{u},{e},{c}{extra}")
    return read_logs(("t.csv", ("\n".join(lines) + "\n").encode()))


def entropy(values):
    n = len(values)
    return -sum(k / n * math.log2(k / n) for k in Counter(values).values())


def longest_run(values):
    best = run = 0
    prev = None
    for v in values:
        run = run + 1 if v == prev else 1
        best = max(best, run)
        prev = v
    return best


def expected_row(rows_of_user, vocab: Vocabulary):
    events = [e if e in vocab.events else OTHER for _, e, _ in rows_of_user]
    cats = [c if c in vocab.categories else OTHER for _, _, c in rows_of_user]
    n = len(events)
    out = {
        "n_events": n,
        "n_distinct_events": len(set(events)),
        "n_distinct_categories": len(set(cats)),
        "event_switches": sum(a != b for a, b in zip(events, events[1:], strict=False)),
        "category_switches": sum(a != b for a, b in zip(cats, cats[1:], strict=False)),
        "event_entropy": entropy(events),
        "category_entropy": entropy(cats),
        "longest_event_run": longest_run(events),
    }
    for v in (*vocab.events, OTHER):
        out[f"event_{v}_count"] = events.count(v)
        out[f"event_{v}_share"] = events.count(v) / n
    for v in (*vocab.categories, OTHER):
        out[f"category_{v}_count"] = cats.count(v)
    return out


rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from([*KNOWN_EVENTS, "mystery"]),
        st.sampled_from(KNOWN_CATEGORIES),
    ),
    min_size=1,
    max_size=60,
)


@given(rows=rows_strategy)
@settings(max_examples=150, deadline=None)
def test_features_match_their_definitions(rows):
    vocab = Vocabulary(KNOWN_EVENTS, KNOWN_CATEGORIES, timestamps=False)
    X = featurize(log_of(rows), vocab)
    users = list(dict.fromkeys(u for u, _, _ in rows))
    assert X.index.tolist() == users
    for u in users:
        expected = expected_row([r for r in rows if r[0] == u], vocab)
        for name, value in expected.items():
            assert X.loc[u, name] == pytest.approx(value), name


def test_unseen_values_count_as_other():
    log = log_of([("u", "teleport", "Pets"), ("u", "click_ad", "Phone")])
    vocab = Vocabulary(KNOWN_EVENTS, KNOWN_CATEGORIES, timestamps=False)
    X = featurize(log, vocab)
    assert X.loc["u", "event_other_count"] == 1
    assert X.loc["u", "category_other_share"] == 0.5
    assert list(X.columns) == vocab.feature_names()


def test_training_vocabulary_keeps_new_values_as_columns():
    log = log_of([("u", "teleport", "Phone")])
    vocab = Vocabulary.from_log(log)
    assert vocab.events[: len(KNOWN_EVENTS)] == KNOWN_EVENTS and "teleport" in vocab.events
    assert featurize(log, vocab).loc["u", "event_teleport_count"] == 1
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab


def test_time_features():
    rows = [("u", "click_ad", "Phone")] * 4 + [("v", "click_ad", "Phone")]
    # u's events at 0, 10, 12, 40 seconds (given out of order); v has one event
    ts = [10, 0, 40, 12, 5]
    log = log_of(rows, timestamps=ts)
    X = featurize(log)
    assert X.loc["u", "span_seconds"] == 40
    assert X.loc["u", "min_gap_seconds"] == 2
    assert X.loc["u", "median_gap_seconds"] == 10  # gaps 10, 2, 28
    assert X.loc["u", "events_per_minute"] == pytest.approx(4 / 40 * 60)
    assert X.loc["v", "span_seconds"] == 0
    assert np.isnan(X.loc["v", "median_gap_seconds"])


def test_model_with_timestamps_refuses_log_without():
    log = log_of([("u", "click_ad", "Phone")])
    vocab = Vocabulary(KNOWN_EVENTS, KNOWN_CATEGORIES, timestamps=True)
    with pytest.raises(FakeusersError, match="trained with timestamps"):
        featurize(log, vocab)


def test_matches_naive_pandas_on_demo_data():
    from fakeusers.demo import generate_log

    table = generate_log(5_000, seed=3)
    df = table.to_pandas()
    log = read_logs(("demo.csv", df.to_csv(index=False).encode()))
    X = featurize(log)
    pd.testing.assert_index_equal(X.index, pd.Index(log.user_ids, name="UserId"), exact=True)
    naive = df.groupby("UserId", sort=False).apply(
        lambda g: pd.Series(
            {
                "n_events": len(g),
                "event_switches": (g["Event"] != g["Event"].shift()).sum() - 1,
                "longest_event_run": longest_run(g["Event"].tolist()),
            }
        ),
        include_groups=False,
    )
    for col in naive.columns:
        assert (X.loc[naive.index, col].to_numpy() == naive[col].to_numpy()).all(), col


@pytest.mark.parametrize("n_users", [3, 70_000, 300_000])
def test_group_by_user_is_a_stable_sort(n_users):
    codes = np.random.default_rng(n_users).integers(0, n_users, 200_000).astype(np.int32)
    assert np.array_equal(group_by_user(codes, n_users), np.argsort(codes, kind="stable"))


def test_a_log_without_users_has_an_empty_feature_table():
    log = log_of([("u", "click_ad", "Phone")])
    empty = dataclasses.replace(
        log,
        user_ids=log.user_ids[:0],
        user_codes=log.user_codes[:0],
        event_codes=log.event_codes[:0],
        category_codes=log.category_codes[:0],
    )
    X = featurize(empty, Vocabulary(KNOWN_EVENTS, KNOWN_CATEGORIES, timestamps=False))
    assert X.shape == (0, len(Vocabulary(KNOWN_EVENTS, KNOWN_CATEGORIES, False).feature_names()))


def test_features_hold_with_hundreds_of_event_and_category_values():
    # Past 256 values per column, codes no longer fit the small integer types of a
    # demo-sized vocabulary: the order-based features must still match their definitions.
    rng = np.random.default_rng(5)
    rows = [
        (f"u{rng.integers(0, 30)}", f"e{rng.integers(0, 300)}", f"c{rng.integers(0, 400)}")
        for _ in range(3_000)
    ]
    rows += [("u0", "e299", "c399")] * 3  # a run at the largest codes
    log = log_of(rows)
    vocab = Vocabulary.from_log(log)
    assert len(vocab.events) > 256 and len(vocab.categories) > 256
    X = featurize(log, vocab)
    for u in dict.fromkeys(u for u, _, _ in rows):
        expected = expected_row([r for r in rows if r[0] == u], vocab)
        for name in (
            "event_switches",
            "category_switches",
            "longest_event_run",
            "n_distinct_categories",
            "event_e299_count",
            "category_c399_count",
        ):
            assert X.loc[u, name] == expected[name], (u, name)


@contextlib.contextmanager
def aggregated_by(compiled: bool):
    """Features aggregated by the compiled pass (any log size) or by numpy (none)."""
    before = features.COMPILED_ROWS, encoding.COMPILED_FROM
    features.COMPILED_ROWS = encoding.COMPILED_FROM = 0 if compiled else 1 << 62
    try:
        yield
    finally:
        features.COMPILED_ROWS, encoding.COMPILED_FROM = before


def both_aggregations(log, vocab=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = []
    for compiled in (False, True):
        with aggregated_by(compiled):
            out.append(featurize(log, vocab))
    return out[0], out[1]


@given(rows=rows_strategy, with_timestamps=st.booleans())
@settings(max_examples=150, deadline=None)
def test_the_compiled_aggregation_gives_the_same_features_to_the_bit(rows, with_timestamps):
    timestamps = list(range(len(rows), 0, -1)) if with_timestamps else None
    log = log_of(rows, timestamps)
    for vocab in (None, Vocabulary(KNOWN_EVENTS[:2], KNOWN_CATEGORIES[:3], with_timestamps)):
        numpy_way, compiled_way = both_aggregations(log, vocab)
        pd.testing.assert_frame_equal(numpy_way, compiled_way, check_exact=True)


def test_the_compiled_aggregation_holds_on_large_vocabularies_and_users_without_rows():
    rng = np.random.default_rng(6)
    rows = [
        (f"u{rng.integers(0, 500)}", f"e{rng.integers(0, 300)}", f"c{rng.integers(0, 40)}")
        for _ in range(20_000)
    ]
    log = log_of(rows)
    numpy_way, compiled_way = both_aggregations(log)
    pd.testing.assert_frame_equal(numpy_way, compiled_way, check_exact=True)
    # a subset of the rows that leaves some users without any (as callers may build)
    kept = log.user_codes % 3 != 0
    subset = dataclasses.replace(
        log,
        user_codes=log.user_codes[kept],
        event_codes=log.event_codes[kept],
        category_codes=log.category_codes[kept],
    )
    numpy_way, compiled_way = both_aggregations(subset)
    assert (numpy_way["n_events"] == 0).sum() > 100
    pd.testing.assert_frame_equal(numpy_way, compiled_way, check_exact=True)
