"""The compiled reader of large plain files gives what the general reader gives, or gives up.

Every test lowers :data:`fakeusers.plaincsv.PLAIN_MIN_BYTES` so that small files take the
compiled path, then reads the same bytes with and without it: the logs (codes, values,
labels, report) must be equal, and a file the compiled reader cannot read exactly must be
left to the general one (same result, same error).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fakeusers import compiled, encoding, plaincsv
from fakeusers.errors import FakeusersError
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs


@contextlib.contextmanager
def plain_reader(enabled: bool):
    """Let files of any size (or of none) take the compiled path."""
    before = plaincsv.PLAIN_MIN_BYTES
    plaincsv.PLAIN_MIN_BYTES = 0 if enabled else 1 << 62
    try:
        yield
    finally:
        plaincsv.PLAIN_MIN_BYTES = before


def both_ways(source):
    """The log (or the error message) of each reader, general first."""
    out = []
    for enabled in (False, True):
        with plain_reader(enabled):
            try:
                out.append(read_logs(source))
            except FakeusersError as e:
                out.append(str(e))
    return out


def assert_same_log(a, b) -> None:
    for f in dataclasses.fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name
    assert a.events_per_user.tolist() == b.events_per_user.tolist()
    assert a.user_id_text.to_pylist() == b.user_id_text.to_pylist() == a.user_ids.tolist()
    assert a.fingerprint() == b.fingerprint()


def plain_log(
    n_rows: int,
    *,
    seed: int = 0,
    fake: bool = True,
    order: tuple[str, ...] = ("UserId", "Event", "Category", "Fake"),
) -> bytes:
    rng = random.Random(seed)
    users = [str(rng.randrange(1, 10**12)) for _ in range(max(n_rows // 20, 1))] + ["0"]
    columns = [c for c in order if fake or c != "Fake"]
    lines = [",".join(columns)]
    for _ in range(n_rows):
        row = {
            "UserId": rng.choice(users),
            "Event": rng.choice(KNOWN_EVENTS),
            "Category": rng.choice(KNOWN_CATEGORIES),
            "Fake": rng.choice("01"),
        }
        lines.append(",".join(row[c] for c in columns))
    return ("\n".join(lines) + "\n").encode()


def assert_same(general, other) -> None:
    """Both readers refused with the same message, or read the same log."""
    if isinstance(general, str):
        assert other == general
    else:
        assert_same_log(general, other)


def is_plain(data: bytes) -> bool:
    with plain_reader(True):
        return plaincsv.read_plain("t.csv", data) is not None


@pytest.mark.parametrize("fake", [True, False])
def test_a_plain_log_reads_the_same_both_ways(fake):
    data = plain_log(20_000, fake=fake)
    assert is_plain(data)
    general, compiled_log = both_ways(("t.csv", data))
    assert_same_log(general, compiled_log)
    assert (general.labels is not None) == fake


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d.replace(b"\n", b"\r\n"), id="crlf"),
        pytest.param(lambda d: b"\xef\xbb\xbf" + d, id="bom"),
        pytest.param(lambda d: d.rstrip(b"\n"), id="no-final-line-end"),
        pytest.param(lambda d: d.replace(b",", b";"), id="semicolons"),
        pytest.param(
            lambda d: d.replace(b"\n", b",FR\n").replace(b"Fake,FR", b"Fake,Country", 1),
            id="extra-column",
        ),
        pytest.param(
            lambda d: plain_log(5_000, order=("Fake", "Category", "UserId", "Event")),
            id="columns-in-another-order",
        ),
        pytest.param(
            lambda d: d.replace(b"UserId,Event", b" userid ,EVENT", 1), id="header-spelling"
        ),
    ],
)
def test_plain_variants_read_the_same_both_ways(change):
    data = change(plain_log(5_000, seed=1))
    general, compiled_log = both_ways(("t.csv", data))
    assert is_plain(data)
    assert_same_log(general, compiled_log)


@pytest.mark.parametrize(
    ("spoil", "why"),
    [
        (lambda d: d + b'12,"click_ad",Phone,1\n', "quotes"),
        (lambda d: d + b"12, click_ad,Phone,1\n", "padding"),
        (lambda d: d + b"12,,Phone,1\n", "an empty event"),
        (lambda d: d + b"012,click_ad,Phone,1\n", "a leading zero"),
        (lambda d: d + b"u12,click_ad,Phone,1\n", "a user ID with letters"),
        (lambda d: d + b"1234567890123456789,click_ad,Phone,1\n", "19 digits"),
        (lambda d: d + b"12,click_ad,Phone\n", "a short row"),
        (lambda d: d + b"12,click_ad,Phone,1,2\n", "a long row"),
        (lambda d: d + b"\n12,click_ad,Phone,1\n", "a blank line"),
        (lambda d: d + b"12,click_ad,Phone,1\r13,click_ad,Phone,1\n", "a lone carriage return"),
        (lambda d: d + "12,click_ad,Téléphone,1\n".encode(), "non-ASCII text"),
        (lambda d: d + b"12,click_ad,Pho\tne,1\n", "a tab inside a value"),
        (lambda d: d + b"UserId,Event,Category,Fake\n", "a repeated header"),
        (
            lambda d: d + "".join(f"12,e{i},Phone,1\n" for i in range(300)).encode(),
            "300 distinct events",
        ),
        (
            lambda d: d.replace(b"Fake\n", b"Fake,Timestamp\n", 1).replace(b"0\n", b"0,5\n"),
            "timestamps",
        ),
    ],
)
def test_what_the_general_reader_treats_specially_is_left_to_it(spoil, why):
    data = spoil(plain_log(3_000, seed=2))
    assert not is_plain(data), why
    assert_same(*both_ways(("t.csv", data)))


def test_a_file_not_large_enough_is_left_to_the_general_reader():
    data = plain_log(2_000)
    assert plaincsv.read_plain("t.csv", data) is None  # PLAIN_MIN_BYTES as shipped
    assert is_plain(data)


def test_files_on_disk_and_in_many_parts_read_the_same(tmp_path, monkeypatch):
    path = tmp_path / "big.csv"
    path.write_bytes(plain_log(60_000, seed=3))
    general, _ = both_ways(path)
    # as many parts as a large machine would cut (each as small as allowed)
    monkeypatch.setattr(plaincsv, "_PART_BYTES", 1 << 12)
    monkeypatch.setattr(plaincsv.os, "cpu_count", lambda: 7)
    data = path.read_bytes()
    assert len(plaincsv._parts(data, data.find(b"\n") + 1, 7)) == 7
    _, compiled_log = both_ways(path)
    assert_same_log(general, compiled_log)


def test_refusals_are_the_general_readers():
    for data in (b"UserId,Category\n1,Phone\n" * 2, b"PK\x03\x04" + b"\x00" * 100):
        general, other = both_ways(("t.csv", data))
        assert isinstance(general, str) and other == general


# Plain rows, then a few fields spoiled in one of the ways logs are
_PLAIN_ROW = st.tuples(
    st.one_of(st.integers(1, 40), st.integers(0, 10**18 - 1)).map(str),
    st.sampled_from(KNOWN_EVENTS),
    st.sampled_from(KNOWN_CATEGORIES),
    st.sampled_from(["0", "1"]),
)
_SPOILED = (
    ["007", "u1", " 5", "5 ", "", "-3", "1234567890123456789", "1e5", "UserId"],
    ["", " click_ad", "click_ad ", "Event", "clíck", "a;b", "a,b", "x\ty", '"click_ad"'],
    ["", "Pets ", "Ök", "Category"],
    ["", " 1", "yes", "2", "Fake"],
)
_SPOIL = st.tuples(
    st.integers(0, 39), st.integers(0, 3), st.integers(0, 8)
)  # row, field, which spoiled value


@given(
    rows=st.lists(_PLAIN_ROW, min_size=0, max_size=40),
    spoils=st.lists(_SPOIL, max_size=2),
    sep=st.sampled_from([",", ";"]),
    end=st.sampled_from(["\n", "\r\n", "\r"]),
    last_end=st.booleans(),
    fake=st.booleans(),
)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_log_reads_the_same_both_ways(rows, spoils, sep, end, last_end, fake):
    rows = [list(r) for r in rows]
    for row, f, k in spoils:
        if row < len(rows):
            rows[row][f] = _SPOILED[f][k % len(_SPOILED[f])]
    header = ["UserId", "Event", "Category"] + (["Fake"] if fake else [])
    lines = [sep.join(header)] + [sep.join(r[: len(header)]) for r in rows]
    data = (end.join(lines) + (end if last_end else "")).encode()
    event("compiled reader" if is_plain(data) else "general reader")
    assert_same(*both_ways(("t.csv", data)))


@given(st.lists(st.integers(0, 2**62), min_size=0, max_size=3_000))
@settings(max_examples=200, deadline=None)
def test_encode_keys_numbers_ids_as_arrow_does(keys):
    keys = np.asarray(keys + keys[: len(keys) // 2], dtype=np.int64)
    codes = np.empty(len(keys), dtype=np.int32)
    values = compiled.encode_keys(keys, codes)
    expected = pa.array(keys, pa.int64()).dictionary_encode()
    assert codes.tolist() == expected.indices.to_pylist()
    assert values.tolist() == expected.dictionary.to_pylist()


@given(st.lists(st.integers(0, 10**18 - 1), min_size=1, max_size=40))
@settings(max_examples=200, deadline=None)
def test_decimal_text_writes_ids_as_the_general_reader_has_them(keys):
    text = compiled.decimal_text(np.array(keys, dtype=np.int64))
    general = np.asarray([str(k) for k in keys], dtype=object).astype(str)
    assert text.dtype == general.dtype and text.tolist() == general.tolist()


@given(st.lists(st.integers(0, 300), max_size=60), st.integers(0, 5))
@settings(max_examples=200, deadline=None)
def test_count_codes_counts_as_bincount_does(codes, more):
    codes = np.array(codes, dtype=np.int32)
    n = int(codes.max(initial=-1)) + 1 + more
    assert compiled.count_codes(codes, n).tolist() == np.bincount(codes, minlength=n).tolist()


def test_counting_takes_compiled_code_on_large_logs_with_the_same_counts(monkeypatch):
    calls, count = [], compiled.count_codes
    monkeypatch.setattr(compiled, "count_codes", lambda c, n: calls.append(n) or count(c, n))
    codes = np.random.default_rng(3).integers(0, 470_000, 1_200_000).astype(np.int32)
    for rows in (len(codes), 1000):
        counted = encoding.count_codes(codes[:rows], 470_001)
        assert np.array_equal(counted, np.bincount(codes[:rows], minlength=470_001))
    assert calls == [470_001]  # the short one by numpy
    with pytest.raises(IndexError):  # never a write outside the counts
        compiled.count_codes(codes, 10)


def test_encode_keys_grows_its_table_past_a_million_ids():
    keys = np.random.default_rng(4).permutation(np.arange(1_200_000, dtype=np.int64) * 7919)
    codes = np.empty(2 * len(keys), dtype=np.int32)
    values = compiled.encode_keys(np.concatenate([keys, keys[::-1]]), codes)
    assert np.array_equal(values, keys)
    assert np.array_equal(codes[: len(keys)], np.arange(len(keys)))
    assert np.array_equal(codes[len(keys) :], np.arange(len(keys))[::-1])


def test_the_kernels_run_where_no_cache_folder_is_writable():
    # numba refuses to cache a function when neither __pycache__ nor the user's cache folder
    # can be written (a read-only install, a user without a home): compile in the process
    code = (
        "import numpy as np\n"
        "from fakeusers import compiled\n"
        "codes = np.empty(4, dtype=np.int32)\n"
        "print(compiled.encode_keys(np.array([5, 3, 5, 7]), codes).tolist(), codes.tolist())\n"
    )
    # the only locator numba may use is IPython's, which finds nothing outside IPython
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "IPythonCacheLocator"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[5, 3, 7] [0, 1, 0, 2]"


def test_numba_starts_once_per_process_and_leaves_scipy_as_it_was():
    # start_compiled starts one thread whatever the number of large files and says when
    # it is done (a small file is told at once); numba's start does not import SciPy's
    # linear algebra (0.2 s), which still imports, and numba still compiles np.dot,
    # afterwards
    code = (
        "import sys, threading\n"
        "import numpy as np\n"
        "from fakeusers import plaincsv\n"
        "print(plaincsv.start_compiled(0).is_set(), threading.active_count())\n"
        "big = plaincsv.PLAIN_MIN_BYTES\n"
        "first, again = plaincsv.start_compiled(big), plaincsv.start_compiled(big)\n"
        "small = plaincsv.start_compiled(0)  # a small file never waits for numba\n"
        "print(first is again, small.is_set() and small is not first, first.wait(300))\n"
        "print(threading.active_count(), 'scipy.linalg' in sys.modules)\n"
        "import scipy.linalg, numba\n"
        "dot = numba.njit(lambda a, b: np.dot(a, b))\n"
        "a = np.arange(6.0).reshape(2, 3)\n"
        "print(np.array_equal(dot(a, a.T), a @ a.T), scipy.linalg.det(np.eye(2)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == [
        "True 1",
        "True True True",
        "1 False",
        "True 1.0",
    ]


@pytest.mark.parametrize("seed", range(4))
def test_values_that_share_their_first_bytes_read_the_same_both_ways(seed):
    # The compiled reader guesses a value among the known ones with the same first byte
    # (four at most, 16 bytes at most): prefixes of each other, more than four sharing a
    # first byte, values just over 16 bytes and rows at the very end of the file must all
    # read as the general reader reads them.
    rng = random.Random(seed)
    values = ["a", "ab", "abc", "abcd", "abcde", "abcdefghijklmno", "abcdefghijklmnop"]
    values += ["abcdefghijklmnopq", "abcdefghijklmnopqrstuvwxyz", "b", "ba", "Phone"]
    lines = ["UserId,Event,Category,Fake"]
    for _ in range(3_000):
        lines.append(
            f"{rng.randrange(1, 300)},{rng.choice(values)},{rng.choice(values)},{rng.choice('01')}"
        )
    for tail in ("", "\r\n", "\n"):
        data = ("\n".join(lines) + tail).encode()
        assert is_plain(data)
        general, compiled_log = both_ways(("t.csv", data))
        assert_same_log(general, compiled_log)
        assert sorted(general.event_values) == sorted(values)


def test_a_machine_that_refuses_the_memory_gets_the_general_reader(monkeypatch):
    # The scan reserves address space for the most rows a part could hold; where the
    # system refuses it (strict overcommit), the general reader reads the file.
    def refuse(*args):
        raise MemoryError

    monkeypatch.setattr(plaincsv, "huge_array", refuse)
    data = plain_log(2_000)
    assert not is_plain(data)
    general, other = both_ways(("t.csv", data))
    assert_same_log(general, other)
