"""Features per user, computed from an encoded :class:`~fakeusers.log.Log`.

One row per user, in the log's user order: counts and shares of every event and category of
the vocabulary (plus ``other`` for values the vocabulary does not know), total events,
distinct events and categories, switches between consecutive rows of the user, entropies,
the longest run of one event, and with timestamps the span, rate and gaps.

Everything is vectorised numpy over the per-row codes: ``bincount`` for counts, one counting
sort by user for the order-based features, ``reduceat`` for per-user maxima and minima. The
benchmark ``benchmarks/bench_predict.py`` compares it with DuckDB SQL and with the naive
pandas ``groupby().apply`` version.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fakeusers.encoding import compiled_pays
from fakeusers.errors import FakeusersError
from fakeusers.log import Log
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS
from fakeusers.sources import huge_array

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["OTHER", "Vocabulary", "featurize", "group_by_user"]

OTHER = "other"
#: Logs from this many rows are aggregated by compiled code (:func:`fakeusers.compiled.
#: aggregate`, one pass over the rows; about 0.04 s faster per million rows), smaller ones by
#: numpy (a counting sort by user): starting numba costs about 0.35 s of CPU. Once numba runs
#: in the process, from :data:`fakeusers.encoding.COMPILED_FROM` rows
#: (:func:`fakeusers.encoding.compiled_pays`). Both give the same numbers.
COMPILED_ROWS = 12_000_000


@dataclass(frozen=True)
class Vocabulary:
    """The events and categories a model knows, fixed at training and stored with it.

    Attributes
    ----------
    events, categories : tuple of str
        Known values; anything else is counted as ``other``.
    timestamps : bool
        Whether the model uses the timestamp features (span, rate, gaps).
    """

    events: tuple[str, ...]
    categories: tuple[str, ...]
    timestamps: bool

    @classmethod
    def from_log(cls, log: Log) -> Vocabulary:
        """The product's known values plus those seen in a training log."""
        events = tuple(KNOWN_EVENTS) + tuple(
            sorted(v for v in log.event_values if v not in KNOWN_EVENTS and v != OTHER)
        )
        categories = tuple(KNOWN_CATEGORIES) + tuple(
            sorted(v for v in log.category_values if v not in KNOWN_CATEGORIES and v != OTHER)
        )
        return cls(events, categories, log.timestamps is not None)

    def to_dict(self) -> dict:
        return {
            "events": list(self.events),
            "categories": list(self.categories),
            "timestamps": self.timestamps,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        return cls(tuple(data["events"]), tuple(data["categories"]), bool(data["timestamps"]))

    def feature_names(self) -> list[str]:
        """Column names of :func:`featurize`'s output, in order."""
        names = ["n_events", "n_distinct_events", "n_distinct_categories"]
        for prefix, values in (("event", self.events), ("category", self.categories)):
            for v in (*values, OTHER):
                names += [f"{prefix}_{v}_count", f"{prefix}_{v}_share"]
        names += [
            "event_switches",
            "category_switches",
            "event_switch_rate",
            "category_switch_rate",
            "event_entropy",
            "category_entropy",
            "longest_event_run",
        ]
        if self.timestamps:
            names += ["span_seconds", "events_per_minute", "median_gap_seconds", "min_gap_seconds"]
        return names


def _map_codes(codes: np.ndarray, values: list[str], known: tuple[str, ...]) -> np.ndarray:
    """Row codes into ``known + (other,)``; unknown values land on the last slot.

    In the smallest integer type that holds them: these per-row arrays are gathered and
    compared at every row.
    """
    index = {v: i for i, v in enumerate(known)}
    lookup = np.array([index.get(v, len(known)) for v in values], dtype=np.int64)
    return lookup.astype(np.min_scalar_type(len(known)))[codes]


def group_by_user(user_codes: np.ndarray, n_users: int) -> np.ndarray:
    """A stable permutation that puts each user's rows together, in their original order.

    A counting sort, in one pass over the rows: at 10M rows four times faster than the
    two 16-bit radix passes numpy offers (``argsort(kind="stable")`` on 16-bit keys).
    """
    # pandas' groupsort_indexer is that counting sort, in Cython (pandas is pinned: a
    # change of this internal fails tests/test_features.py, not silently).
    from pandas._libs.algos import groupsort_indexer

    order, _ = groupsort_indexer(np.asarray(user_codes, dtype=np.intp), n_users)
    return order


def _counts_per_user(u: np.ndarray, codes: np.ndarray, n_users: int, n_codes: int) -> np.ndarray:
    """How many rows of each user have each code: an ``(n_users, n_codes)`` array."""
    key = u.astype(np.intp)
    key *= n_codes
    key += codes
    return np.bincount(key, minlength=n_users * n_codes).reshape(n_users, n_codes)


def _entropy(counts: np.ndarray, totals: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):  # a user without rows has no shares
        share = counts / totals[:, None]
        terms = np.where(share > 0, share * np.log2(share), 0.0)
    return np.maximum(-terms.sum(axis=1), 0.0)


def featurize(log: Log, vocabulary: Vocabulary | None = None) -> pd.DataFrame:
    """One row of features per user.

    Parameters
    ----------
    log : Log
        The encoded log.
    vocabulary : Vocabulary, optional
        The model's vocabulary; by default the one :meth:`Vocabulary.from_log` builds.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``UserId`` (log order), columns ``vocabulary.feature_names()``.

    Raises
    ------
    FakeusersError
        When the vocabulary needs timestamps and the log has none.
    """
    vocab = vocabulary or Vocabulary.from_log(log)
    if vocab.timestamps and log.timestamps is None:
        raise FakeusersError(
            f"{', '.join(log.report.files)} has no usable Timestamp column, but this model was "
            "trained with timestamps. Use a log with timestamps, or a model trained without them "
            "(python -m fakeusers train LOGS --ignore-timestamps)."
        )
    n_users = log.n_users
    u = log.user_codes
    ev = _map_codes(log.event_codes, log.event_values, vocab.events)
    cat = _map_codes(log.category_codes, log.category_values, vocab.categories)
    totals = log.events_per_user
    names = vocab.feature_names()
    # One block in the model's column order, as pandas would consolidate it, each feature
    # written into its row once (55 x 470k floats at 10M rows).
    block = huge_array((len(names), n_users), np.float64)
    row = {name: block[i] for i, name in enumerate(names)}
    n_ev, n_cat = len(vocab.events) + 1, len(vocab.categories) + 1
    if log.n_rows >= COMPILED_ROWS or compiled_pays(log.n_rows):
        # one compiled pass over the rows gives the counts and the order-based features
        order_columns, ev_counts, cat_counts = _aggregated(u, ev, cat, n_users, n_ev, n_cat)
        order = functools.partial(_write_order_features, *order_columns.T, totals)
    else:
        ev_counts = functools.partial(_counts_per_user, u, ev, n_users, n_ev)
        cat_counts = functools.partial(_counts_per_user, u, cat, n_users, n_cat)
        order = functools.partial(_order_features, u, ev, cat, totals, vocab)
    # The order-based features (and the time features) on other threads while this one
    # counts: numpy and pandas' counting sort release Python's lock on large arrays.
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = [
            pool.submit(order, row),
            pool.submit(_count_features, "event", ev_counts, vocab.events, totals, row),
        ]
        if vocab.timestamps:
            parts.append(pool.submit(_time_features, u, log.timestamps, totals, n_users, row))
        _count_features("category", cat_counts, vocab.categories, totals, row)
        for part in parts:
            part.result()
    row["n_events"][:] = totals

    # pandas is imported here, not with the module: the command line reads a log while
    # pandas loads on another thread, and reading needs no pandas.
    import pandas as pd

    index = pd.Index(pd.array(log.user_id_text, dtype="str"), name="UserId")
    return pd.DataFrame(block.T, index=index, columns=names, copy=False)


def _aggregated(
    u: np.ndarray, ev: np.ndarray, cat: np.ndarray, n_users: int, n_ev: int, n_cat: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`fakeusers.compiled.aggregate` of all users, half of them on each of two
    threads: per user the switches and longest run (three columns), the event counts and
    the category counts."""
    from fakeusers.compiled import AGGREGATED, aggregate

    per_user = huge_array((n_users, AGGREGATED + n_ev + n_cat), np.int32)
    half = n_users // 2
    with ThreadPoolExecutor(max_workers=2) as pool:
        for part in [
            pool.submit(aggregate, u, ev, cat, n_ev, per_user, first, end)
            for first, end in ((0, half), (half, n_users))
        ]:
            part.result()
    counts = per_user[:, AGGREGATED:]
    return per_user[:, :3], counts[:, :n_ev], counts[:, n_ev:]


_DISTINCT = {"event": "n_distinct_events", "category": "n_distinct_categories"}


def _count_features(
    prefix: str,
    counts: np.ndarray | Callable[[], np.ndarray],
    values: tuple[str, ...],
    totals: np.ndarray,
    row: dict[str, np.ndarray],
) -> None:
    """How many distinct events (or categories) each user has, the count and share of each,
    and their entropy: written into ``row[feature name]``.

    ``counts`` holds each user's count of each value (one column per value, then ``other``),
    or counts them when called.
    """
    counts = counts() if callable(counts) else counts
    row[_DISTINCT[prefix]][:] = (counts > 0).sum(axis=1)
    for j, v in enumerate((*values, OTHER)):
        row[f"{prefix}_{v}_count"][:] = counts[:, j]
        with np.errstate(invalid="ignore"):  # a user without rows has no shares
            np.divide(counts[:, j], totals, out=row[f"{prefix}_{v}_share"])
    row[f"{prefix}_entropy"][:] = _entropy(counts, totals)


def _order_features(
    u: np.ndarray,
    ev: np.ndarray,
    cat: np.ndarray,
    totals: np.ndarray,
    vocab: Vocabulary,
    row: dict[str, np.ndarray],
) -> None:
    """Switches between consecutive rows of a user, their rates and the longest run of one
    event: written into ``row[feature name]``."""
    n_users = len(totals)
    n_ev, n_cat = len(vocab.events) + 1, len(vocab.categories) + 1
    # Rows of each user together, in log order. After grouping, user k owns rows
    # starts[k]:starts[k] + totals[k]; one packed event/category code is gathered instead of
    # three arrays (random gathers dominate the cost at 10M rows).
    order = group_by_user(u, n_users)
    # packed by bits, not by a product: a shift and a mask unpack it far faster than // and %
    shift = max(int(n_cat - 1).bit_length(), 1)
    code = ev.astype(np.min_scalar_type((n_ev << shift) - 1))
    code <<= shift
    code |= cat
    grouped = code[order]
    del order, code
    sev = grouped >> shift
    grouped &= (1 << shift) - 1
    scat = grouped
    present = totals > 0  # every user of a read log; subsets built by callers may have none
    starts = (np.cumsum(totals) - totals)[present]
    event_run_start = None
    switches = []
    for seq in (sev, scat):
        change = np.empty(len(seq), dtype=bool)
        change[:1] = True
        np.not_equal(seq[1:], seq[:-1], out=change[1:])
        change[starts] = True  # a user's first row starts a run and is no switch
        counts = np.zeros(n_users)
        if len(seq):
            counts[present] = np.add.reduceat(change, starts, dtype=np.int64) - 1
        switches.append(counts)
        if event_run_start is None:
            event_run_start = np.flatnonzero(change)

    longest = np.zeros(n_users)
    if len(sev):
        run_len = np.diff(event_run_start, append=len(sev))
        # each user's first row starts a run: its index among runs is the user's first run
        first_run = np.searchsorted(event_run_start, starts)
        longest[present] = np.maximum.reduceat(run_len, first_run)
    _write_order_features(*switches, longest, totals, row)


def _write_order_features(
    event_switches: np.ndarray,
    category_switches: np.ndarray,
    longest_event_run: np.ndarray,
    totals: np.ndarray,
    row: dict[str, np.ndarray],
) -> None:
    """The switches, their rates per pair of consecutive rows, and the longest run of one
    event, written into ``row[feature name]``."""
    pairs = np.maximum(totals - 1, 1)
    for name, switches in (("event", event_switches), ("category", category_switches)):
        row[f"{name}_switches"][:] = switches
        np.divide(switches, pairs, out=row[f"{name}_switch_rate"])
    row["longest_event_run"][:] = longest_event_run


def _time_features(
    u: np.ndarray, ts: np.ndarray, totals: np.ndarray, n_users: int, row: dict[str, np.ndarray]
) -> None:
    """Span, events per minute, median and minimum gap between a user's events (seconds),
    written into ``row[feature name]``.

    Users with a single event have no gap: their gaps are NaN (the models impute them).
    """
    # Logs are usually in time order already; then grouping by user keeps time order.
    if len(ts) > 1 and not (np.diff(ts) >= 0).all():
        by_time = np.argsort(ts, kind="stable")
        order = by_time[group_by_user(u[by_time], n_users)]
    else:
        order = group_by_user(u, n_users)
    su, st = u[order], ts[order]
    starts = np.flatnonzero(np.r_[True, su[1:] != su[:-1]])
    ends = np.r_[starts[1:], len(su)] - 1
    users = su[starts]
    span = np.zeros(n_users)
    span[users] = st[ends] - st[starts]

    same = su[1:] == su[:-1]
    gaps = (st[1:] - st[:-1])[same]
    gap_user = su[1:][same]
    min_gap = np.full(n_users, np.nan)
    median_gap = np.full(n_users, np.nan)
    if len(gaps):
        # gaps are grouped by user already; sort within each user for the median
        by_gap = np.argsort(gaps)
        g_order = by_gap[group_by_user(gap_user[by_gap], n_users)]
        g, gu = gaps[g_order], gap_user[g_order]
        g_start = np.flatnonzero(np.r_[True, gu[1:] != gu[:-1]])
        g_count = np.diff(np.r_[g_start, len(g)])
        g_users = gu[g_start]
        min_gap[g_users] = g[g_start]
        lo = g[g_start + (g_count - 1) // 2]
        hi = g[g_start + g_count // 2]
        median_gap[g_users] = (lo + hi) / 2
    row["span_seconds"][:] = span
    row["events_per_minute"][:] = totals / np.maximum(span, 1.0) * 60.0
    row["median_gap_seconds"][:] = median_gap
    row["min_gap_seconds"][:] = min_gap
