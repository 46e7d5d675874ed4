"""Text columns into codes: per-row integer codes into each column's distinct values.

The reader (:mod:`fakeusers.reading`) turns every parsed column into codes here, once:
values are trimmed on the dictionary (padding costs nothing per row; values trimming made
equal are merged and reported), numeric user IDs written the canonical way are hashed as
64-bit integers (three times faster than their text), and a column is encoded in two halves
on two threads whose dictionaries are merged (Arrow hashes outside Python's lock). Codes
keep the order of first appearance, whatever path a column takes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "COMPILED_FROM",
    "Column",
    "Merged",
    "compact",
    "compiled_pays",
    "count_codes",
    "encode_columns",
]

_EXAMPLES_MERGED = 3
#: From this many rows a pass over them takes compiled code once numba runs in the process
#: (:func:`compiled_pays`).
COMPILED_FROM = 1_000_000


class Column(NamedTuple):
    """A dictionary-encoded column: per-row codes into its distinct, stripped values."""

    codes: np.ndarray
    values: np.ndarray


class Merged(NamedTuple):
    """How many distinct raw values of a column trimming made equal to others, and examples."""

    count: int = 0
    examples: tuple[str, ...] = ()


def encode_columns(
    table: pa.Table, names: list[str]
) -> tuple[dict[str, Column], dict[str, Merged]]:
    """The columns ``names`` of ``table`` dictionary-encoded, and what trimming merged in
    each."""
    # pyarrow releases the GIL while hashing: encode the columns side by side.
    with ThreadPoolExecutor(max_workers=2) as pool:
        columns = [table.column(c) for c in names]
        done = dict(zip(names, pool.map(_encode_column, columns), strict=True))
    return {n: c for n, (c, _) in done.items()}, {n: m for n, (_, m) in done.items()}


def _encode_column(column: pa.ChunkedArray) -> tuple[Column, Merged]:
    """Dictionary-encode a string column: (row codes, stripped distinct values).

    Values are stripped on the dictionary, so padding costs nothing per row; values that
    become equal after stripping are merged.
    """
    numeric = _canonical_integers(column)
    if numeric is not None:
        return numeric, Merged()
    codes, dictionary = _dictionary_encode_halves(column)  # type: ignore[misc]
    stripped = pc.utf8_trim_whitespace(dictionary)
    merged = stripped.dictionary_encode()
    remap = merged.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    values = np.asarray(merged.dictionary.to_pylist(), dtype=object)
    if len(values) == len(stripped):
        return Column(codes, values), Merged()
    # Distinct raw values that trimming made equal: say so, with the raw forms.
    counts = np.bincount(remap, minlength=len(values))
    shared = np.flatnonzero(counts > 1)
    raw = dictionary.to_pylist()
    examples = []
    for value in shared[:_EXAMPLES_MERGED]:
        forms = [raw[i] for i in np.flatnonzero(remap == value)[:3]]
        examples.append(" = ".join(repr(f) for f in forms))
    merged = Merged(int(counts[shared].sum() - shared.size), tuple(examples))
    return Column(remap[codes], values), merged


def _canonical_integers(column: pa.ChunkedArray) -> Column | None:
    """The column encoded as :func:`_encode_column` would, when every value is a whole
    number written the canonical way (digits only, no leading zero); else None.

    Hashing 64-bit integers is about three times faster than hashing their text, and
    numeric user IDs are the common case. Each value is its number's only canonical
    spelling, so encoding the numbers and writing the distinct ones back as text gives the
    same codes and values as encoding the text.
    """
    if (
        not pa.types.is_string(column.type)  # dictionary-encoded already: few values
        or len(column) == 0
        or column.null_count
    ):
        return None
    encoded = _dictionary_encode_halves(column, _as_numbers)
    if encoded is None:
        return None
    codes, dictionary = encoded
    distinct = dictionary.to_numpy(zero_copy_only=False)
    # A string of digits is never shorter than its number's canonical spelling, and longer
    # only with leading zeros ("007"): equal total lengths mean none has any.
    digits = np.searchsorted(_POWERS_OF_TEN, distinct, side="right") + 1
    written = int(np.bincount(codes.astype(np.intp), minlength=len(distinct)) @ digits)
    if written != pc.sum(pc.binary_length(column)).as_py():
        return None
    values = np.asarray(pc.cast(dictionary, pa.string()).to_pylist(), dtype=object)
    return Column(codes, values)


def _as_numbers(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Text of digits as 64-bit integers; None when a value is not only digits or is too
    long for 64 bits."""
    if len(column) and not pc.all(pc.ascii_is_decimal(column)).as_py():
        return None
    try:
        return pc.cast(column, pa.int64())
    except pa.ArrowInvalid:  # more than 18 digits
        return None


