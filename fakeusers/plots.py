"""Plotly figures of logs, models and decisions, built by the library for any front end.

Every figure here is small whatever the size of the log: populations are aggregated into
bins or shares before plotting, scatters are sampled (:data:`MAX_POINTS`), and curves over
users' probabilities are resampled to a fixed number of points. A 10M-event log with 500k
users never sends more than a few thousand points to the browser.

The groups compared (real vs fake users, or flagged vs not) are passed as a :class:`Groups`:
one small integer per user and a name per value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from numpy.typing import ArrayLike
from sklearn.metrics import precision_recall_curve, roc_curve

from fakeusers.costcurve import CostCurve
from fakeusers.decisions import Outcome
from fakeusers.explain import describe
from fakeusers.log import Log
from fakeusers.models import reliability_table

__all__ = [
    "MAX_POINTS",
    "Groups",
    "category_mix_figure",
    "confusion_figure",
    "contributions_figure",
    "cost_curve_figure",
    "event_mix_figure",
    "events_per_user_figure",
    "importance_figure",
    "precision_recall_figure",
    "probability_histogram_figure",
    "reliability_figure",
    "roc_figure",
    "share_map_figure",
    "timeline_figure",
    "user_mix_figure",
]

#: Most points a scatter shows; larger populations are sampled down to it.
MAX_POINTS = 5_000
_CURVE_POINTS = 801
_HEIGHT = 340
_REAL, _FAKE, _GREY = "#4C78A8", "#E45756", "#9D9DA3"
_ACCENT = "#2A9D8F"
_PALETTE = (_REAL, _FAKE, _GREY, "#F58518", "#54A24B", "#B279A2")
_CATEGORY_COLORS = ("#F58518", "#54A24B", "#B279A2", "#72B7B2", "#EECA3B", "#FF9DA6", "#9D755D")


@dataclass(frozen=True)
class Groups:
    """Which group each user belongs to.

    Attributes
    ----------
    codes : numpy.ndarray of int, shape (n_users,)
        Group number of each user, ``0 .. len(names) - 1``.
    names : tuple of str
        Name of each group, shown in legends.
    """

    codes: np.ndarray
    names: tuple[str, ...]

    @classmethod
    def everyone(cls, n_users: int) -> Groups:
        return cls(np.zeros(n_users, dtype=np.int8), ("all users",))

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> Groups:
        """Real (0) and fake (1) users; users with conflicting labels (-1) in a third group."""
        codes = np.where(labels < 0, 2, labels).astype(np.int8)
        names = ("real", "fake", "conflicting label") if (labels < 0).any() else ("real", "fake")
        return cls(codes, names)

    @classmethod
    def from_flags(cls, flagged: np.ndarray) -> Groups:
        return cls(np.asarray(flagged, dtype=np.int8), ("not flagged", "flagged"))


def _layout(fig: go.Figure, title: str, **kwargs: object) -> go.Figure:
    layout: dict[str, object] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "height": _HEIGHT,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
    }
    fig.update_layout(**(layout | kwargs))
    return fig


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def events_per_user_figure(log: Log, groups: Groups, max_bins: int = 40) -> go.Figure:
    """Distribution of events per user in each group, as shares of the group's users."""
    n_events = log.events_per_user
    if log.n_users == 0:
        return _layout(go.Figure(), "Events per user")
    low, high = int(n_events.min()), int(n_events.max())
    width = max(1, int(np.ceil((high - low + 1) / max_bins)))
    edges = np.arange(low, high + width + 1, width)
    fig = go.Figure()
    for g, name in enumerate(groups.names):
        counts, _ = np.histogram(n_events[groups.codes == g], bins=edges)
        total = counts.sum()
        if total == 0:
            continue
        fig.add_bar(
            x=edges[:-1] + (width - 1) / 2,
            y=counts / total,
            width=width * 0.9,
            name=f"{name} ({total:,})",
            marker_color=_color(g),
            opacity=0.75,
            hovertemplate="%{x} events: %{y:.1%} of " + name + "<extra></extra>",
        )
    return _layout(
        fig,
        "Events per user",
        barmode="overlay",
        xaxis_title="events in the log",
        yaxis={"title": "share of the group's users", "tickformat": ".0%"},
    )


