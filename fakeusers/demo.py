"""Deterministic synthetic click logs that behave like real marketplace exports.

The dashboard's offline demo, the command line's ``demo-data`` and the tests all
need labelled logs without shipping real users' data. The logs generated here
follow the proportions of real exports (about 5,000 users per 100,000 rows, 15
to 50 events per user, about 6% fake users making about 10% of the rows) and,
more importantly, their difficulty: fake users partly imitate real ones and
some real users click ads heavily, so a good model ranks users well (ROC AUC
about 0.99) while its average precision stays well below 1. A generator whose
classes separate perfectly would make every threshold look free.

Everything is vectorised with numpy and pyarrow, so ten million events take
seconds, and a given set of arguments always yields the same table.
"""

from __future__ import annotations

import os
import pathlib
import secrets

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from fakeusers.errors import FakeusersError
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS

__all__ = ["generate_log", "write_demo_csv"]

_MIN_EVENTS = 100
# Generation holds about 120 bytes per event in memory; the cap turns a typo
# into an error message rather than an exhausted machine.
_MAX_EVENTS = 100_000_000


def _profile(names: tuple[str, ...], shares: dict[str, float]) -> np.ndarray:
    """Shares by name as an array in the order of ``names``; a name left out is an error."""
    return np.array([shares[name] for name in names])


# The parameters below are tuned so that a logistic regression on per-user event
# and category shares reaches ROC AUC about 0.98 and average precision about 0.8
# on 100k events, and the product's full feature set about 0.99 and 0.87-0.9;
# tests/test_demo.py holds the generator to that.

_MIN_PER_USER = 15
_MAX_PER_USER = 50
_FAKE_USER_SHARE = 0.06
# Events per user beyond the minimum are beta-binomial: real users mostly do a
# few more than 15 (median about 19), fakes spread over the whole range, so that
# fakes make about 10% of the rows. A few heavy real users keep the number of
# events from giving fakes away on its own.
_EXTRA_BETA_REAL = (2.0, 14.0)
_EXTRA_BETA_HEAVY = (4.0, 1.5)
_EXTRA_BETA_FAKE = (1.4, 1.0)
_HEAVY_REAL_SHARE = 0.05

# Event mixes. Real users hover around 20% each; some are ad-clickers, half of
# the heavy ones among them. The fake profile over-uses click_ad and send_email,
# and each fake blends it with a real-user mix with a random weight. Both make
# the classes overlap as in real logs.
_EVENT_BASE_REAL = np.full(len(KNOWN_EVENTS), 1 / len(KNOWN_EVENTS))
_EVENT_BASE_AD_CLICKER = _profile(
    KNOWN_EVENTS,
    {
        "click_ad": 0.41,
        "click_carrousel": 0.12,
        "phone_call": 0.12,
        "send_email": 0.23,
        "send_sms": 0.12,
    },
)
_EVENT_BASE_FAKE = _profile(
    KNOWN_EVENTS,
    {
        "click_ad": 0.5,
        "click_carrousel": 0.03,
        "phone_call": 0.02,
        "send_email": 0.43,
        "send_sms": 0.02,
    },
)
_AD_CLICKER_SHARE = 0.06
_AD_CLICKER_SHARE_HEAVY = 0.5
_EVENT_CONCENTRATION_REAL = 30.0
_EVENT_CONCENTRATION_FAKE = 40.0
_FAKE_WEIGHT_BETA = (6.0, 1.5)

# Categories carry only a mild signal: fakes lean a little towards Phone and Jobs.
_CATEGORY_BASE_REAL = _profile(
    KNOWN_CATEGORIES,
    {
        "Phone": 0.18,
        "Motor": 0.2,
        "Jobs": 0.15,
        "Leisure": 0.16,
        "Holidays": 0.14,
        "Real_State": 0.17,
    },
)
_CATEGORY_BASE_FAKE = _profile(
    KNOWN_CATEGORIES,
    {
        "Phone": 0.22,
        "Motor": 0.19,
        "Jobs": 0.2,
        "Leisure": 0.13,
        "Holidays": 0.11,
        "Real_State": 0.15,
    },
)
_CATEGORY_CONCENTRATION = 20.0

