"""A log's ``Timestamp`` column as epoch seconds: ISO 8601 or epoch values, one format per column.

A column that cannot be read is not an error: the log is still usable without the rate and
gap features, so the reader gets a warning that names the first bad line and goes on.
Epoch milli-, micro- and nanoseconds are recognised by their size.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fakeusers.quoting import quote

__all__ = ["parse_timestamps"]

# Epoch values at or above this are not seconds (it is the year 5138) but a finer unit.
_EPOCH_SECONDS_MAX = 1e11
_EPOCH_UNITS = (("milliseconds", 1e3), ("microseconds", 1e6), ("nanoseconds", 1e9))
_TIME_FORMATS = (
    ("epoch seconds", pa.float64()),
    ("ISO 8601 with a time zone", pa.timestamp("ms", tz="UTC")),
    ("ISO 8601 without a time zone", pa.timestamp("ms")),
)
_IGNORED = "rate and gap features are off for this log."


def parse_timestamps(
    column: pa.ChunkedArray,
    keep: np.ndarray,
    locate: Callable[[int], tuple[str, int]],
) -> tuple[np.ndarray | None, str | None]:
    """Epoch seconds per row, and a warning for the load report when there is one.

    Parameters
    ----------
    column : pyarrow.ChunkedArray of str
        The ``Timestamp`` values of every row, as written in the files.
    keep : numpy.ndarray of bool
        The rows to parse; the others (a repeated header line is not a time) get NaN.
    locate : callable
        Row number to ``(file name, line number)``, for the warning.

    Returns
    -------
    seconds : numpy.ndarray of float64 or None
        Per row, or None when the column is unusable (no kept row, values that are not
        times, or formats mixed).
    warning : str or None
        Why the column is ignored, or the epoch unit it was read in.
    """
    rows = None if keep.all() else np.flatnonzero(keep)
    values = pc.utf8_trim_whitespace(column if rows is None else column.take(rows))
    if len(values) == 0:
        return None, None

    def where(i: int) -> str:
        file_name, line = locate(i if rows is None else int(rows[i]))
        return f"{file_name} line {line}"

    parsed = next((p for _, t in _TIME_FORMATS if (p := _cast(values, t)) is not None), None)
    if parsed is None:
        i, problem = _time_problem(values)
        return None, f"Timestamp ignored: {where(i)}: {problem}; {_IGNORED}"
    warning = None
    if pa.types.is_floating(parsed.type):
        seconds = np.asarray(parsed.to_numpy(), dtype=np.float64)
        odd = np.flatnonzero(~np.isfinite(seconds))
        if len(odd):
            i = int(odd[0])
            value = quote(values[i].as_py())
            return None, f"Timestamp ignored: {where(i)}: {value} is not a time; {_IGNORED}"
        seconds, warning = _epoch_seconds(seconds, values)
    else:
        ms = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
        seconds = ms.astype(np.float64) / 1000.0
    if rows is None:
        return seconds, warning
    out = np.full(len(keep), np.nan)
    out[rows] = seconds
    return out, warning


def _epoch_seconds(epoch: np.ndarray, values: pa.ChunkedArray) -> tuple[np.ndarray, str | None]:
    """Epoch values in seconds, and which finer unit they were in (a warning), if any."""
    low = float(epoch.min())
    if low < _EPOCH_SECONDS_MAX:
        return epoch, None
    unit, factor = next(
        ((u, f) for u, f in _EPOCH_UNITS if low / f < _EPOCH_SECONDS_MAX),
        _EPOCH_UNITS[-1],
    )
    return epoch / factor, (
        f"Timestamp values are epoch {unit}, not seconds (e.g. {values[0].as_py()}); "
        f"read them as {unit}."
    )


def _cast(values: pa.ChunkedArray, type_: pa.DataType) -> pa.ChunkedArray | None:
    try:
        return pc.cast(values, type_)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _time_problem(values: pa.ChunkedArray) -> tuple[int, str]:
    """The first timestamp that breaks the column's format, and what is wrong with it.

    The format is the first value's; the column is scanned in blocks, so a bad value at the
    end of a large log costs one pass, not a Python call per row.
    """

    def format_of(i: int) -> tuple[str, pa.DataType] | None:
        one = values.slice(i, 1)
        return next(((n, t) for n, t in _TIME_FORMATS if _cast(one, t) is not None), None)

    first = format_of(0)
    i = 0
    if first is not None:
        block = 1 << 16
        start = next(
            s
            for s in range(0, len(values), block)
            if _cast(values.slice(s, block), first[1]) is None
        )
        i = start + next(
            j
            for j in range(min(block, len(values) - start))
            if _cast(values.slice(start + j, 1), first[1]) is None
        )
    value = values[i].as_py()
    if value == "":
        return i, "the value is empty"
    own = format_of(i)
    if own is None:
        return i, (f"{quote(value)} is neither ISO 8601 (2026-11-24T10:00:03Z) nor epoch seconds")
    return i, (f"{quote(value)} is {own[0]} but the first value is {first[0]}: use one format")
