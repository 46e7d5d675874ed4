"""Rows that a log holds twice: users repeated whole across files, and copied rows.

Two exports of one marketplace often overlap: the same user with the same events in both.
:func:`repeated_rows` finds the users whose rows in a later file repeat their rows in an
earlier one (hash sums pick candidates, an exact comparison decides), and
:func:`count_duplicate_rows` counts rows that repeat another exactly. Both note what they find
in the load report; :func:`fakeusers.reading.read_logs` decides what to keep.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from fakeusers.log import LoadReport

__all__ = ["count_duplicate_rows", "duplicate_rows_warning", "repeated_rows"]

_HASH_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0xFF51AFD7ED558CCD)
# Two 26-bit parts of a row hash: their sums over a user's rows in a file stay exact in a
# float64 (bincount's sums) up to 2**27 rows.
_LIMB_BITS = 26


def repeated_rows(
    user_codes: np.ndarray,
    event_codes: np.ndarray,
    category_codes: np.ndarray,
    labels: np.ndarray | None,
    timestamps: np.ndarray | None,
    keep: np.ndarray,
    file_of_row: np.ndarray,
    report: LoadReport,
) -> np.ndarray:
    """The kept rows of users whose rows in a file repeat their rows in an earlier file.

    A user's rows in one file (event, category, label and timestamp of each, in order) are
    summed up by the sums of their rows' hashes; a user whose sums and row count match
    between two files is a candidate, and the candidates' rows are then compared exactly,
    in order, so a hash collision can never drop a row. The overlaps are noted in
    ``report``, per pair of files, with a warning each.

    Returns
    -------
    numpy.ndarray of bool
        Per row: it is a later file's copy of a user's rows (all False when none is).
    """
    repeated = np.zeros(len(keep), dtype=bool)
    rows = np.arange(len(keep)) if keep.all() else np.flatnonzero(keep)

    def kept(column: np.ndarray) -> np.ndarray:
        return column if len(rows) == len(keep) else column[rows]

    users, files = kept(user_codes), kept(file_of_row)
    row_labels = None if labels is None else kept(labels)
    times = None if timestamps is None else kept(timestamps).view(np.int64)
    events, categories = kept(event_codes), kept(category_codes)
    hashes = _row_hashes(events, categories, row_labels, times)
    columns = [c for c in (events, categories, row_labels, times) if c is not None]
    limbs = [hashes & np.uint64((1 << _LIMB_BITS) - 1), hashes >> np.uint64(64 - _LIMB_BITS)]
    n_files = len(report.files)
    group, count, sums = _group_sums(
        users.astype(np.int64) * n_files + files, limbs, (int(users.max()) + 1) * n_files
    )
    group_user, group_file = np.divmod(group, n_files)
    # Groups are in order of (user, file): each is compared with the same user's groups in
    # earlier files that have as many rows and the same sums.
    earlier_group, later_group = [], []
    for k in range(1, n_files):
        same = group_user[k:] == group_user[:-k]
        for key in (count, *sums):
            same &= key[k:] == key[:-k]
        pair = np.flatnonzero(same)
        earlier_group.append(pair)
        later_group.append(pair + k)
    earlier_group, later_group = np.concatenate(earlier_group), np.concatenate(later_group)
    if len(later_group) == 0:
        return repeated
    user, n = group_user[later_group], count[later_group]
    earlier_file, later_file = group_file[earlier_group], group_file[later_group]

    # The candidates' rows, sorted by user then file, each file's rows in log order.
    is_candidate = np.zeros(int(users.max()) + 1, dtype=bool)
    is_candidate[user] = True
    picked = np.flatnonzero(is_candidate[users])
    picked_keys = users[picked].astype(np.int64) * n_files + files[picked]
    by_group = np.argsort(picked_keys, kind="stable")
    picked, picked_keys = picked[by_group], picked_keys[by_group]
    user64 = user.astype(np.int64) * n_files
    starts = np.cumsum(n) - n
    within = np.arange(int(n.sum())) - np.repeat(starts, n)
    a = picked[np.repeat(np.searchsorted(picked_keys, user64 + earlier_file), n) + within]
    b = picked[np.repeat(np.searchsorted(picked_keys, user64 + later_file), n) + within]
    differ = np.logical_or.reduce([c[a] != c[b] for c in columns])
    equal = np.add.reduceat(differ, starts) == 0
    repeated[rows[b[np.repeat(equal, n)]]] = True

    # A group repeated from several earlier files is counted once, against the earliest.
    by_earliest = np.lexsort((earlier_file, later_group))
    equal_sorted = by_earliest[equal[by_earliest]]
    _, first_hit = np.unique(later_group[equal_sorted], return_index=True)
    equal = np.zeros(len(equal), dtype=bool)
    equal[equal_sorted[first_hit]] = True
    pairs = earlier_file[equal].astype(np.int64) * n_files + later_file[equal]
    for pair in np.unique(pairs):
        hit = pairs == pair
        earlier, later_name = (report.files[int(i)] for i in divmod(int(pair), n_files))
        n_users, n_rows = int(hit.sum()), int(n[equal][hit].sum())
        report.overlaps.append({"files": [earlier, later_name], "users": n_users, "rows": n_rows})
        report.warnings.append(overlap_warning(earlier, later_name, n_users, n_rows, report))
    return repeated


def _group_sums(
    group: np.ndarray, limbs: list[np.ndarray], n_groups: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The groups present (in increasing order), their row counts and their sums of ``limbs``.

    Counted with ``bincount`` when the groups that could exist are not many more than the rows
    (exact: a limb's sum stays below 2**53), else grouped by pyarrow.
    """
    if n_groups <= 2 * len(group):
        count = np.bincount(group, minlength=n_groups)
        present = np.flatnonzero(count)
        sums = [np.bincount(group, limb, n_groups)[present].astype(np.int64) for limb in limbs]
        return present, count[present], sums
    names = [f"h{i}" for i in range(len(limbs))]
    table = (
        pa.table(
            {"g": group, **{n: limb.astype(np.int64) for n, limb in zip(names, limbs, strict=True)}}
        )
        .group_by("g")
        .aggregate([*((name, "sum") for name in names), ("g", "count")])
    )
    present = table.column("g").to_numpy()
    order = np.argsort(present)
    sums = [table.column(f"{name}_sum").to_numpy()[order] for name in names]
    return present[order], table.column("g_count").to_numpy()[order], sums