# Time: one five-minute window. Gaps between a user's actions are exponential
# around a per-user typical gap; fakes are faster on average, with overlap.
_WINDOW_START_MS = 1_795_514_400_000  # 2026-11-24T10:00:00.000Z
_WINDOW_MS = 300_000
_MAX_SPAN_MS = 290_000
_GAP_MEDIAN_MS_REAL = 6_000.0
_GAP_MEDIAN_MS_FAKE = 4_000.0
_GAP_SIGMA = 0.5


def generate_log(n_events: int = 100_000, *, seed: int = 0, timestamps: bool = False) -> pa.Table:
    """Generate a labelled synthetic click log.

    Parameters
    ----------
    n_events : int, default 100_000
        Number of rows of the log, at least 100. Users scale with it (about
        5,000 per 100,000 rows).
    seed : int, default 0
        Seed for :func:`numpy.random.default_rng`; the same arguments always
        give the same table.
    timestamps : bool, default False
        Add a ``Timestamp`` column (ISO 8601 UTC with milliseconds, all in one
        five-minute window). Rows come in time order either way, so the table
        with timestamps is the table without them plus one column.

    Returns
    -------
    pyarrow.Table
        Columns ``UserId`` (string, 8 digits), ``Event`` (string), ``Category``
        (string), ``Fake`` (int8, 1 for a fake user) and, if requested,
        ``Timestamp`` (string). Users' actions interleave as in a real log.

    Raises
    ------
    FakeusersError
        If ``n_events``, ``seed`` or ``timestamps`` is not valid.

    Notes
    -----
    Ten million events with timestamps take about 4 seconds and 1.2 GB of
    memory on one core.

    Examples
    --------
    >>> log = generate_log(1_000, seed=1, timestamps=True)
    >>> log.num_rows
    1000
    >>> log.column_names
    ['UserId', 'Event', 'Category', 'Fake', 'Timestamp']
    """
    _check_arguments(n_events, seed, timestamps)
    n_events = int(n_events)
    rng = np.random.default_rng(seed)

    counts, fake, heavy = _draw_users(rng, n_events)
    n_users = counts.size
    user_ids = rng.choice(90_000_000, size=n_users, replace=False) + 10_000_000

    event_probs = _event_mixes(rng, fake, heavy)
    category_probs = _category_mixes(rng, fake)

    row_user = np.repeat(np.arange(n_users, dtype=np.int32), counts)
    event_codes = _sample_rows(rng, event_probs, row_user)
    category_codes = _sample_rows(rng, category_probs, row_user)
    offset_ms = _row_times(rng, counts, fake, row_user)

    # Unique sort keys make the order independent of the sorting algorithm,
    # which numpy may pick per CPU.
    order = np.argsort(offset_ms * n_events + np.arange(n_events))
    row_user = row_user[order]
    columns = {
        "UserId": pc.take(pa.array(user_ids).cast(pa.string()), pa.array(row_user)),
        "Event": _decode(event_codes[order], KNOWN_EVENTS),
        "Category": _decode(category_codes[order], KNOWN_CATEGORIES),
        "Fake": pa.array(fake[row_user].astype(np.int8)),
    }
    if timestamps:
        columns["Timestamp"] = _timestamp_strings(offset_ms[order])
    return pa.table(columns)


