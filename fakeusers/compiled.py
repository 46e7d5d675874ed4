"""The loops numpy cannot write in one pass over 10M rows, compiled by numba.

The kernels, each with a numpy twin elsewhere that gives the same result and stays the
reference (the tests compare them on random and real logs):

- :func:`scan_rows` reads the rows of a plain CSV file (:mod:`fakeusers.plaincsv`) straight
  into codes: user IDs as 64-bit integers, the few values of the other columns as byte
  spans of the file, in one pass, without building a string per row;
- :func:`encode_keys` numbers 64-bit user IDs in order of first appearance with an
  open-addressing hash table (a third of the time of Arrow's ``dictionary_encode`` here);
- :func:`aggregate` computes every user's event and category counts, switches and longest
  run in one pass over the rows in log order (:func:`fakeusers.features.featurize` does it
  with a counting sort otherwise);
- :func:`count_codes` counts codes as ``np.bincount`` does, without widening them to 64 bits
  (:func:`fakeusers.encoding.count_codes`), and :func:`decimal_text` writes 64-bit IDs as
  numpy's text.

Every kernel releases Python's lock (``nogil``), so the reader runs one per half of a file
on two threads. numba compiles them the first time they run on a machine (a few seconds)
and keeps the machine code in its cache (``__pycache__`` beside this file, or the user's
cache folder when that is read-only). Starting numba costs about 0.35 s of CPU per process
(see :class:`_NoBlasCheck`), so the callers use these kernels only on logs large enough to
repay it, and import this module only then.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys

import numpy as np
from numba import njit

__all__ = [
    "ID",
    "MAX_VALUES",
    "SKIP",
    "AGGREGATED",
    "aggregate",
    "count_codes",
    "decimal_text",
    "encode_keys",
    "scan_rows",
    "take",
]

#: Roles of a file's fields in :func:`scan_rows`: ``SKIP`` an ignored column, ``ID`` the user
#: ID, 0, 1, 2 the text columns whose values are collected.
SKIP, ID = -1, 3
#: Distinct values a text column may have in one part of a file (its codes are 8-bit).
MAX_VALUES = 255
_GUESSES = 4  # known values tried first for a text field: those starting with its first byte


#: Columns of :func:`aggregate`'s result before the counts.
AGGREGATED = 6


class _NoBlasCheck(importlib.abc.MetaPathFinder):
    """Declines one import: SciPy's linear algebra when numba's first call imports it to
    see whether compiled code may call BLAS (``numba.np.arraymath._check_blas``).

    That import is 0.2 s of CPU holding Python's lock, 40% of numba's start, and these
    kernels call no BLAS. Any other import of ``scipy.linalg`` (scikit-learn's, on any
    thread) is served as usual; in this process numba then compiles ``np.convolve`` and
    ``np.correlate`` with its own loop rather than BLAS.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "scipy.linalg" and _in_blas_check(sys._getframe(1)):
            with contextlib.suppress(ValueError):  # numba checks once per process
                sys.meta_path.remove(self)
            raise ImportError("fakeusers' compiled kernels need no BLAS")
        return None


def _in_blas_check(frame) -> bool:
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_check_blas" and frame.f_globals.get("__name__") == (
            "numba.np.arraymath"
        ):
            return True
        frame = frame.f_back
    return False


if "numba.np.arraymath" not in sys.modules:  # numba's first call has not run yet
    sys.meta_path.insert(0, _NoBlasCheck())


def _jit(function):
    """``njit`` without Python's lock, cached on disk when a cache folder is writable."""
    try:
        return njit(nogil=True, cache=True)(function)
    except RuntimeError:  # no writable cache folder: compile in every process
        return njit(nogil=True)(function)