def _mix_figure(
    row_codes: np.ndarray, values: list[str], log: Log, groups: Groups, title: str
) -> go.Figure:
    row_group = groups.codes[log.user_codes].astype(np.int64)
    k = len(values)
    counts = np.bincount(row_group * k + row_codes, minlength=len(groups.names) * k).reshape(
        len(groups.names), k
    )
    order = np.argsort(-counts.sum(axis=0), kind="stable")
    fig = go.Figure()
    for g, name in enumerate(groups.names):
        total = counts[g].sum()
        if total == 0:
            continue
        fig.add_bar(
            x=[values[j] for j in order],
            y=counts[g, order] / total,
            name=name,
            marker_color=_color(g),
            hovertemplate="%{x}: %{y:.1%} of " + name + " rows<extra></extra>",
        )
    return _layout(
        fig, title, barmode="group", yaxis={"title": "share of rows", "tickformat": ".0%"}
    )


def event_mix_figure(log: Log, groups: Groups) -> go.Figure:
    """Share of each event among each group's rows."""
    return _mix_figure(log.event_codes, log.event_values, log, groups, "Event mix")


def category_mix_figure(log: Log, groups: Groups) -> go.Figure:
    """Share of each category among each group's rows."""
    return _mix_figure(log.category_codes, log.category_values, log, groups, "Category mix")


def _event_share(log: Log, event: str, n_events: np.ndarray) -> np.ndarray:
    if event not in log.event_values:
        return np.zeros(log.n_users)
    hits = log.user_codes[log.event_codes == log.event_values.index(event)]
    return np.bincount(hits, minlength=log.n_users) / np.maximum(n_events, 1)


def share_map_figure(
    log: Log,
    p: ArrayLike | None = None,
    groups: Groups | None = None,
    *,
    max_points: int = MAX_POINTS,
    seed: int = 0,
) -> go.Figure:
    """Users on their click_ad and send_email shares, coloured by probability (or group).

    At most ``max_points`` users, drawn at random (the same ones on every call with the same
    seed), so the browser gets a few thousand points whatever the size of the log.
    """
    n_events = log.events_per_user
    x_all = _event_share(log, "click_ad", n_events)
    y_all = _event_share(log, "send_email", n_events)
    n = log.n_users
    if n > max_points:
        users = np.sort(np.random.default_rng(seed).choice(n, size=max_points, replace=False))
        title = f"Users by click_ad and send_email share (random {max_points:,} of {n:,})"
    else:
        users = np.arange(n)
        title = f"Users by click_ad and send_email share ({n:,} users)"
    ids = log.user_ids[users]
    fig = go.Figure()
    hover = "%{text}<br>click_ad %{x:.0%}<br>send_email %{y:.0%}"
    if p is not None:
        prob = np.asarray(p, dtype=np.float64)[users]
        fig.add_scatter(
            x=x_all[users],
            y=y_all[users],
            text=ids,
            mode="markers",
            marker={
                "color": prob,
                "cmin": 0,
                "cmax": 1,
                "colorscale": "RdYlBu_r",
                "size": 5,
                "opacity": 0.75,
                "colorbar": {"title": {"text": "P(fake)"}, "thickness": 12},
            },
            customdata=prob,
            hovertemplate=hover + "<br>P(fake) %{customdata:.3f}<extra></extra>",
            showlegend=False,
        )
    else:
        groups = groups or Groups.everyone(n)
        for g, name in enumerate(groups.names):
            sel = users[groups.codes[users] == g]
            fig.add_scatter(
                x=x_all[sel],
                y=y_all[sel],
                text=log.user_ids[sel],
                mode="markers",
                name=name,
                marker={"color": _color(g), "size": 5, "opacity": 0.6},
                hovertemplate=hover + "<extra>" + name + "</extra>",
            )
    return _layout(
        fig,
        title,
        xaxis={"title": "click_ad share", "tickformat": ".0%", "range": [-0.02, 1.02]},
        yaxis={"title": "send_email share", "tickformat": ".0%", "range": [-0.02, 1.02]},
    )


