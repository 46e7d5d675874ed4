"""Tests for fakeusers.plots: figures show the right numbers and stay small on big logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from fakeusers import plots
from fakeusers.costcurve import CostCurve
from fakeusers.decisions import outcome
from fakeusers.log import LoadReport, Log
from fakeusers.models import reliability_table
from fakeusers.plots import Groups

EVENTS = ["click_ad", "send_email", "phone_call"]
CATEGORIES = ["Phone", "Jobs"]


def make_log(n_users: int, rows_per_user: int = 20, seed: int = 0) -> Log:
    """A log built directly from codes: fast enough for hundreds of thousands of users."""
    rng = np.random.default_rng(seed)
    user_codes = np.repeat(
        np.arange(n_users, dtype=np.int32), rng.integers(1, rows_per_user, n_users)
    )
    n = user_codes.size
    return Log(
        user_ids=np.array([f"u{i}" for i in range(n_users)]),
        user_codes=user_codes,
        event_values=list(EVENTS),
        event_codes=rng.integers(0, len(EVENTS), n).astype(np.int32),
        category_values=list(CATEGORIES),
        category_codes=rng.integers(0, len(CATEGORIES), n).astype(np.int32),
        labels=(rng.random(n_users) < 0.1).astype(np.int8),
        timestamps=None,
        report=LoadReport(files=["synthetic.csv"]),
    )


def points(fig: go.Figure) -> int:
    return sum(len(trace.x) for trace in fig.data if trace.x is not None)


@pytest.fixture(scope="module")
def big() -> Log:
    return make_log(200_000)


def test_scatter_is_sampled_to_a_few_thousand_points(big: Log) -> None:
    p = np.random.default_rng(1).random(big.n_users)
    fig = plots.share_map_figure(big, p)
    assert points(fig) == plots.MAX_POINTS
    assert f"random {plots.MAX_POINTS:,} of {big.n_users:,}" in fig.layout.title.text
    again = plots.share_map_figure(big, p)
    assert list(fig.data[0].text) == list(again.data[0].text), "the same sample every time"
    by_group = plots.share_map_figure(big, None, Groups.from_labels(big.labels))
    assert points(by_group) == plots.MAX_POINTS


def test_scatter_shares_are_each_users_event_shares() -> None:
    log = make_log(50)
    fig = plots.share_map_figure(log, np.linspace(0, 1, 50))
    trace = fig.data[0]
    for uid, x, y in zip(trace.text, trace.x, trace.y, strict=True):
        rows = log.event_codes[log.user_codes == int(uid[1:])]
        assert x == pytest.approx(np.mean(rows == 0))
        assert y == pytest.approx(np.mean(rows == 1))
    assert list(trace.marker.color) == pytest.approx(np.linspace(0, 1, 50))


def test_histogram_aggregates_users_into_bins_and_marks_the_threshold(big: Log) -> None:
    p = np.random.default_rng(2).beta(0.3, 4, big.n_users)
    groups = Groups.from_labels(big.labels)
    fig = plots.probability_histogram_figure(p, groups, threshold=0.25, bins=50)
    assert points(fig) <= 2 * 50
    total = sum(np.nansum(np.asarray(trace.y, dtype=float)) for trace in fig.data)
    assert total == big.n_users
    (line,) = fig.layout.shapes
    assert (line.x0, line.x1) == (0.25, 0.25)


def test_events_per_user_shares_sum_to_one_per_group(big: Log) -> None:
    fig = plots.events_per_user_figure(big, Groups.from_labels(big.labels), max_bins=40)
    assert len(fig.data) == 2
    for trace in fig.data:
        assert len(trace.x) <= 41
        assert sum(trace.y) == pytest.approx(1.0)


def test_event_mix_matches_counted_rows() -> None:
    log = make_log(300)
    groups = Groups.from_flags(np.arange(300) % 3 == 0)
    fig = plots.event_mix_figure(log, groups)
    for g, trace in enumerate(fig.data):
        rows = log.event_codes[groups.codes[log.user_codes] == g]
        expected = {EVENTS[e]: np.mean(rows == e) for e in range(len(EVENTS))}
        assert dict(zip(trace.x, trace.y, strict=True)) == pytest.approx(expected)
    assert [t.name for t in fig.data] == ["not flagged", "flagged"]
    cats = plots.category_mix_figure(log, groups)
    assert set(cats.data[0].x) == set(CATEGORIES)


def test_cost_curve_is_resampled_exactly_and_marks_optimum_and_threshold(big: Log) -> None:
    rng = np.random.default_rng(3)
    p = rng.beta(0.3, 4, big.n_users)
    y = (rng.random(big.n_users) < p).astype(int)
    curve = CostCurve.from_scores(p, y)
    optimum = curve.optimum(1, 9)
    fig = plots.cost_curve_figure(curve, 1, 9, 0.1, optimum)
    expected, realised, star = fig.data
    assert len(expected.x) == len(realised.x) <= 1000
    for g in (0.0, 0.1, 0.37, 0.9):
        i = int(np.argmin(np.abs(np.asarray(realised.x) - g)))
        flagged = p >= realised.x[i]
        assert realised.y[i] == (flagged & (y == 0)).sum() * 1 + (~flagged & (y == 1)).sum() * 9
        exp = (1 - p[flagged]).sum() * 1 + p[~flagged].sum() * 9
        assert expected.y[i] == pytest.approx(exp)
    assert (star.x[0], star.y[0]) == (optimum[0], optimum[1])
    assert fig.layout.shapes[0].x0 == 0.1


def test_roc_and_precision_recall_stay_small(big: Log) -> None:
    rng = np.random.default_rng(4)
    p = rng.random(big.n_users)
    y = (rng.random(big.n_users) < p).astype(int)
    for fig in (plots.roc_figure(y, p, 0.7), plots.precision_recall_figure(y, p, 0.6)):
        model = fig.data[-1]
        assert len(model.x) <= 1000
        assert (model.x[0], model.x[-1]) in ((0.0, 1.0), (1.0, 0.0))


def test_reliability_plots_the_reliability_table() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(2_000)
    y = (rng.random(2_000) < p).astype(int)
    fig = plots.reliability_figure(y, p)
    table = [row for row in reliability_table(y, p) if row["users"]]
    assert list(fig.data[1].x) == [row["mean_predicted"] for row in table]
    assert list(fig.data[1].y) == [row["observed_fake_rate"] for row in table]


def test_confusion_matrix_shows_the_counts_in_their_cells() -> None:
    o = outcome([1, 1, 0, 0, 0], [True, False, True, False, False], cost_fp=1, cost_fn=1)
    (heat,) = plots.confusion_figure(o).data
    text = np.asarray(heat.text)
    assert text[0][0].startswith("2") and "real, let through" in text[0][0]
    assert text[0][1].startswith("1") and "real, blocked" in text[0][1]
    assert text[1][0].startswith("1") and "fake, missed" in text[1][0]
    assert text[1][1].startswith("1") and "fake, caught" in text[1][1]


def test_timeline_uses_time_when_there_is_time() -> None:
    rows = {
        "Event": np.array(["click_ad", "send_email", "click_ad"], dtype=object),
        "Category": np.array(["Phone", "Jobs", "Phone"], dtype=object),
    }
    ordered = plots.timeline_figure(rows)
    assert list(ordered.data[0].x) == [1, 2, 3]
    assert "no timestamps" in ordered.layout.xaxis.title.text
    timed = plots.timeline_figure({**rows, "Timestamp": np.array([0.0, 1.5, 60.0])})
    assert pd.Timestamp(timed.data[0].x[-1]) == pd.Timestamp("1970-01-01 00:01:00", tz="UTC")
    assert sum(len(t.x) for t in timed.data[1:]) == 3


def test_user_mix_compares_shares_with_the_population() -> None:
    fig = plots.user_mix_figure(
        np.array(["click_ad", "click_ad", "new_event"], dtype=object),
        {"click_ad": 10, "send_email": 30},
        "Events",
    )
    population, user = fig.data
    assert list(population.x) == ["click_ad", "send_email", "new_event"]
    assert list(population.y) == pytest.approx([0.25, 0.75, 0.0])
    assert list(user.y) == pytest.approx([2 / 3, 0.0, 1 / 3])


def test_contributions_show_the_strongest_pushes_both_ways() -> None:
    contrib = pd.Series(
        {"n_events": 0.1, "event_click_ad_share": 2.0, "event_entropy": -1.5, "other": 0.0}
    )
    values = pd.Series(
        {"n_events": 30.0, "event_click_ad_share": 0.5, "event_entropy": 1.0, "other": 0.0}
    )
    (bars,) = plots.contributions_figure(contrib, values, top=1).data
    assert list(bars.x) == [-1.5, 2.0]
    assert list(bars.y) == ["event entropy 1", "click_ad share 50%"]


def test_importance_shows_the_largest_effects_first() -> None:
    series = pd.Series(np.arange(20) - 10.3, index=[f"f{i}" for i in range(20)])
    (bars,) = plots.importance_figure(series, "title", top=5).data
    assert list(bars.y)[::-1] == ["f0", "f1", "f19", "f2", "f18"]
    assert list(bars.marker.color)[::-1] == ["#4C78A8", "#4C78A8", "#E45756", "#4C78A8", "#E45756"]


def test_figures_serialise_to_plotly_json(big: Log) -> None:
    p = np.random.default_rng(6).random(big.n_users)
    for fig in (
        plots.share_map_figure(big, p),
        plots.probability_histogram_figure(p, threshold=0.5),
        plots.events_per_user_figure(big, Groups.everyone(big.n_users)),
    ):
        spec = json.loads(fig.to_json())
        assert spec["data"]
        assert len(fig.to_json()) < 1_000_000


def steep_curve() -> tuple[CostCurve, tuple[float, float]]:
    """A sharp, calibrated model: flagging everyone or nobody costs far more than the optimum."""
    rng = np.random.default_rng(7)
    n = 20_000
    p = np.where(rng.random(n) < 0.05, rng.beta(20, 1, n), rng.beta(1, 300, n))
    y = (rng.random(n) < p).astype(int)
    curve = CostCurve.from_scores(p, y)
    return curve, curve.optimum(1, 9)


def test_cost_axis_focuses_on_the_optimum_and_the_current_threshold() -> None:
    curve, optimum = steep_curve()
    fig = plots.cost_curve_figure(curve, 1, 9, 0.1, optimum)
    expected, realised, star = fig.data
    low, high = fig.layout.yaxis.range
    highest = max(max(expected.y), max(realised.y))
    assert low == 0
    nobody = realised.y[-1]
    assert nobody > 10 * optimum[1] and highest > nobody
    assert high < nobody / 3, "the extremes are cut off, so the minimum is not flat"
    current = [
        y[int(np.searchsorted(np.asarray(trace.x), 0.1))]
        for trace, y in ((expected, expected.y), (realised, realised.y))
    ]
    for marked in (star.y[0], *current):
        assert 0 <= marked < high


def test_cost_axis_shows_the_whole_curve_when_it_is_flat() -> None:
    curve = CostCurve.from_scores(np.full(100, 0.5), np.tile([0, 1], 50))
    fig = plots.cost_curve_figure(curve, 1, 1, 0.5, curve.optimum(1, 1))
    highest = max(max(trace.y) for trace in fig.data[:2])
    assert fig.layout.yaxis.range[1] >= highest


@pytest.mark.parametrize("threshold", [0.01, 0.5, 0.99])
def test_cost_curve_labels_stay_inside_the_plot(threshold: float) -> None:
    curve, optimum = steep_curve()
    fig = plots.cost_curve_figure(curve, 1, 9, threshold, (0.98, optimum[1]))
    labels = {a.text.split()[0]: a for a in fig.layout.annotations}
    assert set(labels) == {"current", "optimum"}
    for label in labels.values():
        # Text grows away from its anchor: rightwards from a left anchor, and so on.
        assert (label.xanchor, label.x < 0.5) in (("left", True), ("right", False))
    current, best = labels["current"], labels["optimum"]
    assert (current.yref, current.yanchor) == ("paper", "top"), "current at the top"
    assert best.y == optimum[1], "optimum next to its star"
    # Below the star, where the curve it minimises cannot be, unless that is off the axis.
    room_below = optimum[1] > fig.layout.yaxis.range[1] / 6
    assert (best.yanchor, best.yshift) == (("top", -8) if room_below else ("bottom", 8))


def test_importance_names_features_as_the_explanations_do() -> None:
    series = pd.Series({"event_send_email_share": 2.0, "median_gap_seconds": -1.0})
    fig = plots.importance_figure(series, "title", "log-odds per standard deviation")
    (bars,) = fig.data
    assert list(bars.y) == ["median gap", "send_email share"]
    assert list(bars.customdata) == ["median_gap_seconds", "event_send_email_share"]
    assert fig.layout.xaxis.title.text == "log-odds per standard deviation"


def test_reliability_shows_the_users_of_each_bin() -> None:
    rng = np.random.default_rng(8)
    p = rng.beta(0.5, 4, 3_000)
    y = (rng.random(3_000) < p).astype(int)
    model = plots.reliability_figure(y, p).data[1]
    table = [row for row in reliability_table(y, p) if row["users"]]
    assert list(model.customdata) == [row["users"] for row in table]
    assert list(model.text) == [f"{row['users']:,}" for row in table], "counts on the points"
    assert "users" in model.hovertemplate
    sizes = np.asarray(model.marker.size)
    assert sizes[np.argmax(model.customdata)] == sizes.max(), "the fullest bin, the biggest dot"