def write_demo_csv(
    path: str | os.PathLike[str],
    *,
    n_events: int = 100_000,
    seed: int = 0,
    timestamps: bool = False,
) -> pathlib.Path:
    """Generate a synthetic log with :func:`generate_log` and write it as CSV.

    The file is written atomically: to a temporary file in the same folder,
    then renamed, so a reader never sees half a file and a failure leaves the
    previous file, if any, untouched.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write. A name ending in ``.gz`` (such as ``demo.csv.gz``) is
        gzip-compressed. The folder must exist.
    n_events : int, default 100_000
        Number of rows, at least 100.
    seed : int, default 0
        Seed of the generator.
    timestamps : bool, default False
        Add a ``Timestamp`` column.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FakeusersError
        If an argument is not valid or the folder does not exist.

    Examples
    --------
    >>> write_demo_csv("data/demo.csv", timestamps=True)  # doctest: +SKIP
    PosixPath('data/demo.csv')
    """
    target = pathlib.Path(path)
    if target.is_dir():
        raise FakeusersError(
            f"{target} is a folder; pass a file name such as {target / 'demo.csv'}."
        )
    if not target.parent.is_dir():
        raise FakeusersError(
            f"Folder {target.parent} does not exist; create it first or write to "
            "an existing folder."
        )
    table = generate_log(n_events, seed=seed, timestamps=timestamps)

    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        # Opening with "x" creates the file with the usual permissions, unlike
        # tempfile.mkstemp, whose 0600 would survive the rename.
        with open(temp, "xb") as raw:
            if target.name.lower().endswith(".gz"):
                with pa.CompressedOutputStream(raw, "gzip") as sink:
                    pa_csv.write_csv(table, sink, options)
            else:
                pa_csv.write_csv(table, raw, options)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _check_arguments(n_events: object, seed: object, timestamps: object) -> None:
    if isinstance(n_events, bool) or not isinstance(n_events, int | np.integer):
        raise FakeusersError(
            f"n_events must be a whole number, got {n_events!r}; pass for example n_events=100_000."
        )
    if not _MIN_EVENTS <= n_events <= _MAX_EVENTS:
        raise FakeusersError(
            f"n_events={n_events} is out of range; pass a number of events between "
            f"{_MIN_EVENTS:_} and {_MAX_EVENTS:_} (a real export has about 100_000)."
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise FakeusersError(
            f"seed must be a whole number >= 0, got {seed!r}; pass for example seed=0."
        )
    if not isinstance(timestamps, bool | np.bool_):
        raise FakeusersError(f"timestamps must be True or False, got {timestamps!r}.")


def _draw_users(
    rng: np.random.Generator, n_events: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw each user's number of events, whether it is fake and whether it is a
    heavy real user; the numbers of events add up to exactly ``n_events``."""
    n_draw = n_events // _MIN_PER_USER + 2  # enough users to exceed n_events
    # An exact share among the drawn users keeps the share steady across seeds.
    fake = rng.permutation(n_draw) < round(_FAKE_USER_SHARE * n_draw)
    heavy = ~fake & (rng.random(n_draw) < _HEAVY_REAL_SHARE)
    kind = np.where(fake, 2, heavy.astype(np.intp))
    a, b = np.array([_EXTRA_BETA_REAL, _EXTRA_BETA_HEAVY, _EXTRA_BETA_FAKE]).T[:, kind]
    counts = _MIN_PER_USER + rng.binomial(_MAX_PER_USER - _MIN_PER_USER, rng.beta(a, b))

    n_users = int(np.searchsorted(np.cumsum(counts), n_events, side="right"))
    rest = n_events - int(counts[:n_users].sum())
    if rest >= _MIN_PER_USER:
        # The rest makes one more, shorter user.
        counts[n_users] = rest
        n_users += 1
    elif rest > 0:
        counts = counts[:n_users]
        headroom = _MAX_PER_USER - counts
        if headroom.sum() >= rest:
            counts += _take_from_tail(headroom, rest)
        else:
            # Everyone is at the maximum: add a minimal user, paid for by the others.
            counts -= _take_from_tail(counts - _MIN_PER_USER, _MIN_PER_USER - rest)
            counts = np.append(counts, _MIN_PER_USER)
            n_users += 1
    return counts[:n_users], fake[:n_users], heavy[:n_users]


def _take_from_tail(capacity: np.ndarray, amount: int) -> np.ndarray:
    """Split ``amount`` over the last entries, each taking at most its ``capacity``."""
    reversed_capacity = capacity[::-1]
    before = np.cumsum(reversed_capacity) - reversed_capacity
    return np.clip(amount - before, 0, reversed_capacity)[::-1]


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha`` (numpy's takes a single alpha)."""
    draws = rng.standard_gamma(alpha)
    return draws / draws.sum(axis=1, keepdims=True)


def _event_mixes(rng: np.random.Generator, fake: np.ndarray, heavy: np.ndarray) -> np.ndarray:
    """Per-user probabilities of each event, shape (n_users, n_events)."""
    n_users = fake.size
    ad_clicker = rng.random(n_users) < np.where(heavy, _AD_CLICKER_SHARE_HEAVY, _AD_CLICKER_SHARE)
    real_base = np.where(ad_clicker[:, None], _EVENT_BASE_AD_CLICKER, _EVENT_BASE_REAL)
    real_mix = _dirichlet_rows(rng, _EVENT_CONCENTRATION_REAL * real_base)
    fake_mix = _dirichlet_rows(
        rng, np.broadcast_to(_EVENT_CONCENTRATION_FAKE * _EVENT_BASE_FAKE, real_mix.shape)
    )
    weight = np.where(fake, rng.beta(*_FAKE_WEIGHT_BETA, size=n_users), 0.0)[:, None]
    return weight * fake_mix + (1.0 - weight) * real_mix


def _category_mixes(rng: np.random.Generator, fake: np.ndarray) -> np.ndarray:
    """Per-user probabilities of each category, shape (n_users, n_categories)."""
    base = np.where(fake[:, None], _CATEGORY_BASE_FAKE, _CATEGORY_BASE_REAL)
    return _dirichlet_rows(rng, _CATEGORY_CONCENTRATION * base)


def _sample_rows(rng: np.random.Generator, probs: np.ndarray, row_user: np.ndarray) -> np.ndarray:
    """Draw one code per row from its user's probabilities (inverse CDF)."""
    cumulative = np.cumsum(probs[:, :-1], axis=1)
    u = rng.random(row_user.size)
    codes = np.zeros(row_user.size, dtype=np.int8)
    # One column at a time keeps memory at one float array per row.
    for column in cumulative.T:
        codes += u >= column[row_user]
    return codes


def _row_times(
    rng: np.random.Generator, counts: np.ndarray, fake: np.ndarray, row_user: np.ndarray
) -> np.ndarray:
    """Milliseconds since the window start of each row (rows grouped by user)."""
    median = np.where(fake, _GAP_MEDIAN_MS_FAKE, _GAP_MEDIAN_MS_REAL)
    typical_gap = median * np.exp(_GAP_SIGMA * rng.standard_normal(fake.size))
    gaps = rng.standard_exponential(row_user.size)
    first_row = np.cumsum(counts) - counts
    # A user's first action has no gap before it.
    gaps[first_row] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[first_row], counts)
    span = elapsed[first_row + counts - 1] * typical_gap
    # Users whose actions would not fit in the window act faster.
    scale = typical_gap * np.minimum(1.0, _MAX_SPAN_MS / np.maximum(span, 1.0))
    span = np.minimum(span, _MAX_SPAN_MS)
    start = rng.random(fake.size) * (_WINDOW_MS - 1 - span)
    return (np.repeat(start, counts) + elapsed * np.repeat(scale, counts)).astype(np.int64)


def _decode(codes: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    return pc.take(pa.array(names, pa.string()), pa.array(codes))


def _timestamp_strings(sorted_offset_ms: np.ndarray) -> pa.Array:
    """Format sorted offsets as ISO 8601 strings.

    Formatting is slow per value and a five-minute window holds at most
    300,000 distinct milliseconds, so each distinct value is formatted once.
    """
    is_new = np.empty(sorted_offset_ms.size, dtype=bool)
    is_new[0] = True
    np.not_equal(sorted_offset_ms[1:], sorted_offset_ms[:-1], out=is_new[1:])
    instants = pa.array(_WINDOW_START_MS + sorted_offset_ms[is_new], pa.timestamp("ms"))
    # At millisecond precision, %S prints seconds with their fraction: "03.123".
    distinct = pc.strftime(instants, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.take(distinct, pa.array(np.cumsum(is_new) - 1))