def probability_histogram_figure(
    p: ArrayLike,
    groups: Groups | None = None,
    threshold: float | None = None,
    bins: int = 50,
) -> go.Figure:
    """How many users got each probability, in ``bins`` equal bins, with the threshold marked.

    The count axis is logarithmic: most users sit near 0 and the few likely fakes near 1
    would otherwise be invisible.
    """
    p = np.asarray(p, dtype=np.float64)
    groups = groups or Groups.everyone(p.size)
    edges = np.linspace(0.0, 1.0, bins + 1)
    centers = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure()
    highest = 1
    for g, name in enumerate(groups.names):
        counts, _ = np.histogram(p[groups.codes == g], bins=edges)
        if counts.sum() == 0:
            continue
        highest = max(highest, int(counts.max()))
        fig.add_bar(
            x=centers,
            y=np.where(counts > 0, counts, np.nan),
            width=1.0 / bins,
            name=name,
            marker_color=_color(g),
            opacity=0.7,
            hovertemplate="P(fake) %{x:.2f}: %{y:,} users<extra>" + name + "</extra>",
        )
    if threshold is not None and 0 <= threshold <= 1:
        fig.add_vline(
            x=threshold,
            line={"color": "#222", "dash": "dash", "width": 2},
            annotation_text=f"threshold {threshold:.3g}",
            annotation_position="top right",
        )
    return _layout(
        fig,
        "Probability of being fake",
        barmode="overlay",
        xaxis={"title": "P(fake)", "range": [0, 1]},
        # The axis starts below 1 so that a bin of one user still shows as a bar.
        yaxis={
            "title": "users (log scale)",
            "type": "log",
            "dtick": 1,
            "range": [np.log10(0.5), np.log10(highest * 2)],
        },
    )


def _resample(x: np.ndarray, y: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``points`` points of a curve, keeping its first and last point."""
    if x.size <= points:
        return x, y
    keep = np.unique(np.linspace(0, x.size - 1, points).round().astype(np.int64))
    return x[keep], y[keep]


def roc_figure(y: ArrayLike, p: ArrayLike, auc: float | None = None) -> go.Figure:
    """ROC curve (true positive rate against false positive rate)."""
    fpr, tpr, _ = roc_curve(y, p)
    fpr, tpr = _resample(fpr, tpr, _CURVE_POINTS)
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line={"color": _GREY, "dash": "dot"}, name="chance"
    )
    fig.add_scatter(x=fpr, y=tpr, mode="lines", line={"color": _ACCENT, "width": 2}, name="model")
    title = "ROC curve" if auc is None else f"ROC curve (AUC {auc:.3f})"
    return _layout(
        fig,
        title,
        xaxis={"title": "false positive rate (real users flagged)", "range": [0, 1]},
        yaxis={"title": "true positive rate (fakes caught)", "range": [0, 1.02]},
        showlegend=False,
    )


def precision_recall_figure(y: ArrayLike, p: ArrayLike, ap: float | None = None) -> go.Figure:
    """Precision against recall, with the share of fakes (a random model's precision)."""
    y = np.asarray(y)
    precision, recall, _ = precision_recall_curve(y, p)
    recall, precision = _resample(recall, precision, _CURVE_POINTS)
    base = float(np.mean(y)) if y.size else 0.0
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1], y=[base, base], mode="lines", line={"color": _GREY, "dash": "dot"}, name="chance"
    )
    fig.add_scatter(
        x=recall, y=precision, mode="lines", line={"color": _ACCENT, "width": 2}, name="model"
    )
    title = "Precision and recall" if ap is None else f"Precision and recall (AP {ap:.3f})"
    return _layout(
        fig,
        title,
        xaxis={"title": "recall (share of fakes caught)", "range": [0, 1]},
        yaxis={"title": "precision (share of flagged that are fake)", "range": [0, 1.02]},
        showlegend=False,
    )


