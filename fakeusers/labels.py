"""A log's ``Fake`` column as labels: 0/1 per row, then one label per user.

``Fake`` is a property of the user, written on each of the user's rows. A value that is not
0 or 1 is refused with its line; a column left empty on every row (an export template's)
makes the log unlabelled; a user with both labels is kept, marked -1, and named, so that
scoring still works and training can refuse the log.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fakeusers.encoding import count_codes
from fakeusers.errors import FakeusersError
from fakeusers.quoting import EXAMPLES, quote, shown

__all__ = ["row_labels", "user_labels"]

_TRUE = {"1", "1.0", "true", "yes"}
_FALSE = {"0", "0.0", "false", "no"}
_CONFLICTS_KEPT = 100  # users with both labels named in the report


def row_labels(
    codes: np.ndarray,
    values: np.ndarray,
    keep: np.ndarray,
    locate: Callable[[int], tuple[str, int]],
    files: list[str],
) -> tuple[np.ndarray | None, str | None]:
    """Each row's label (1 fake, 0 real), or None with a warning when the column is empty.

    Parameters
    ----------
    codes, values : numpy.ndarray
        The dictionary-encoded ``Fake`` column: per-row codes into stripped distinct values.
    keep : numpy.ndarray of bool
        The rows that count (a repeated header line carries no label).
    locate : callable
        Row number to ``(file name, line number)``, for the error.
    files : list of str
        The files' names, for the warning.

    Returns
    -------
    labels : numpy.ndarray of int8 or None
        Per row; None when ``Fake`` is empty on every kept row.
    warning : str or None
        Why the log is read as unlabelled.

    Raises
    ------
    FakeusersError
        When a kept row's ``Fake`` is neither 0 nor 1; names the first such line.
    """
    lowered = [v.lower() for v in values]
    bad = np.array([v not in _TRUE and v not in _FALSE for v in lowered])
    bad_rows = bad[codes] & keep
    if not bad_rows.any():
        return np.array([v in _TRUE for v in lowered], dtype=np.int8)[codes], None
    blank = np.array([v == "" for v in values])
    if (blank[codes] | ~keep).all():
        return None, (
            f"{', '.join(files)}: the Fake column is empty on every row, so the log "
            "is read as unlabelled (it can be scored, not used for training)."
        )
    first = int(np.flatnonzero(bad_rows)[0])
    file_name, line = locate(first)
    value = values[codes[first]]
    raise FakeusersError(
        f"{file_name} line {line}: Fake is {quote(value) if value else 'empty'}, "
        f"but must be 0 (real user) or 1 (fake user) on every row "
        f"({int(bad_rows.sum()):,} rows differ). Fix those values, or remove the "
        "Fake column to score the log without labels."
    )


def user_labels(
    user_codes: np.ndarray,
    labels: np.ndarray,
    user_ids: np.ndarray,
    rows_per_user: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str], str | None]:
    """One label per user from the rows' labels: 1 fake, 0 real, -1 both.

    Parameters
    ----------
    user_codes : numpy.ndarray of int32
        Per row, the user's code into ``user_ids``.
    labels : numpy.ndarray of int8
        Per row, 0 or 1.
    user_ids : numpy.ndarray of str
        The distinct user IDs.
    rows_per_user : numpy.ndarray, optional
        How many rows each user has, when the caller counted them already.

    Returns
    -------
    labels : numpy.ndarray of int8
        Per user.
    conflicts : list of str
        The first users with both labels (at most 100).
    warning : str or None
        How many users have both labels, when any do.
    """
    n_users = len(user_ids)
    if rows_per_user is None:
        rows_per_user = count_codes(user_codes, n_users)
    # per user, how many rows say 1 (counted among those rows only), and how many say 0
    ones = count_codes(user_codes[labels.astype(bool)], n_users)
    zeros = rows_per_user - ones
    per_user = (ones > 0).astype(np.int8)
    conflict = (ones > 0) & (zeros > 0)
    per_user[conflict] = -1
    conflicts = user_ids[conflict][:_CONFLICTS_KEPT].tolist()
    warning = None
    if conflict.any():
        warning = (
            f"{int(conflict.sum()):,} users have both Fake=0 and Fake=1 rows "
            f"(e.g. {shown(conflicts[:EXAMPLES])}); training will refuse "
            "this log until each user has one label."
        )
    return per_user, conflicts, warning
