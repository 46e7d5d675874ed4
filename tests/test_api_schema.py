"""Schemathesis fuzzes every operation of the API's own OpenAPI schema: no input makes a 5xx.

The app runs in-process (ASGI) over a model store holding one small trained model, so
``/predict`` requests that get through validation are really scored. CSV bodies are drawn
from a strategy that writes plausible, broken and hostile logs (see ``csv_logs``), so the
fuzzing reaches the reader and the model, not only the first line of validation.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from fakeusers.api import create_app
from fakeusers.demo import generate_log
from fakeusers.models import train
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs
from fakeusers.store import ModelStore

MAX_EXAMPLES = 60
MODEL = "fuzz"
REFS = (MODEL, f"{MODEL}@1", f"{MODEL}@2")
OFTEN = st.integers(0, 3).map(bool)  # three times in four
# No 5xx; and the docs tell the truth: every status, content type and body is documented,
# and requests that break the schema are refused.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
OPTIONAL_COLUMNS = ("Fake", "Timestamp", "Extra")
ODD_VALUES = ("", " ", "6.37E+07", '"', "UserId", "Event", "0", "1", "2", "yes", "1795514400")
TIMES = ("2026-11-24T10:00:03Z", "2026-11-24 10:00:03", "1795514403.5", "yesterday")


# A log value: known, odd or random.
cell = st.one_of(
    st.sampled_from(KNOWN_EVENTS + KNOWN_CATEGORIES + ODD_VALUES + TIMES),
    st.text(max_size=6),
    st.integers(0, 10**8).map(str),
)


@st.composite
def csv_logs(draw: st.DrawFn) -> bytes:
    """A CSV log, mostly well-formed enough to be scored, with odd values; maybe gzipped."""
    columns = ["UserId", "Event", "Category"]
    columns += draw(st.lists(st.sampled_from(OPTIONAL_COLUMNS), max_size=3, unique=True))
    if draw(st.integers(0, 9)) == 0:
        columns = draw(st.permutations(columns))[: draw(st.integers(1, len(columns)))]
    width = len(columns)
    row = st.lists(cell, min_size=width, max_size=width) | st.lists(cell, max_size=width + 2)
    rows = draw(st.lists(row, min_size=1, max_size=40))
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    line_end = draw(st.sampled_from(["\n", "\r\n"]))
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(columns)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.getvalue().encode(encoding, errors="replace")
    return gzip.compress(data) if draw(st.booleans()) else data


schemathesis.openapi.media_type("text/csv", st.one_of(csv_logs(), st.binary(max_size=300)))


@st.composite
def parquet_logs(draw: st.DrawFn) -> bytes:
    """A Parquet log of odd values, maybe labelled, maybe cut off."""
    rows = draw(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=30))
    names = ["UserId", "Event", "Category"]
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})
    if draw(st.booleans()):
        labels = st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))
        table = table.append_column("Fake", pa.array(draw(labels)))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    data = sink.getvalue().to_pybytes()
    return data[: draw(st.integers(0, len(data)))] if draw(st.integers(0, 4)) == 0 else data


schemathesis.openapi.media_type(
    "application/vnd.apache.parquet", st.one_of(parquet_logs(), st.binary(max_size=300))
)


# The schema is loaded at import: schemathesis' lazy loader (schemathesis.pytest.from_fixture)
# fails on pytest 9 (it sets Node._nodeid). The model goes into the store before the tests run.
STORE = tempfile.TemporaryDirectory(prefix="fakeusers-schema-")
# A small size limit, so the fuzzer can reach it too.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(STORE.name, max_bytes=64_000))


@st.composite
def _often_usable(draw: st.DrawFn, values: object) -> object:
    """Often repair what stops a random request before the reader and the model.

    Left alone, the fuzzer names random models, sends columns of unequal lengths and
    contradictory costs, so almost every request ends in a 404 or 422 at the first check.
    """
    if not isinstance(values, dict):
        return values
    values = dict(values)
    if "model" in values:
        how = draw(st.sampled_from(["keep", "ours", "drop"]))
        if how == "ours":
            values["model"] = draw(st.sampled_from(REFS))
        elif how == "drop":
            del values["model"]
    if draw(st.booleans()):
        for option in ("cost_fp", "cost_fn", "top_k"):
            values.pop(option, None)
    if "UserId" in values and draw(OFTEN):
        for column in ("Fake", "Timestamp"):
            values.pop(column, None)
        rows = draw(st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=30))
        for i, column in enumerate(("UserId", "Event", "Category")):
            values[column] = [row[i] for row in rows]
    return values


@st.composite
def _often_ours(draw: st.DrawFn, path: object) -> object:
    """Often name the store's model, or a version of it (one it lacks, too), in the URL."""
    if not isinstance(path, dict) or draw(st.booleans()):
        return path
    ref = draw(st.sampled_from(REFS))
    return {key: MODEL if key == "name" else ref for key in path}


@st.composite
def _often_repaired(draw: st.DrawFn, case: schemathesis.Case) -> schemathesis.Case:
    """A request meant to be valid, with its URL, query and JSON body often repaired.

    Requests generated to break the schema are left alone: a repair could make them valid,
    and the check that such requests are refused would then fail for nothing.
    """
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return case
    repairs = {
        "path_parameters": _often_ours(case.path_parameters),
        "query": _often_usable(case.query),
    }
    if case.media_type == "application/json":
        repairs["body"] = _often_usable(case.body)
    for part, strategy in repairs.items():
        value = draw(strategy)
        if value != getattr(case, part):
            setattr(case, part, value)
    body, query = case.body, case.query
    if isinstance(body, dict) and query and body.keys() & query.keys() and draw(OFTEN):
        # Each option may come from the query string or the body, not both.
        case.query = {k: v for k, v in query.items() if k not in body}
    return case


@st.composite
def _often_a_log(draw: st.DrawFn, form: object) -> object:
    """A multipart form whose files are often replaced by a plausible log.

    Only a valid ``file`` (a list of files) is replaced, so a form that breaks the schema
    still breaks it: this hook runs on every form, meant to be valid or not.
    """
    files = form.get("file") if isinstance(form, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, bytes) for f in files):
        return form
    return {**form, "file": [draw(csv_logs())]} if draw(OFTEN) else form


@schema.hook
def flatmap_case(context: schemathesis.HookContext, case: schemathesis.Case) -> st.SearchStrategy:
    return _often_repaired(case)


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: object) -> st.SearchStrategy:
    return _often_a_log(body)


@pytest.fixture(scope="module", autouse=True)
def trained_model() -> Iterator[None]:
    sink = io.BytesIO()
    pacsv.write_csv(generate_log(5_000, seed=3), sink)
    model = train(read_logs(("train.csv", sink.getvalue())), "logistic")
    ModelStore(STORE.name).save(MODEL, model)
    yield
    STORE.cleanup()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
