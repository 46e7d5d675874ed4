"""Fuzzing the reader beyond tests/test_reading.py, with a time bound per example.

- arbitrary text values (quotes, delimiters, line breaks, formula prefixes, any Unicode)
  written by Python's ``csv`` module must read back exactly, trimmed; a differential test;
- the corpus files of ``tests/data/bad/``, mutated, and random bytes behind the magic numbers
  the reader dispatches on (gzip, zip, BOMs), must only ever raise ``FakeusersError``;
- whatever is accepted must be a consistent ``Log`` and whatever is said must be one short line;
- several files whose users overlap: a reference in plain Python says which users' rows are
  repeated whole in a later file (kept once) and which are not (kept as they are).

The CI budget is 5,200 examples (about 10 s on two cores); ``FAKEUSERS_FUZZ_SCALE=20`` runs
twenty times as many for a longer local hunt.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakeusers.errors import FakeusersError
from fakeusers.reading import read_logs
from tests.bad_corpus import CASES

SCALE = float(os.environ.get("FAKEUSERS_FUZZ_SCALE", "1"))
# A read of a few kilobytes takes milliseconds; a second means a hang or a quadratic path.
DEADLINE = dt.timedelta(seconds=2)
MAX_MESSAGE = 600


def budget(examples: int):
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check(name: str, data: bytes):
    """Read ``data``; assert that only our error escapes and that what comes back is sound."""
    try:
        log = read_logs((name, data))
    except FakeusersError as exc:
        message = str(exc)
        assert message.startswith(name), message
        assert "\n" not in message and len(message) < MAX_MESSAGE, message[:MAX_MESSAGE]
        return None
    r = log.report
    assert log.n_rows == r.rows > 0 and log.n_users == r.users > 0
    assert len(set(log.user_ids.tolist())) == log.n_users
    assert "" not in log.user_ids and "" not in log.event_values and "" not in log.category_values
    for codes, size in (
        (log.user_codes, log.n_users),
        (log.event_codes, len(log.event_values)),
        (log.category_codes, len(log.category_values)),
    ):
        assert len(codes) == log.n_rows and codes.min() >= 0 and codes.max() < size
    assert np.bincount(log.user_codes, minlength=log.n_users).min() > 0
    if log.labels is not None:
        assert len(log.labels) == log.n_users and set(log.labels.tolist()) <= {-1, 0, 1}
    if log.timestamps is not None:
        assert len(log.timestamps) == log.n_rows and np.isfinite(log.timestamps).all()
    for w in r.warnings:
        assert "\n" not in w and len(w) < MAX_MESSAGE, w[:MAX_MESSAGE]
    json.dumps(r.to_dict())
    return log


# ---------------------------------------------------------------------------------------------
# Differential: what Python's csv module writes, the reader reads back

value = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        st.sampled_from(list(" \t\n\",;|=+-@'\ufeff")),
    ),
    max_size=12,
)


@given(
    rows=st.lists(st.tuples(value, value, value), min_size=1, max_size=30),
    delimiter=st.sampled_from([",", ";", "\t"]),
    terminator=st.sampled_from(["\n", "\r\n"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    labelled=st.booleans(),
    bom=st.booleans(),
)
@budget(1200)
def test_any_values_written_by_the_csv_module_read_back_trimmed(
    rows, delimiter, terminator, quoting, labelled, bom
):
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(["UserId", "Event", "Category"] + (["Fake"] if labelled else []))
    # The label is a property of the user, so derive it from the ID.
    writer.writerows([*row, len(row[0].strip()) % 2] if labelled else row for row in rows)
    data = ("\ufeff" if bom else "").encode() + buf.getvalue().encode()

    expected = [
        tuple(v.strip() for v in row)
        for row in rows
        if all(v.strip() for v in row)
        and not (row[0].strip().lower() == "userid" and row[1].strip().lower() == "event")
    ]
    log = check("values.csv", data)
    if not expected:
        assert log is None
        return
    assert log is not None
    got = list(
        zip(
            log.user_ids[log.user_codes].tolist(),
            np.asarray(log.event_values, dtype=object)[log.event_codes].tolist(),
            np.asarray(log.category_values, dtype=object)[log.category_codes].tolist(),
            strict=True,
        )
    )
    assert got == expected
    if labelled:
        # By user, not by position: a user whose first row was dropped (an empty Event, say)
        # keeps that row's place in the order of users.
        labels = dict(zip(log.user_ids.tolist(), log.labels.tolist(), strict=True))
        assert labels == {u: len(u) % 2 for u, _, _ in expected}


# ---------------------------------------------------------------------------------------------
# Mutated corpus files and random bytes behind magic numbers


def corpus_seeds() -> dict[str, bytes]:
    """The corpus files, and the contents of the readable gzip ones (mutating compressed
    bytes nearly always just breaks the CRC); not the 5 MB field, too slow per example."""
    seeds = {}
    for case in CASES:
        data = case.path.read_bytes()
        seeds[case.name] = data
        if data[:2] == b"\x1f\x8b" and case.decision == "accept":
            seeds[f"{case.name}.inner"] = gzip.decompress(data)
    return {name: data for name, data in seeds.items() if len(data) < 100_000}


SEEDS = corpus_seeds()
mutation = st.tuples(
    st.sampled_from(["insert", "delete", "replace", "duplicate"]),
    st.floats(min_value=0, max_value=1),
    st.floats(min_value=0, max_value=1),
    st.one_of(
        st.binary(max_size=8),
        st.sampled_from([b'"', b",", b";", b"\t", b"\r", b"\n", b"\r\n", b"\xef\xbb\xbf", b"\x00"]),
        st.sampled_from([b"UserId,Event,Category\n", b"Fake", b"Timestamp", b"\xff\xfe"]),
    ),
)


def mutate(data: bytes, edits) -> bytes:
    for kind, at, length, payload in edits:
        i = int(at * len(data))
        j = min(len(data), i + int(length * 16))
        if kind == "insert":
            data = data[:i] + payload + data[i:]
        elif kind == "delete":
            data = data[:i] + data[j:]
        elif kind == "replace":
            data = data[:i] + payload + data[i + len(payload) :]
        else:
            data = data[:j] + data[i:j] + data[j:]
    return data


@given(
    seed=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(mutation, min_size=1, max_size=4),
    gzipped=st.booleans(),
)
@budget(2000)
def test_mutated_corpus_files_only_raise_the_project_error(seed, edits, gzipped):
    data = mutate(SEEDS[seed], edits)
    check("mutated.csv", gzip.compress(data, mtime=0) if gzipped else data)


MAGIC = [
    b"",
    b"\x1f\x8b\x08\x00",
    b"PK\x03\x04",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"%PDF-",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
]


@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=600), wrap=st.booleans())
@budget(2000)
def test_random_bytes_behind_magic_numbers_only_raise_the_project_error(prefix, body, wrap):
    data = prefix + body
    check("random.csv", gzip.compress(data, mtime=0) if wrap else data)


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_every_seed_is_read_soundly(seed):
    check(seed, SEEDS[seed])


# ---------------------------------------------------------------------------------------------
# Several files: a user's rows repeated whole in a later file are kept once, and only those

# Few users and values, so that files often repeat a user exactly, or nearly.
user_rows = st.lists(
    st.tuples(st.sampled_from(["click_ad", "send_sms"]), st.sampled_from(["Phone", "Motor"])),
    min_size=1,
    max_size=3,
)
a_file = st.dictionaries(st.sampled_from(["u1", "u2", "u3", "u4"]), user_rows, min_size=1)


def interleaved(users: dict[str, list]) -> list[tuple[str, str, str]]:
    """The file's rows, users taking turns (each user's rows stay in their order)."""
    queues = {u: list(rows) for u, rows in users.items()}
    out = []
    while queues:
        for u in list(queues):
            out.append((u, *queues[u].pop(0)))
            if not queues[u]:
                del queues[u]
    return out


@given(files=st.lists(a_file, min_size=2, max_size=4), mixed=st.booleans())
@budget(300)
def test_overlapping_files_match_a_plain_python_reference(files, mixed):
    texts = []
    expected_rows, overlaps = [], {}
    for j, users in enumerate(files):
        rows = interleaved(users) if mixed else [(u, *r) for u, rs in users.items() for r in rs]
        texts.append("UserId,Event,Category\n" + "".join(",".join(r) + "\n" for r in rows))
        repeated = {}
        for u, mine in users.items():
            earlier = [i for i in range(j) if files[i].get(u) == mine]
            if earlier:
                repeated[u] = earlier[0]
                key = (f"f{earlier[0]}.csv", f"f{j}.csv")
                n_users, n_rows = overlaps.get(key, (0, 0))
                overlaps[key] = (n_users + 1, n_rows + len(mine))
        expected_rows += [r for r in rows if r[0] not in repeated]
    sources = [(f"f{j}.csv", t.encode()) for j, t in enumerate(texts)]
    want = [
        {"files": list(key), "users": n_users, "rows": n_rows}
        for key, (n_users, n_rows) in sorted(overlaps.items())
    ]

    log = read_logs(sources)
    got = list(
        zip(
            log.user_ids[log.user_codes].tolist(),
            np.asarray(log.event_values, dtype=object)[log.event_codes].tolist(),
            np.asarray(log.category_values, dtype=object)[log.category_codes].tolist(),
            strict=True,
        )
    )
    assert got == expected_rows
    assert log.report.overlaps == want
    everything = read_logs(sources, overlaps="keep_all")
    assert everything.n_rows == sum(t.count("\n") - 1 for t in texts)
    assert everything.report.overlaps == want