def reliability_figure(y: ArrayLike, p: ArrayLike, bins: int = 10) -> go.Figure:
    """Observed fake rate against predicted probability: on the diagonal when calibrated.

    Each point is labelled with the number of users in its bin (and sized by it): a point of
    a few users is noise.
    """
    table = [row for row in reliability_table(y, p, bins) if row["users"]]
    fig = go.Figure()
    fig.add_scatter(
        x=[0, 1],
        y=[0, 1],
        mode="lines",
        line={"color": _GREY, "dash": "dot"},
        name="perfectly calibrated",
    )
    users = np.array([row["users"] for row in table], dtype=np.float64)
    fig.add_scatter(
        x=[row["mean_predicted"] for row in table],
        y=[row["observed_fake_rate"] for row in table],
        mode="lines+markers+text",
        line={"color": _ACCENT, "width": 2},
        marker={"size": 6 + 14 * np.sqrt(users / users.max()) if users.size else 6},
        # How many users each point rests on, readable without hovering.
        text=[f"{int(n):,}" for n in users],
        # Left of the line, except near 0 where the label would leave the plot.
        textposition=[
            "middle right" if row["mean_predicted"] < 0.1 else "top left" for row in table
        ],
        cliponaxis=False,
        textfont={"size": 10, "color": _GREY},
        customdata=users,
        hovertemplate="predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata:,} users"
        "<extra></extra>",
        name="model",
    )
    return _layout(
        fig,
        "Reliability (calibration)",
        xaxis={"title": "mean predicted P(fake) in the bin", "range": [0, 1]},
        yaxis={"title": "observed share of fakes", "range": [0, 1.02]},
        showlegend=False,
    )


def _feature_label(feature: str) -> str:
    """A feature's name as the explanations write it (``describe`` without the value)."""
    return describe(feature, np.nan).removesuffix(" missing")


def importance_figure(
    importance: pd.Series, title: str, x_title: str | None = None, top: int = 15
) -> go.Figure:
    """Horizontal bars of the ``top`` largest values, largest on top, features by name."""
    shown = importance.sort_values(key=np.abs, ascending=False).head(top)[::-1]
    fig = go.Figure(
        go.Bar(
            x=shown.to_numpy(),
            y=[_feature_label(str(name)) for name in shown.index],
            orientation="h",
            marker_color=[_FAKE if v > 0 else _REAL for v in shown.to_numpy()],
            customdata=[str(name) for name in shown.index],
            hovertemplate="%{y} (%{customdata}): %{x:.3f}<extra></extra>",
        )
    )
    return _layout(
        fig,
        title,
        xaxis_title=x_title,
        height=max(_HEIGHT, 26 * len(shown) + 80),
        showlegend=False,
    )