def overlap_warning(earlier: str, later: str, n_users: int, n_rows: int, report: LoadReport) -> str:
    """What the load report says about users repeated whole in two files."""
    users = f"{n_users:,} users appear" if n_users != 1 else "1 user appears"
    said = (
        f"{users} with the same events in {earlier} and {later} "
        f"({n_rows:,} rows in {later}): the exports overlap."
    )
    if report.overlaps_kept == "keep_one":
        return said + f" One copy is kept: those rows of {later} are left out, not counted twice."
    return said + " Both copies are kept, so those users' events count twice."


def _row_hashes(
    events: np.ndarray,
    categories: np.ndarray,
    labels: np.ndarray | None = None,
    times: np.ndarray | None = None,
) -> np.ndarray:
    """A 64-bit hash of each row's values, mixed so that sums of hashes stay apart.

    Event and category codes (below 2**31) and the label (0 or 1) are packed into one 64-bit
    word without loss, the time's bits mixed in, then the word is scrambled.
    """
    x = (events.astype(np.uint64) << np.uint64(33)) | (categories.astype(np.uint64) << np.uint64(1))
    if labels is not None:
        x |= labels.astype(np.uint64) & np.uint64(1)
    if times is not None:
        x ^= times.view(np.uint64) * np.uint64(_HASH_MULTIPLIERS[0])
    x *= np.uint64(_HASH_MULTIPLIERS[1])
    x ^= x >> np.uint64(32)
    x *= np.uint64(_HASH_MULTIPLIERS[2])
    x ^= x >> np.uint64(29)
    return x


def count_duplicate_rows(
    report: LoadReport,
    user_codes: np.ndarray,
    event_codes: np.ndarray,
    category_codes: np.ndarray,
    timestamps: np.ndarray,
    file_of_row: np.ndarray | None,
) -> None:
    """Count (and warn about) rows that repeat another exactly, timestamp included.

    With several files, also count the copies of a row found in another file: what is left
    of two exports whose time windows overlap once the users repeated whole are set aside.
    """
    keys = ["u", "e", "c", "t"]
    columns = {"u": user_codes, "e": event_codes, "c": category_codes, "t": timestamps}
    report.duplicate_rows = int(
        len(user_codes) - pa.table(columns).group_by(keys).aggregate([]).num_rows
    )
    if file_of_row is not None:
        # A copy across files lies within the time span of another file: only those rows
        # are grouped again (few, unless the files cover the same time).
        shared = _in_another_files_span(timestamps, file_of_row, len(report.files))
        report.duplicate_rows_across_files = 0
        if shared.any():
            subset = {k: v[shared] for k, v in columns.items()}
            in_files = (
                pa.table({**subset, "f": file_of_row[shared]})
                .group_by(keys)
                .aggregate([("f", "count_distinct")])
                .column("f_count_distinct")
                .to_numpy()
            )
            report.duplicate_rows_across_files = int(in_files.sum() - len(in_files))
    if report.duplicate_rows:
        report.warnings.append(duplicate_rows_warning(report))


def duplicate_rows_warning(report: LoadReport) -> str:
    """The load report's warning about rows that repeat another row exactly."""
    across = report.duplicate_rows_across_files
    where = (
        f", {across:,} of them copies of a row in another file (the files' time windows overlap)"
        if across
        else ""
    )
    return (
        f"{report.duplicate_rows:,} rows repeat another row exactly (same user, event, "
        f"category and timestamp){where}; they are kept."
    )


def _in_another_files_span(
    timestamps: np.ndarray, file_of_row: np.ndarray, n_files: int
) -> np.ndarray:
    """Per row: its time lies between the first and last time of another file."""
    shared = np.zeros(len(timestamps), dtype=bool)
    for f in range(n_files):
        mine = file_of_row == f
        if mine.any():
            times = timestamps[mine]
            shared |= ~mine & (timestamps >= times.min()) & (timestamps <= times.max())
    return shared
