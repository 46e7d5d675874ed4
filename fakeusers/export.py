"""The flagged-users list: ranked highest risk first, written as CSV that is safe in a spreadsheet.

Analysts open the list in a spreadsheet. A spreadsheet runs a cell as a formula when its text
starts with ``=``, ``+``, ``-`` or ``@`` (some also after a leading tab or carriage return),
and user IDs and event names come from the uploaded logs, which an attacker can write: an ID
such as ``=HYPERLINK("http://evil.example","x")`` would run on the analyst's machine. As the
OWASP "CSV Injection" guidance recommends, every *text* cell that starts with one of those
characters gets a leading apostrophe, which spreadsheets read as "this is text" and do not
show. Number cells stay plain numbers, so sorting and sums still work.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "COLUMNS",
    "FORMULA_PREFIXES",
    "REASON_COLUMNS",
    "flagged_table",
    "neutralise",
    "rank_flagged",
    "table_in_parts",
    "to_csv",
]

#: Characters that make a spreadsheet treat a cell as a formula (OWASP CSV Injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

#: The reason columns: the three features that push a user towards fake the most, in words.
REASON_COLUMNS = ("reason_1", "reason_2", "reason_3")
#: Above this many flagged users a dashboard builds the list on request, showing progress:
#: with a boosting model's reasons it takes about a millisecond per user (100 s for 100k).
BUILD_ON_REQUEST = 2_000
#: A list built in parts has at most this many parts (each part has a fixed cost) ...
MAX_PARTS = 20
#: ... of at least this many users.
MIN_PART = 5_000

#: Columns of the flagged-users table, in order.
COLUMNS = ("UserId", "is_fake_probability", "events", "why", *REASON_COLUMNS)


def neutralise(text: str) -> str:
    """Return ``text`` with a leading apostrophe if a spreadsheet would run it as a formula.

    Examples
    --------
    >>> neutralise("=1+2"), neutralise("-5"), neutralise("12345")
    ("'=1+2", "'-5", '12345')
    """
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def rank_flagged(p: ArrayLike, flagged: ArrayLike, order: ArrayLike | None = None) -> np.ndarray:
    """Return the indices of the flagged users, highest probability first.

    Parameters
    ----------
    p : array-like of float, shape (n,)
        Probability that each user is fake.
    flagged : array-like of bool, shape (n,)
        Which users are flagged.
    order : array-like of int, shape (n,), optional
        All users by descending probability, ties in log order
        (``numpy.argsort(-p, kind="stable")``). Pass it when it is already known, to make
        this O(n) instead of a sort.

    Returns
    -------
    numpy.ndarray of int
        Indices into ``p`` of the flagged users; among equal probabilities, log order.

    Examples
    --------
    >>> rank_flagged([0.2, 0.9, 0.5, 0.9], [False, True, True, True]).tolist()
    [1, 3, 2]
    """
    p = np.asarray(p, dtype=np.float64)
    flags = np.asarray(flagged, dtype=bool)
    ranked = np.argsort(-p, kind="stable") if order is None else np.asarray(order)
    return ranked[flags[ranked]]


def flagged_table(
    user_ids: ArrayLike,
    p: ArrayLike,
    n_events: ArrayLike,
    idx: ArrayLike,
    reasons: list[list[str]] | None = None,
    why: ArrayLike | None = None,
) -> pd.DataFrame:
    """Rows of the flagged-users table for the users ``idx``, in that order.

    Parameters
    ----------
    user_ids, p, n_events : array-like, shape (n,)
        Per user: ID, probability of being fake, number of events in the log.
    idx : array-like of int
        Which users, in display order (typically a slice of :func:`rank_flagged`).
    reasons : list of list of str, optional
        Up to three reasons of each user of ``idx``, strongest first (the ``text`` of
        :func:`fakeusers.reasons.explain_in_words`). Without it the table has no reason
        columns.
    why : array-like of str, optional
        Per user of ``idx``: ``model``, ``confirmed fake`` or ``cleared`` (an analyst's
        verdict); without it the table has no ``why`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``UserId, is_fake_probability, events``, ``why`` with ``why``, and with
        reasons ``reason_1`` to ``reason_3`` (empty where a user has fewer reasons).
    """
    idx = np.asarray(idx, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "UserId": np.asarray(user_ids)[idx].astype(str),
            "is_fake_probability": np.asarray(p, dtype=np.float64)[idx],
            "events": np.asarray(n_events, dtype=np.int64)[idx],
        }
    )
    if why is not None:
        frame["why"] = pd.Series(np.asarray(why, dtype=object), dtype=object)
    if reasons is not None:
        if len(reasons) != len(idx):
            raise ValueError(f"{len(reasons)} reasons for {len(idx)} users")
        for r, name in enumerate(REASON_COLUMNS):
            frame[name] = pd.Series([rs[r] if r < len(rs) else "" for rs in reasons], dtype=object)
    return frame


def to_csv(frame: pd.DataFrame, *, for_spreadsheets: bool = True) -> bytes:
    """Write a table as UTF-8 CSV (RFC 4180) with formula-like text cells neutralised.

    Numeric and boolean columns are written as they are; every other column is text, and
    each of its cells goes through :func:`neutralise`. Missing text stays empty. Lines end
    in CRLF, so a cell holding a line break or a carriage return is always quoted and stays
    one cell. With ``for_spreadsheets=False`` no cell is changed: the file is for tools that
    need the exact IDs (a blocking tool), never to be opened in a spreadsheet.

    Examples
    --------
    >>> to_csv(pd.DataFrame({"UserId": ["=1+2", "7"], "p": [0.5, -1.0]})).decode()
    "UserId,p\\r\\n'=1+2,0.5\\r\\n7,-1.0\\r\\n"
    """
    safe = frame.copy()
    for name in safe.columns if for_spreadsheets else ():
        column = safe[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        safe[name] = column.map(lambda v: v if pd.isna(v) else neutralise(str(v))).astype(object)
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def table_in_parts(
    users: ArrayLike,
    table: Callable[[np.ndarray], pd.DataFrame],
    *,
    part: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """``table(users)``, built ``part`` users at a time, saying how far it has got.

    For a long list whose rows are slow to build (each user's reasons), so that a face can
    show progress instead of freezing. Rows do not depend on each other, so the result is
    the table of all users at once.

    Parameters
    ----------
    users : array-like of int
        The users, in the table's order.
    table : callable
        Builds the rows of some users (``ScoredLog.table`` with reasons, for example).
    part : int, optional
        Users per call of ``table``; by default :data:`MIN_PART`, or more so as to make at
        most :data:`MAX_PARTS` parts.
    progress : callable, optional
        Called after each part with the users done and the total.

    Examples
    --------
    >>> done = []
    >>> rows = lambda idx: pd.DataFrame({"user": idx})
    >>> built = table_in_parts([5, 6, 7], rows, part=2, progress=lambda d, n: done.append(d))
    >>> built["user"].tolist()
    [5, 6, 7]
    >>> done
    [2, 3]
    """
    users = np.asarray(users, dtype=np.int64)
    if part is None:
        part = max(MIN_PART, -(-users.size // MAX_PARTS))
    if part < 1:
        raise ValueError(f"part must be at least 1; got {part}")
    frames = []
    for start in range(0, users.size, part):
        frames.append(table(users[start : start + part]))
        if progress is not None:
            progress(min(start + part, users.size), users.size)
    if not frames:
        return table(users)
    return pd.concat(frames, ignore_index=True)