@_jit
def scan_rows(data, start, end, n_fields, delimiter, roles, keys, codes, spans, n_values, slots):
    """Parse the rows of ``data[start:end]`` (bytes after a header), or give up.

    Each row must have ``n_fields`` fields separated by ``delimiter`` and end with ``\\n`` or
    ``\\r\\n`` (the last may end the data); only printable ASCII, no quotes. The ``ID`` field
    holds 1 to 18 digits without a leading zero; the text fields are not empty.

    Writes row ``r``'s user ID to ``keys[r]`` and the code of its text field ``c`` to
    ``codes[c, r]``: codes number a column's distinct values in order of first appearance,
    value ``k`` being ``data[spans[c, k, 0]:spans[c, k, 0] + spans[c, k, 1]]``, with
    ``n_values[c]`` values; ``slots`` is the hash table, -1 when empty.

    Returns the number of rows, or -1 when a row breaks a rule (or a column has more than
    ``MAX_VALUES`` values, or a value has spaces around it): the caller then reads the file
    the general way.
    """
    row = 0
    i = start
    last = n_fields - 1
    mask = slots.shape[1] - 1
    # A text value is first guessed among the (up to four) known values of its column that
    # start with its first byte: compared as two 8-byte words and checked to end where a
    # field ends, it is read without looking at its bytes one by one (values of up to 16
    # bytes). Anything else goes the byte-by-byte way, which also learns the guesses.
    guesses = np.full((codes.shape[0], 256, _GUESSES), -1, np.int64)
    words = np.zeros((codes.shape[0], MAX_VALUES, 2), np.uint64)
    masks = np.zeros((17, 2), np.uint64)
    for n in range(17):
        for j in range(16):
            if j < n:
                masks[n, j // 8] |= np.uint64(255) << np.uint64(8 * (j % 8))
    while i < end:
        if row == len(keys):
            return -1
        for f in range(n_fields):
            first = i
            role = roles[f]
            if role == ID:
                key = np.int64(0)
                while i < end:
                    digit = np.int64(data[i]) - 48
                    if digit < 0 or digit > 9:
                        break
                    key = key * 10 + digit
                    i += 1
                n_digits = i - first
                if n_digits == 0 or n_digits > 18 or (n_digits > 1 and data[first] == 48):
                    return -1
                keys[row] = key
            else:
                code = -1
                wordy = role >= 0 and first + 16 <= len(data)
                if wordy:
                    w0 = np.uint64(0)
                    w1 = np.uint64(0)
                    for j in range(8):
                        w0 |= np.uint64(data[first + j]) << np.uint64(8 * j)
                        w1 |= np.uint64(data[first + 8 + j]) << np.uint64(8 * j)
                    b0 = data[first]
                    for k in range(_GUESSES):
                        guess = guesses[role, b0, k]
                        if guess < 0:
                            break
                        stop = first + spans[role, guess, 1]
                        if stop < end:
                            b = data[stop]
                            if (
                                (b == delimiter or b == 10 or b == 13)
                                and (w0 & masks[stop - first, 0]) == words[role, guess, 0]
                                and (w1 & masks[stop - first, 1]) == words[role, guess, 1]
                            ):
                                code = guess
                                i = stop
                                break
                if code < 0:
                    while i < end:
                        b = data[i]
                        if b == delimiter or b == 10 or b == 13:
                            break
                        if b < 32 or b > 126 or b == 34:
                            return -1
                        i += 1
                if role >= 0 and code < 0:
                    length = i - first
                    if length == 0:
                        return -1
                    # FNV-1a of all its bytes: values alike at both ends (cat001 ... cat250)
                    # must not pile up in one run of slots
                    hashed = np.uint64(14695981039346656037)
                    for j in range(length):
                        hashed = (hashed ^ np.uint64(data[first + j])) * np.uint64(1099511628211)
                    h = np.int64(hashed >> np.uint64(40)) & mask
                    while True:
                        code = slots[role, h]
                        if code == -1:
                            code = n_values[role]
                            # too many values, or spaces around one (the general reader
                            # trims them, and says so): give up now, not after the scan
                            if code == MAX_VALUES or data[first] == 32 or data[i - 1] == 32:
                                return -1
                            slots[role, h] = code
                            spans[role, code, 0] = first
                            spans[role, code, 1] = length
                            n_values[role] += 1
                            break
                        if spans[role, code, 1] == length:
                            at = spans[role, code, 0]
                            same = True
                            for j in range(length):
                                if data[at + j] != data[first + j]:
                                    same = False
                                    break
                            if same:
                                break
                        h = (h + 1) & mask
                    if wordy and length <= 16:  # learn it as a guess, if there is room
                        for k in range(_GUESSES):
                            known = guesses[role, b0, k]
                            if known == code:
                                break
                            if known < 0:
                                guesses[role, b0, k] = code
                                words[role, code, 0] = w0 & masks[length, 0]
                                words[role, code, 1] = w1 & masks[length, 1]
                                break
                if role >= 0:
                    codes[role, row] = code
            if f < last:
                if i >= end or data[i] != delimiter:
                    return -1
                i += 1
            elif i < end:
                if data[i] == 13:
                    i += 1
                    if i >= end or data[i] != 10:
                        return -1
                elif data[i] != 10:
                    return -1
                i += 1
        row += 1
    return row


@_jit
def _hash(key, bits):
    return np.int64((np.uint64(key) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits))


@_jit
def _table(values, n, bits):
    """A hash table of ``values[:n]`` with ``2 ** bits`` slots of (key, code)."""
    table = np.full((1 << bits, 2), -1, np.int64)
    mask = (1 << bits) - 1
    for code in range(n):
        h = _hash(values[code], bits)
        while table[h, 0] != -1:
            h = (h + 1) & mask
        table[h, 0] = values[code]
        table[h, 1] = code
    return table


@_jit
def encode_keys(keys, codes):
    """Number non-negative ``keys`` in order of first appearance into ``codes`` (int32, as
    long as ``keys``) and return the distinct keys in that order: what Arrow's
    ``dictionary_encode`` gives, three times faster (the table grows by doubling, kept at
    most half full)."""
    values = np.empty(1024, np.int64)
    bits = 11
    table = np.full((1 << bits, 2), -1, np.int64)
    n = 0
    for r in range(len(keys)):
        key = keys[r]
        mask = (1 << bits) - 1
        h = _hash(key, bits)
        while True:
            k = table[h, 0]
            if k == key:
                codes[r] = table[h, 1]
                break
            if k == -1:
                table[h, 0] = key
                table[h, 1] = n
                if n == len(values):
                    values = np.concatenate((values, np.empty(n, np.int64)))
                values[n] = key
                codes[r] = n
                n += 1
                if 2 * n > mask:
                    bits += 1
                    table = _table(values, n, bits)
                break
            h = (h + 1) & mask
    return values[:n].copy()


@_jit
def aggregate(users, events, categories, n_events, out, first_user, end_user):
    """Per user of ``first_user`` to ``end_user`` (excluded), in one pass over the rows in
    log order, into ``out`` (int32, ``n_users`` rows, zeros): column 0 the event switches,
    1 the category switches, 2 the longest run of one event, then (after three columns of
    working state) the count of each event code, then of each category code.

    A switch is a row whose event (category) differs from the user's previous row's. Each
    thread takes its own range of users (rows of ``out`` apart: no cache line is shared).
    """
    # one row per user holds the results and the state (last event + 1, last category + 1,
    # current run): one cache line or two to touch per log row, which is what the pass costs
    for r in range(len(users)):
        u = users[r]
        if u < first_user or u >= end_user:
            continue
        o = out[u]
        e = np.int32(events[r])
        c = np.int32(categories[r])
        if o[3] == e + 1:
            o[5] += 1
        else:
            if o[3] > 0:
                o[0] += 1
            o[3] = e + 1
            o[5] = 1
        if o[5] > o[2]:
            o[2] = o[5]
        if o[4] != c + 1:
            if o[4] > 0:
                o[1] += 1
            o[4] = c + 1
        o[AGGREGATED + e] += 1
        o[AGGREGATED + n_events + c] += 1


@_jit
def count_codes(codes, n):
    """``np.bincount(codes, minlength=n)`` for codes in ``0..n-1`` (a third of its time at
    10M rows: it converts the codes to 64 bits first)."""
    out = np.zeros(n, dtype=np.int64)
    for c in codes:
        if c < 0 or c >= n:
            raise IndexError("a code outside 0..n-1")
        out[c] += 1
    return out


@_jit
def take(table, indices, out):
    """``out[i] = table[indices[i]]``: numpy's ``take`` without widening the indices to
    64 bits first (an 8-bit code array would become eight times its size)."""
    for i in range(len(indices)):
        out[i] = table[indices[i]]


def decimal_text(keys: np.ndarray) -> np.ndarray:
    """Non-negative 64-bit keys as decimal text: ``keys.astype(str)`` as text the general
    reader parsed would have it (as wide as the longest), written by compiled code (a tenth
    of numpy's time)."""
    width = len(str(int(keys.max()))) if len(keys) else 1
    out = np.zeros((len(keys), width), dtype=np.uint32)  # UCS-4 code points, 0 pads
    _write_decimal(keys, out)
    return out.view(np.dtype(("U", width))).reshape(-1)


@_jit
def _write_decimal(keys, out):
    for i in range(len(keys)):
        key = keys[i]
        digits = 1
        rest = key
        while rest >= 10:
            rest //= 10
            digits += 1
        for j in range(digits - 1, -1, -1):
            out[i, j] = 48 + key % 10
            key //= 10