def _at_thresholds(curve: CostCurve, costs: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cost of flagging ``p >= g`` for each ``g`` of ``grid`` (thresholds are descending)."""
    idx = np.searchsorted(-curve.thresholds, -grid, side="right") - 1
    return costs[np.clip(idx, 0, costs.size - 1)]


def _x_anchor(x: float) -> str:
    """Anchor a label on the side of ``x`` that keeps its text inside the plot."""
    return "left" if x < 0.5 else "right"


def cost_curve_figure(
    curve: CostCurve,
    cost_fp: float,
    cost_fn: float,
    threshold: float | None,
    optimum: tuple[float, float] | None = None,
) -> go.Figure:
    """Expected (and, with labels, realised) cost of every threshold.

    The curve is evaluated exactly at :data:`_CURVE_POINTS` thresholds between 0 and 1, so
    its size does not grow with the number of users. The current threshold and the optimum
    (exact, from :meth:`CostCurve.optimum`) are marked; pass ``optimum=None`` when the curve
    has no real minimum, and no star is drawn.

    The cost axis stops at three times the larger of the lowest cost and the current
    threshold's cost (or at the highest cost, if lower): flagging everyone or nobody usually
    costs far more than anything sensible, and an axis scaled to that flattens the region
    where the decision is made. Plotly's "Autoscale" shows the whole curve.
    """
    grid = np.linspace(0.0, 1.0, _CURVE_POINTS)
    fig = go.Figure()
    shown = [curve.expected_costs(cost_fp, cost_fn)]
    fig.add_scatter(
        x=grid,
        y=_at_thresholds(curve, shown[0], grid),
        mode="lines",
        name="expected cost",
        line={"color": _ACCENT, "width": 2, "shape": "hv"},
    )
    if curve.fp is not None:
        shown.append(curve.realised_costs(cost_fp, cost_fn))
        fig.add_scatter(
            x=grid,
            y=_at_thresholds(curve, shown[1], grid),
            mode="lines",
            name="realised cost (labels)",
            line={"color": _FAKE, "width": 2, "shape": "hv"},
        )
    highest = max(float(np.max(trace.y)) for trace in fig.data)
    marked = [] if optimum is None else [optimum[1]]
    if threshold is not None:
        marked += [float(_at_thresholds(curve, c, np.array([threshold]))[0]) for c in shown]
    focus = 3 * max(marked, default=0.0)
    # Headroom above the focus so that the labels at the top do not cover the curve.
    upper = 1.15 * max(min(highest, focus) if focus > 0 else highest, 1e-9)
    if optimum is not None:
        x = min(optimum[0], 1.0)
        fig.add_scatter(
            x=[x],
            y=[optimum[1]],
            mode="markers",
            marker={"color": "#222", "size": 11, "symbol": "star"},
            name="lowest cost",
            hovertemplate="lowest cost %{y:,.2f} at threshold %{x:.3g}<extra></extra>",
        )
        # Below the star, where the curve it minimises cannot be, unless the star is too
        # close to the axis; the current threshold's label is at the top: they never overlap.
        below = optimum[1] > upper / 6
        fig.add_annotation(
            x=x,
            y=optimum[1],
            text=f"optimum {optimum[0]:.3g}",
            showarrow=False,
            xanchor=_x_anchor(x),
            yanchor="top" if below else "bottom",
            yshift=-8 if below else 8,
            bgcolor="rgba(255,255,255,0.8)",
        )
    if threshold is not None:
        fig.add_vline(x=threshold, line={"color": "#222", "dash": "dash", "width": 2})
        fig.add_annotation(
            x=threshold,
            y=1,
            yref="paper",
            text=f"current {threshold:.3g}",
            showarrow=False,
            xanchor=_x_anchor(threshold),
            yanchor="top",
            xshift=4 if _x_anchor(threshold) == "left" else -4,
            bgcolor="rgba(255,255,255,0.8)",
        )
    return _layout(
        fig,
        "Cost of each threshold",
        xaxis={"title": "threshold: flag users with P(fake) ≥ this", "range": [0, 1]},
        yaxis={"title": "cost", "range": [0, upper]},
    )


def confusion_figure(outcome: Outcome) -> go.Figure:
    """The 2x2 confusion matrix of a decision: users by label and by decision."""
    z = [[outcome.tn, outcome.fp], [outcome.fn, outcome.tp]]
    text = [
        [f"{outcome.tn:,}<br>real, let through", f"{outcome.fp:,}<br>real, blocked"],
        [f"{outcome.fn:,}<br>fake, missed", f"{outcome.tp:,}<br>fake, caught"],
    ]
    fig = go.Figure(
        go.Heatmap(
            z=np.log1p(np.array(z, dtype=np.float64)),
            x=["let through", "flagged"],
            y=["real", "fake"],
            text=text,
            texttemplate="%{text}",
            hoverinfo="skip",
            colorscale=[[0, "#F4F6F8"], [1, "#9CC3D5"]],
            showscale=False,
        )
    )
    return _layout(
        fig,
        "Confusion matrix",
        xaxis={"title": "decision", "side": "bottom"},
        yaxis={"title": "label", "autorange": "reversed"},
    )


def timeline_figure(rows: dict[str, np.ndarray], max_points: int = 2_000) -> go.Figure:
    """One user's events in order: against time when timestamps exist, else row order."""
    events = np.asarray(rows["Event"], dtype=object)[:max_points]
    categories = np.asarray(rows["Category"], dtype=object)[:max_points]
    has_time = "Timestamp" in rows and not np.isnan(rows["Timestamp"][:max_points]).all()
    if has_time:
        x = pd.to_datetime(np.asarray(rows["Timestamp"][:max_points]), unit="s", utc=True)
        x_title = "time (UTC)"
    else:
        x = np.arange(1, events.size + 1)
        x_title = "position in the log (no timestamps)"
    fig = go.Figure()
    fig.add_scatter(
        x=x, y=events, mode="lines", line={"color": "#D0D0D5", "width": 1}, showlegend=False
    )
    for i, category in enumerate(pd.unique(categories)):
        sel = categories == category
        fig.add_scatter(
            x=x[sel],
            y=events[sel],
            mode="markers",
            name=str(category),
            marker={"color": _CATEGORY_COLORS[i % len(_CATEGORY_COLORS)], "size": 9},
            hovertemplate="%{x}<br>%{y}<extra>" + str(category) + "</extra>",
        )
    shown = "" if len(rows["Event"]) <= max_points else f" (first {max_points:,})"
    return _layout(
        fig,
        f"Event sequence{shown}",
        xaxis_title=x_title,
        yaxis={"title": None, "categoryorder": "category ascending"},
    )


def user_mix_figure(values: ArrayLike, population: dict[str, int], title: str) -> go.Figure:
    """One user's share of each value (event or category) against the population's."""
    names = list(population)
    user = pd.Series(np.asarray(values, dtype=object)).value_counts()
    for extra in user.index:
        if extra not in population:
            names.append(extra)
    user_share = user.reindex(names, fill_value=0).to_numpy() / max(int(user.sum()), 1)
    total = max(sum(population.values()), 1)
    pop_share = np.array([population.get(n, 0) / total for n in names])
    fig = go.Figure()
    fig.add_bar(x=names, y=pop_share, name="all users", marker_color=_GREY)
    fig.add_bar(x=names, y=user_share, name="this user", marker_color=_ACCENT)
    return _layout(fig, title, barmode="group", yaxis={"title": "share", "tickformat": ".0%"})


def contributions_figure(contrib: pd.Series, values: pd.Series, top: int = 6) -> go.Figure:
    """The features pushing one user's probability up (red) and down (blue) the most."""
    up = contrib[contrib > 0].nlargest(top)
    down = contrib[contrib < 0].nsmallest(top)
    shown = pd.concat([down[::-1], up[::-1]]).sort_values()
    labels = [describe(name, values[name]) for name in shown.index]
    fig = go.Figure(
        go.Bar(
            x=shown.to_numpy(),
            y=labels,
            orientation="h",
            marker_color=[_FAKE if v > 0 else _REAL for v in shown.to_numpy()],
            hovertemplate="%{y}: %{x:+.2f} log-odds<extra></extra>",
        )
    )
    return _layout(
        fig,
        "What pushes this user's probability up (red) or down (blue)",
        xaxis_title="contribution to the log-odds of being fake",
        height=max(_HEIGHT, 28 * len(shown) + 90),
        showlegend=False,
    )