def _dictionary_encode_halves(
    column: pa.ChunkedArray,
    convert: Callable[[pa.ChunkedArray], pa.ChunkedArray | None] | None = None,
) -> tuple[np.ndarray, pa.Array] | None:
    """Row codes (int32) and distinct values in order of first appearance, as
    ``column.dictionary_encode()`` gives them for a column without nulls, encoding the two
    halves of the column's chunks on two threads (Arrow hashes outside Python's lock) and
    merging their dictionaries.

    ``convert``, when given, is applied to each half on its thread before encoding; when it
    returns None for either half, so does this function.
    """
    chunks = column.chunks
    rows = np.cumsum([len(c) for c in chunks])
    cut = int(np.searchsorted(rows, rows[-1] / 2)) + 1 if len(chunks) > 1 else len(chunks)
    halves = [pa.chunked_array(part, column.type) for part in (chunks[:cut], chunks[cut:])]

    def encode(half: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array] | None:
        half = half if convert is None else convert(half)
        return None if half is None else _encoded(half)

    with ThreadPoolExecutor(max_workers=2) as pool:
        both = list(pool.map(encode, halves))
    if None in both:
        return None
    (first, firsts), (second, seconds) = both
    if not len(second):
        return first, firsts
    # The second half's values: where the first half has them, else new, after the first's.
    found = pc.index_in(seconds, value_set=firsts)
    new = np.asarray(pc.is_null(found))
    remap = pc.fill_null(found, -1).to_numpy().astype(np.int32)  # a writable copy
    remap[new] = len(firsts) + np.arange(int(new.sum()), dtype=np.int32)
    codes = np.concatenate([first, remap[second]])
    return codes, pa.concat_arrays([firsts, seconds.filter(pa.array(new))])


def _encoded(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    if not len(column):
        value_type = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
        return np.zeros(0, dtype=np.int32), pa.array([], value_type)
    encoded = column.dictionary_encode().combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    return codes, encoded.dictionary


_POWERS_OF_TEN = 10 ** np.arange(1, 19, dtype=np.int64)


def compact(column: Column, kept: np.ndarray | None) -> Column:
    """The rows in ``kept`` (all when None), renumbered to the values they use.

    The dictionary is in order of first appearance over all rows; when rows were dropped, a
    value's first remaining row may come later, so the order is recomputed (only then, and
    sorting the values, not the rows).
    """
    if kept is None:
        return column
    codes, values = column.codes[kept], column.values
    first_row = np.full(len(values), len(codes), dtype=np.int64)
    np.minimum.at(first_row, codes, np.arange(len(codes)))
    used = np.flatnonzero(first_row < len(codes))
    order = used[np.argsort(first_row[used], kind="stable")]
    remap = np.full(len(values), -1, dtype=np.int32)
    remap[order] = np.arange(len(order), dtype=np.int32)
    return Column(remap[codes], values[order])


def count_codes(codes: np.ndarray, n: int) -> np.ndarray:
    """How many times each code ``0..n-1`` occurs: ``np.bincount(codes, minlength=n)``.

    Counted by :func:`fakeusers.compiled.count_codes` once numba runs in the process (the
    reader of large plain files started it): 12 ms against 33 ms for 10M codes.
    """
    if compiled_pays(len(codes)):
        from fakeusers.compiled import count_codes as compiled_count

        return compiled_count(codes, n)
    return np.bincount(codes, minlength=n)


def compiled_pays(n_rows: int) -> bool:
    """Whether a pass over ``n_rows`` rows takes compiled code (:mod:`fakeusers.compiled`):
    from :data:`COMPILED_FROM` rows, once numba runs in the process (the reader of large plain
    files started it, whose start is then paid)."""
    return n_rows >= COMPILED_FROM and "fakeusers.compiled" in sys.modules
