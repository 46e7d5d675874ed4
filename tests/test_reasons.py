"""Tests for fakeusers.reasons: a user's strongest pushes towards fake, in sentences."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pandas as pd
import pytest

from fakeusers import reasons
from fakeusers.reasons import MIN_CONTRIBUTION, explain_in_words, odds_words, value_words

LEVELS = list(range(1, 100))


def percentiles(**features: list[float]) -> dict:
    return {"levels": LEVELS, "features": features}


def frames(contrib: dict, values: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    return pd.DataFrame(contrib), pd.DataFrame(values)


def test_doctests() -> None:
    assert doctest.testmod(reasons).failed == 0


@pytest.mark.parametrize(
    ("feature", "value", "n_events", "text"),
    [
        ("category_switches", 34.0, 42.0, "34 category switches in 42 events"),
        ("event_click_ad_share", 0.456, None, "'click_ad' in 46% of events"),
        ("category_Real_State_count", 12.0, 40.0, "category 'Real_State' 12 times in 40 events"),
        ("event_other_count", 2.0, None, "unknown events 2 times"),
        ("n_events", 1234.0, 1234.0, "1,234 events"),
        ("events_per_minute", 7.25, None, "7.2 events per minute"),
        ("median_gap_seconds", 90.0, None, "1.5 min between events (median)"),
        ("span_seconds", 2 * 86400.0, None, "active for 2.0 days"),
        ("min_gap_seconds", float("nan"), None, "no gap between events (a single event)"),
        ("event_switch_rate", 0.5, None, "a new event at 50% of steps"),
        ("longest_event_run", 9.0, 12.0, "the same event 9 times in a row in 12 events"),
        ("something_new", 3.0, None, "something new 3"),
    ],
)
def test_values_read_like_an_analyst_would_say_them(feature, value, n_events, text) -> None:
    assert value_words(feature, value, n_events) == text


def test_the_push_is_said_as_a_factor_on_the_odds() -> None:
    assert odds_words(math.log(9)) == "makes being fake 9.0× more likely"
    assert odds_words(math.log(40)) == "makes being fake 40× more likely"
    assert odds_words(1e6) == "makes being fake more than 1,000× more likely"


def test_values_are_placed_among_the_models_real_users() -> None:
    contrib, X = frames(
        {"category_switches": [3.0, 3.0, 3.0, 3.0], "median_gap_seconds": [0.0] * 4},
        {"category_switches": [500.0, 10.0, 50.0, 0.0], "median_gap_seconds": [1.0] * 4},
    )
    # Real users: 1st..99th percentiles 1..99 switches; the user with 0 is below all of them.
    profile = percentiles(category_switches=[float(v) for v in LEVELS])
    said = [rs[0] for rs in explain_in_words(contrib, X, profile)]
    assert said[0].text.startswith("500 category switches: more than 99% of real users")
    assert said[0].real_percentile == 99.5
    assert "fewer than 89% of real users" in said[1].text
    assert "typical of real users" in said[2].text
    assert "fewer than 99% of real users" in said[3].text and said[3].real_percentile == 0.5
    assert all(r.text.endswith(f"makes being fake {math.exp(3):.0f}× more likely") for r in said)


def test_time_features_are_shorter_or_longer_and_shares_higher_or_lower() -> None:
    contrib, X = frames(
        {"median_gap_seconds": [2.0], "event_click_ad_share": [1.0]},
        {"median_gap_seconds": [0.1], "event_click_ad_share": [0.9]},
    )
    profile = percentiles(
        median_gap_seconds=[float(v) for v in LEVELS],
        event_click_ad_share=[v / 1000 for v in LEVELS],
    )
    (gap, share), *_ = explain_in_words(contrib, X, profile)
    assert "shorter than 99% of real users" in gap.text
    assert "higher than 99% of real users" in share.text


def test_at_most_three_reasons_strongest_first_and_only_real_pushes() -> None:
    names = [
        "n_events",
        "event_switches",
        "category_switches",
        "event_entropy",
        "longest_event_run",
    ]
    contrib = pd.DataFrame(
        [[0.5, 2.0, 1.0, 3.0, 0.2], [MIN_CONTRIBUTION / 2, -1.0, -2.0, 0.0, 0.0]], columns=names
    )
    X = pd.DataFrame([[40.0, 30.0, 20.0, 0.5, 3.0], [3.0, 1.0, 1.0, 1.0, 1.0]], columns=names)
    first, second = explain_in_words(contrib, X)
    assert [r.feature for r in first] == ["event_entropy", "event_switches", "category_switches"]
    assert [r.contribution for r in first] == [3.0, 2.0, 1.0]
    assert first[1].text == "30 event switches in 40 events; makes being fake 7.4× more likely"
    assert all(r.real_percentile is None for r in first), "no profile: no comparison"
    assert second == [], "a push below ×1.1 or towards real is not a reason"


def test_a_profile_without_a_feature_or_with_gaps_is_not_used_for_it() -> None:
    contrib, X = frames(
        {"n_events": [2.0], "event_switches": [1.0]}, {"n_events": [9.0], "event_switches": [4.0]}
    )
    profile = percentiles(n_events=[None] * 99)
    reasons_ = explain_in_words(contrib, X, profile)[0]
    assert [r.real_percentile for r in reasons_] == [None, None]
    assert "real users" not in " ".join(r.text for r in reasons_)


def test_a_missing_value_is_said_and_not_compared() -> None:
    contrib, X = frames({"min_gap_seconds": [1.0]}, {"min_gap_seconds": [np.nan]})
    profile = percentiles(min_gap_seconds=[float(v) for v in LEVELS])
    (reason,) = explain_in_words(contrib, X, profile)[0]
    assert reason.value is None and reason.real_percentile is None
    assert reason.text.startswith("no gap between events (a single event); makes being fake")
