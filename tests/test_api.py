"""The REST API through FastAPI's test client: shapes, decisions, refusals, limits, training.

One model is trained through ``POST /train`` per module and every prediction is compared
with the library scoring the same bytes in-process (:func:`fakeusers.scoring.score_log`):
the API must add nothing and lose nothing on the way. Errors are the store's and the
reader's typed errors, in their words, with the status of their type.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import skops.io as sio
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import StandardScaler

import fakeusers
from fakeusers.api import DEFAULT_MAX_BYTES, MAX_BYTES_ENV, create_app
from fakeusers.decisions import cost_interval, expected_cost
from fakeusers.demo import generate_log
from fakeusers.errors import FakeusersError
from fakeusers.limits import limit_from_env, parse_size
from fakeusers.reading import KNOWN_CATEGORIES, KNOWN_EVENTS, read_logs
from fakeusers.scoring import score_log
from fakeusers.store import ModelStore, parse_ref
from tests.bad_corpus import BAD_DIR, FACE_CASES, BadCase
from tests.support import parquet_bytes, shifted_csv_bytes, trained, typed_table

CORPUS_IDS = [case.name for case in FACE_CASES]

MODEL = "api-model"
REF = f"{MODEL}@1"
CSV = {"content-type": "text/csv"}
CSV_BODY = "CSV body"  # how the API names a text/csv body in messages


def csv_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink)
    return sink.getvalue()


def columns(table: pa.Table, *names: str) -> dict[str, list]:
    return {n: table.column(n).to_pylist() for n in names or ("UserId", "Event", "Category")}


def library_answer(name: str, data: bytes) -> tuple[int, object]:
    """The due answer: 422 and the library's (so the CLI's) message, or 200 and its warnings."""
    try:
        log = read_logs((name, data))
    except FakeusersError as exc:
        return 422, str(exc)
    return 200, log.report.warnings


def api_answer(response) -> tuple[int, object]:
    body = response.json()
    return response.status_code, body["warnings"] if response.status_code == 200 else body["detail"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A client over a store with one model, trained through POST /train."""
    root = tmp_path_factory.mktemp("models")
    client = TestClient(create_app(root, max_bytes=8 * 2**20))
    training = csv_bytes(generate_log(20_000, seed=1))
    response = client.post(
        "/train", files={"file": ("train.csv", training, "text/csv")}, data={"name": MODEL}
    )
    assert response.status_code == 201, response.text
    return {"client": client, "root": root, "card": response.json(), "training": training}


@pytest.fixture(scope="module")
def scoring() -> dict:
    """A log to score, its CSV bytes and what the library makes of them."""
    table = generate_log(5_000, seed=2)
    return {"table": table, "csv": csv_bytes(table)}


@pytest.fixture(scope="module")
def expected(api, scoring) -> dict:
    stored = ModelStore(api["root"]).load(MODEL)
    log = read_logs(("score.csv", scoring["csv"]))
    scored = score_log(log, stored.model)
    assert not scored.out_of_fold
    return {"UserId": log.user_ids.tolist(), "p": scored.p, "warnings": log.report.warnings}


def assert_scored_like_the_library(body: dict, expected: dict) -> None:
    assert body["model"] == REF
    assert body["UserId"] == expected["UserId"]
    np.testing.assert_allclose(body["is_fake_probability"], expected["p"], rtol=1e-12, atol=0)
    assert (body["out_of_fold"], body["notes"]) == (False, [])


def train(client: TestClient, name: str, log: bytes, **form: str):
    """POST /train with one file; the response."""
    return client.post("/train", files={"file": ("t.csv", log)}, data={"name": name, **form})


def error_of(call) -> str:
    """The message of the FakeusersError that ``call()`` raises."""
    with pytest.raises(FakeusersError) as err:
        call()
    return str(err.value)


ONE_ROW = {"UserId": ["u"], "Event": ["click_ad"], "Category": ["Motor"]}


# --- service and model cards ----------------------------------------------------------------


def test_health_says_ok_with_the_version(api):
    response = api["client"].get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": fakeusers.__version__}


def test_models_lists_the_cards_of_the_store(api):
    response = api["client"].get("/models")
    assert response.status_code == 200
    listed = response.json()
    assert listed == ModelStore(api["root"]).list()
    assert (listed[0]["name"], listed[0]["version"], listed[0]["default"]) == (MODEL, 1, True)


@pytest.mark.parametrize("ref", [MODEL, REF])
def test_model_card_is_the_stored_card(api, ref):
    response = api["client"].get(f"/models/{ref}")
    assert response.status_code == 200
    assert response.json() == ModelStore(api["root"]).card(ref)
    assert response.json()["libraries"]["scikit-learn"]


@pytest.mark.parametrize(
    ("method", "path", "ref"),
    [
        ("GET", "/models/{}", "nobody"),
        ("GET", "/models/{}", "nobody@1"),
        ("GET", "/models/{}", f"{MODEL}@9"),
        ("GET", "/models/{}/versions", "nobody"),
        ("POST", "/models/{}/promote", "nobody"),
        ("POST", "/models/{}/promote", f"{MODEL}@9"),
    ],
)
def test_unknown_models_and_versions_are_404_in_the_stores_words(api, method, path, ref):
    detail = error_of(lambda: ModelStore(api["root"]).resolve(ref))
    response = api["client"].request(method, path.format(ref))
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize("ref", ["...", ".hidden", "a b", "x" * 65, "-dash", "m@", "m@0", "m@x"])
def test_invalid_model_refs_are_refused_in_the_stores_words(api, ref):
    detail = error_of(lambda: parse_ref(ref))
    response = api["client"].get(f"/models/{ref}")
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_docs_are_served_and_describe_the_three_body_types(api):
    client = api["client"]
    page = client.get("/docs")
    assert page.status_code == 200
    # Served by the API itself: every script and stylesheet comes from this server, so the
    # docs work on a machine with no internet.
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert all(client.get(a).status_code == 200 for a in assets)
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]
    assert set(body) == {
        "application/json",
        "text/csv",
        "application/vnd.apache.parquet",
        "multipart/form-data",
    }
    fields = body["application/json"]["schema"]["properties"]
    assert all(fields[name].get("description") for name in ("UserId", "cost_fp", "top_k"))
    train_form = schema["paths"]["/train"]["post"]["requestBody"]["content"]
    form_ref = train_form["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    form = schema["components"]["schemas"][form_ref]["properties"]
    assert {"file", "name", "model", "seed", "replace", "ignore_timestamps", "overlaps"} == set(
        form
    )
    assert form["overlaps"]["default"] == "keep_one" and "keep_all" in str(form["overlaps"])
    multipart = body["multipart/form-data"]["schema"]["properties"]
    assert "count twice" in multipart["overlaps"]["description"]
    assert {"/models/{ref}", "/models/{name}/versions", "/models/{ref}/promote"} <= set(
        schema["paths"]
    )
    card = schema["components"]["schemas"]["ModelCard"]["properties"]
    assert {"version", "schema", "libraries", "default"} <= set(card)
    assert "versions" not in card
    answer = schema["components"]["schemas"]["PredictResponse"]
    assert {"out_of_fold", "notes", "model"} <= set(answer["required"])
    assert "NAME@VERSION" in answer["properties"]["model"]["description"]


def test_every_documented_status_is_in_the_description(api):
    description = api["client"].get("/openapi.json").json()["info"]["description"]
    for status in (400, 404, 409, 413, 415, 422, 500, 503):
        assert f"| {status} |" in description


# --- training ---------------------------------------------------------------------------------


def test_train_returns_the_saved_card_and_its_location(api):
    card = dict(api["card"])
    assert card.pop("warnings") == []
    assert card["default"] is True  # the store's first model is its default
    assert card == ModelStore(api["root"]).card(REF)
    assert card["training"]["fingerprint_sha256"] == (
        read_logs(("train.csv", api["training"])).fingerprint()
    )
    assert card["cv"]["roc_auc"] > 0.9


def test_a_taken_name_is_409_and_replace_adds_a_version(tmp_path):
    client = TestClient(create_app(tmp_path))
    store = ModelStore(tmp_path)
    log = csv_bytes(generate_log(3_000, seed=5))
    first = train(client, "m", log)
    assert first.status_code == 201, first.text
    assert first.headers["location"] == "/models/m@1"
    again = train(client, "m", csv_bytes(generate_log(3_000, seed=6)))
    assert again.status_code == 409
    assert again.json() == {"detail": error_of(lambda: store.check_free("m"))}
    assert [v["version"] for v in store.versions("m")] == [1]

    replaced = train(client, "m", log, replace="true")
    assert replaced.status_code == 201
    assert (replaced.json()["version"], replaced.json()["default"]) == (2, False)
    assert replaced.headers["location"] == "/models/m@2"
    versions = client.get("/models/m/versions")
    assert versions.status_code == 200
    assert versions.json() == store.versions("m")
    assert [(v["version"], v["current"], v["default"]) for v in versions.json()] == [
        (2, True, False),
        (1, False, True),
    ]
    assert client.get("/models/m@1").json()["created"] == first.json()["created"]


def test_a_new_version_is_used_by_name_and_the_default_stays_until_promoted(tmp_path):
    """Loaded models are cached; a new version under the same name must not be masked."""
    store = ModelStore(tmp_path)
    store.save("m", trained(3_000, 5, timestamps=False))
    client = TestClient(create_app(tmp_path))
    body = columns(generate_log(1_000, seed=9))
    before = client.post("/predict", json={**body, "model": "m"}).json()
    store.save("m", trained(3_000, 6, timestamps=False), replace=True)
    by_name = client.post("/predict", json={**body, "model": "m"}).json()
    by_default = client.post("/predict", json=body).json()
    assert (before["model"], by_name["model"], by_default["model"]) == ("m@1", "m@2", "m@1")
    log = read_logs(("x.csv", csv_bytes(generate_log(1_000, seed=9))))
    for answer, ref in ((by_name, "m@2"), (by_default, "m@1")):
        p = score_log(log, store.load(ref).model).p
        np.testing.assert_allclose(answer["is_fake_probability"], p, rtol=1e-12)
    assert by_name["is_fake_probability"] != by_default["is_fake_probability"]


def test_promote_changes_the_model_predict_uses_by_default(tmp_path):
    store = ModelStore(tmp_path)
    store.save("first", trained(3_000, 5, timestamps=False))
    store.save("second", trained(3_000, 6, timestamps=False))
    client = TestClient(create_app(tmp_path))
    assert client.post("/predict", json=ONE_ROW).json()["model"] == "first@1"

    promoted = client.post("/models/second/promote")
    assert promoted.status_code == 200
    assert promoted.json() == store.card("second@1")
    assert store.default() == ("second", 1)
    assert client.post("/predict", json=ONE_ROW).json()["model"] == "second@1"
    listed = {c["name"]: c["default"] for c in client.get("/models").json()}
    assert listed == {"first": False, "second": True}

    assert client.post("/models/first@1/promote").status_code == 200
    assert client.post("/predict", json=ONE_ROW).json()["model"] == "first@1"


def test_train_refuses_an_unlabelled_log_in_the_readers_words(api):
    data = csv_bytes(generate_log(2_000, seed=3).drop_columns(["Fake"]))
    detail = error_of(lambda: read_logs(("plain.csv", data)).require_labels())
    response = api["client"].post("/train", files={"file": ("plain.csv", data)})
    assert response.status_code == 422
    assert response.json() == {"detail": detail}


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"name": "../up"}, "is not allowed"),
        ({"model": "forest"}, "'logistic' or 'boosting'"),
        ({"ignore_timestamps": "maybe"}, "ignore_timestamps in the body"),
    ],
)
def test_train_refuses_bad_names_and_types(api, form, words):
    response = api["client"].post("/train", files={"file": ("t.csv", b"x")}, data=form)
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_ignore_timestamps_trains_a_model_that_scores_logs_without_them(tmp_path):
    client = TestClient(create_app(tmp_path))
    log = csv_bytes(generate_log(3_000, seed=5, timestamps=True))
    timed = client.post("/train", files={"file": ("t.csv", log)})  # named by default
    plain = train(client, "plain", log, ignore_timestamps="true")
    assert timed.status_code == plain.status_code == 201
    assert timed.json()["name"].startswith("logistic-")
    assert timed.json()["vocabulary"]["timestamps"] is True
    assert plain.json()["vocabulary"]["timestamps"] is False

    table = generate_log(500, seed=6, timestamps=True)
    with_time = columns(table, "UserId", "Event", "Category", "Timestamp")
    without = columns(table)
    assert client.post("/predict", json=with_time).status_code == 200  # the default: timed
    refused = client.post("/predict", json=without)
    assert refused.status_code == 422
    assert "trained with timestamps" in refused.json()["detail"]
    scored = client.post("/predict", json={**without, "model": "plain"})
    assert scored.status_code == 200
    assert scored.json()["model"] == "plain@1"
    assert scored.json()["UserId"] == list(dict.fromkeys(without["UserId"]))


# --- predict: the three body types ------------------------------------------------------------


def test_predict_json_columns_scores_each_user_once_like_the_library(api, scoring, expected):
    response = api["client"].post("/predict", json=columns(scoring["table"]))
    assert response.status_code == 200
    body = response.json()
    assert_scored_like_the_library(body, expected)
    assert len(body["UserId"]) == len(set(body["UserId"]))
    assert not {"flagged", "threshold", "n_flagged", "expected_cost"} & set(body)


def test_predict_csv_body_scores_like_the_library(api, scoring, expected):
    response = api["client"].post("/predict", content=scoring["csv"], headers=CSV)
    assert response.status_code == 200
    assert_scored_like_the_library(response.json(), expected)
    assert response.json()["warnings"] == expected["warnings"]


def test_predict_gzipped_csv_body_reads_the_same(api, scoring, expected):
    packed = gzip.compress(scoring["csv"])
    response = api["client"].post("/predict", content=packed, headers=CSV)
    assert response.status_code == 200
    assert_scored_like_the_library(response.json(), expected)


def test_predict_multipart_file_scores_like_the_library(api, scoring, expected):
    response = api["client"].post("/predict", files={"file": ("score.csv", scoring["csv"])})
    assert response.status_code == 200
    assert_scored_like_the_library(response.json(), expected)


def test_predict_several_files_reads_them_as_one_log(api, scoring):
    a = csv_bytes(generate_log(1_000, seed=7))
    b = csv_bytes(generate_log(1_000, seed=8))
    files = [("file", ("a.csv", a)), ("file", ("b.csv", b))]
    response = api["client"].post("/predict", files=files)
    assert response.status_code == 200
    assert response.json()["UserId"] == read_logs([("a.csv", a), ("b.csv", b)]).user_ids.tolist()


def twice(data: bytes) -> list:
    """One export uploaded twice, as a.csv and b.csv: every user repeated whole."""
    return [("file", ("a.csv", data)), ("file", ("b.csv", data))]


def overlap_warning(body: dict) -> str:
    (warning,) = [w for w in body["warnings"] if "the exports overlap" in w]
    return warning


@pytest.mark.parametrize("where", ["form", "query"])
def test_overlapping_files_keep_one_copy_unless_both_are_asked_for(api, scoring, expected, where):
    client, files = api["client"], twice(scoring["csv"])

    def post(overlaps: str):
        given = {"data" if where == "form" else "params": {"overlaps": overlaps}}
        return client.post("/predict", files=files, **given)

    default, one, both = client.post("/predict", files=files), post("keep_one"), post("keep_all")
    assert default.status_code == one.status_code == both.status_code == 200, both.text
    assert default.json() == one.json()
    assert_scored_like_the_library(one.json(), expected)
    users = len(expected["UserId"])
    assert overlap_warning(one.json()) == (
        f"{users:,} users appear with the same events in a.csv and b.csv (5,000 rows in "
        "b.csv): the exports overlap. One copy is kept: those rows of b.csv are left out, not "
        "counted twice."
    )
    # Both copies: the same users, each with twice the events, so other probabilities.
    assert overlap_warning(both.json()).endswith(
        "Both copies are kept, so those users' events count twice."
    )
    assert both.json()["UserId"] == expected["UserId"]
    doubled = read_logs([("a.csv", scoring["csv"]), ("b.csv", scoring["csv"])], overlaps="keep_all")
    assert doubled.n_rows == 10_000
    model = ModelStore(api["root"]).load(MODEL).model
    np.testing.assert_allclose(both.json()["is_fake_probability"], score_log(doubled, model).p)
    assert not np.allclose(both.json()["is_fake_probability"], expected["p"])


@pytest.mark.parametrize(
    ("how", "where"), [("data", "overlaps in the body"), ("params", "overlaps in the query")]
)
def test_an_unknown_overlaps_choice_is_422_naming_the_choices(api, scoring, how, where):
    response = api["client"].post(
        "/predict", files=twice(scoring["csv"]), **{how: {"overlaps": "drop"}}
    )
    assert response.status_code == 422
    assert where in response.json()["detail"]
    assert "'keep_one' or 'keep_all'" in response.json()["detail"]


def test_train_on_overlapping_files_counts_the_rows_as_asked(tmp_path):
    client = TestClient(create_app(tmp_path))
    files = twice(csv_bytes(generate_log(3_000, seed=5)))
    one = client.post("/train", files=files, data={"name": "one"})
    both = client.post("/train", files=files, data={"name": "both", "overlaps": "keep_all"})
    assert one.status_code == both.status_code == 201, both.text
    assert (one.json()["training"]["rows"], both.json()["training"]["rows"]) == (3_000, 6_000)
    assert one.json()["training"]["users"] == both.json()["training"]["users"]
    assert "One copy is kept" in overlap_warning(one.json())
    assert "Both copies are kept" in overlap_warning(both.json())
    refused = client.post("/train", files=files, data={"name": "x", "overlaps": "drop"})
    assert refused.status_code == 422
    assert "overlaps in the body" in refused.json()["detail"]
    assert "'keep_one' or 'keep_all'" in refused.json()["detail"]


def test_users_come_in_order_of_first_appearance(api):
    body = {
        "UserId": ["b", "a", "c", "a", "b", 7],
        "Event": ["click_ad", "send_sms", "phone_call", "send_email", "click_ad", "click_ad"],
        "Category": ["Motor", "Jobs", "Phone", "Motor", "Motor", "Leisure"],
    }
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    assert response.json()["UserId"] == ["b", "a", "c", "7"]


def test_labels_timestamps_and_awkward_values_travel_through_json(api):
    """Quotes, commas, line breaks and padding in values reach the reader intact."""
    ids = ['say "hi"', "a,b", "line\nbreak", " padded "]
    body = {
        "UserId": ids,
        "Event": ["click_ad", "send_email", "send_sms", "phone_call"],
        "Category": ["Motor", "Jobs", "Phone", "Real_State"],
        "Fake": [1, 0, 0, 0],
        "Timestamp": ["2026-11-24T10:00:00Z", 1795514401, "1795514402.5", "2026-11-24T10:00:03Z"],
    }
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    assert response.json()["UserId"] == ['say "hi"', "a,b", "line\nbreak", "padded"]


# IDs with quotes, delimiters, line breaks and non-ASCII inside; never blank at the ends,
# where the reader trims, and never the header's own name, which it drops as a repeated header.
CORE = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")), min_size=1, max_size=5
)
SEPARATOR = st.sampled_from(["", '"', ",", ";", "\n", " ", "\t"])
USER_ID = st.builds(lambda a, sep, b: a + sep + b, CORE, SEPARATOR, CORE).filter(
    lambda v: v.lower() != "userid"
)
ROW = st.tuples(
    USER_ID, st.sampled_from((*KNOWN_EVENTS, "teleport")), st.sampled_from(KNOWN_CATEGORIES)
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=st.lists(ROW, min_size=1, max_size=30))
def test_any_json_ids_come_back_exactly_once_in_order(api, rows):
    ids, events, categories = (list(c) for c in zip(*rows, strict=True))
    body = {"UserId": ids, "Event": events, "Category": categories}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["UserId"] == list(dict.fromkeys(ids))
    assert all(0 <= p <= 1 for p in result["is_fake_probability"])


def test_reader_warnings_are_returned(api):
    body = {"UserId": ["u1", "u2"], "Event": ["click_ad", "teleport"], "Category": ["Motor"] * 2}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    assert any("teleport" in w for w in response.json()["warnings"])


# --- predict: decisions -----------------------------------------------------------------------


def test_costs_flag_users_at_m_over_m_plus_f(api, scoring, expected):
    body = {**columns(scoring["table"]), "cost_fp": 1, "cost_fn": 9}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    result = response.json()
    p = np.asarray(result["is_fake_probability"])
    assert result["threshold"] == pytest.approx(0.1)
    assert result["flagged"] == (p >= 0.1).tolist()
    assert result["n_flagged"] == int((p >= 0.1).sum()) > 0
    assert result["expected_cost"] == pytest.approx(expected_cost(p, p >= 0.1, 1, 9))
    low, high = result["expected_cost_interval"]
    assert [low, high] == pytest.approx(list(cost_interval(p, p >= 0.1, 1, 9)))
    assert low < result["expected_cost"] < high


def test_costs_in_the_query_string_for_csv_and_in_form_fields(api, scoring):
    client = api["client"]
    params = {"cost_fp": 1, "cost_fn": 9}
    by_query = client.post("/predict", content=scoring["csv"], headers=CSV, params=params)
    by_form = client.post(
        "/predict", files={"file": ("s.csv", scoring["csv"])}, data={"cost_fp": 1, "cost_fn": 9}
    )
    assert by_query.status_code == by_form.status_code == 200
    for result in (by_query.json(), by_form.json()):
        p = np.asarray(result["is_fake_probability"])
        assert result["threshold"] == pytest.approx(0.1)
        assert result["flagged"] == (p >= 0.1).tolist()


def test_top_k_flags_the_k_riskiest_without_a_threshold(api, scoring):
    body = {**columns(scoring["table"]), "top_k": 25}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    result = response.json()
    p = np.asarray(result["is_fake_probability"])
    flagged = np.asarray(result["flagged"])
    assert result["threshold"] is None
    assert result["n_flagged"] == flagged.sum() == 25
    assert p[flagged].min() >= p[~flagged].max()
    assert "expected_cost" not in result  # no costs, no price
    assert "expected_cost_interval" not in result


def test_top_k_with_costs_flags_the_k_riskiest_and_prices_them(api, scoring):
    body = {**columns(scoring["table"]), "top_k": 25, "cost_fp": 1, "cost_fn": 9}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 200
    result = response.json()
    p = np.asarray(result["is_fake_probability"])
    flagged = np.asarray(result["flagged"])
    assert (result["threshold"], result["n_flagged"], int(flagged.sum())) == (None, 25, 25)
    assert p[flagged].min() >= p[~flagged].max()
    assert result["expected_cost"] == pytest.approx(expected_cost(p, flagged, 1, 9))


def test_a_typed_threshold_flags_from_it_in_body_query_or_form(api, scoring):
    client = api["client"]
    by_body = client.post("/predict", json={**columns(scoring["table"]), "threshold": 0.3})
    by_query = client.post(
        "/predict", content=scoring["csv"], headers=CSV, params={"threshold": 0.3}
    )
    by_form = client.post(
        "/predict",
        files={"file": ("s.csv", scoring["csv"])},
        data={"threshold": 0.3, "cost_fp": 1, "cost_fn": 9},
    )
    for response in (by_body, by_query, by_form):
        assert response.status_code == 200, response.text
        result = response.json()
        p = np.asarray(result["is_fake_probability"])
        assert result["threshold"] == 0.3
        assert result["flagged"] == (p >= 0.3).tolist()
    assert "expected_cost" not in by_body.json()  # no costs, no price
    priced = by_form.json()
    flagged = np.asarray(priced["flagged"])
    assert priced["expected_cost"] == pytest.approx(expected_cost(p, flagged, 1, 9))
    assert len(priced["expected_cost_interval"]) == 2


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"cost_fp": 1}, "Give both costs"),
        ({"cost_fn": 1, "top_k": 5}, "Give both costs"),
        ({"cost_fp": 0, "cost_fn": 0}, "Both costs are zero"),
        ({"cost_fp": -1, "cost_fn": 9}, "cost_fp in the body"),
        ({"cost_fp": 1e308, "cost_fn": 1e308}, "Costs must be at most 1e15"),
        ({"top_k": -1}, "top_k in the body"),
        ({"top_k": 1.5}, "top_k in the body"),
        ({"costfp": 1}, "costfp in the body: Extra inputs are not permitted"),
        ({"threshold": 1.5}, "threshold in the body"),
        ({"threshold": 0.5, "top_k": 5}, "not both"),
    ],
)
def test_unusable_options_are_422_with_the_reason(api, options, words):
    response = api["client"].post("/predict", json={**ONE_ROW, **options})
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_an_option_given_twice_is_refused(api):
    body = {**ONE_ROW, "top_k": 1}
    response = api["client"].post("/predict", json=body, params={"top_k": 2})
    assert response.status_code == 422
    assert "top_k given both in the query string and in the body" in response.json()["detail"]
    unset = api["client"].post("/predict", json={**body, "top_k": None}, params={"top_k": 1})
    assert unset.status_code == 200 and unset.json()["n_flagged"] == 1


# --- predict: the model's own training log ----------------------------------------------------


def test_the_training_log_gets_the_models_out_of_fold_probabilities(api):
    """As in the CLI: metrics and costs on the training log are what the model does on
    users it has not seen, whatever body the log comes in."""
    stored = ModelStore(api["root"]).load(MODEL)
    table = pacsv.read_csv(io.BytesIO(api["training"]))
    as_json = {**columns(table, "UserId", "Event", "Category", "Fake"), "cost_fp": 1, "cost_fn": 9}
    client = api["client"]
    for response in (
        client.post("/predict", content=api["training"], headers=CSV),
        client.post("/predict", files={"file": ("again.csv", gzip.compress(api["training"]))}),
        client.post("/predict", json=as_json),
    ):
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["out_of_fold"] is True
        assert result["model"] == REF
        assert len(result["notes"]) == 1 and "out-of-fold" in result["notes"][0]
        np.testing.assert_array_equal(result["is_fake_probability"], stored.model.oof_p)
    assert result["flagged"] == (stored.model.oof_p >= 0.1).tolist()


# --- predict: refusals ------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["nobody", f"{MODEL}@9"])
def test_predict_with_an_unknown_model_or_version_is_404_in_the_stores_words(api, ref):
    detail = error_of(lambda: ModelStore(api["root"]).resolve(ref))
    response = api["client"].post("/predict", json={**ONE_ROW, "model": ref})
    assert response.status_code == 404
    assert response.json() == {"detail": detail}


def test_predict_by_name_at_version_uses_that_version(api, scoring, expected):
    response = api["client"].post(
        "/predict", content=scoring["csv"], headers=CSV, params={"model": REF}
    )
    assert response.status_code == 200
    assert_scored_like_the_library(response.json(), expected)


@pytest.mark.parametrize("name", ["../models", "a/b", "", "m@x"])
def test_predict_refuses_model_refs_that_are_paths_or_no_version(api, scoring, name):
    detail = error_of(lambda: parse_ref(name))
    response = api["client"].post(
        "/predict", content=scoring["csv"], headers=CSV, params={"model": name}
    )
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_the_model_is_checked_before_the_log_is_read(api):
    """A wrong model fails at once, whatever the log: it is not read first."""
    response = api["client"].post(
        "/predict", content=b"\x00not a log", headers=CSV, params={"model": "nobody"}
    )
    assert response.status_code == 404
    bad_rule = api["client"].post(
        "/predict", content=b"\x00not a log", headers=CSV, params={"cost_fp": 1}
    )
    assert bad_rule.status_code == 422
    assert "Give both costs" in bad_rule.json()["detail"]


def test_predict_without_any_model_says_how_to_train_one(tmp_path):
    store = ModelStore(tmp_path / "empty")
    client = TestClient(create_app(store.root))
    response = client.post("/predict", json=ONE_ROW)
    assert response.status_code == 404
    assert response.json() == {"detail": error_of(store.default)}
    assert "Train one" in response.json()["detail"]


def test_unequal_columns_are_422_with_the_lengths(api):
    body = {"UserId": ["u1", "u2", "u3"], "Event": ["click_ad"] * 2, "Category": ["Motor"] * 3}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "same length" in detail
    assert "UserId has 3, Event has 2, Category has 3" in detail


def test_json_missing_column_is_422_naming_it(api):
    response = api["client"].post("/predict", json={"UserId": ["u1"], "Event": ["click_ad"]})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"loc": ["body", "Category"], "msg": "Field required", "type": "missing"}
    ]
    assert "Category in the body: Field required" in response.json()["detail"]


@pytest.mark.parametrize(
    ("value", "where"),
    [([None], "UserId[0]"), ([True], "UserId[0]"), ("u1", "UserId"), (["u\x00"], "NUL")],
)
def test_json_values_that_cannot_be_log_values_are_422(api, value, where):
    body = {"UserId": value, "Event": ["click_ad"], "Category": ["Motor"]}
    response = api["client"].post("/predict", json=body)
    assert response.status_code == 422
    assert where in response.json()["detail"]


def test_json_labels_other_than_0_or_1_are_refused_at_their_index(api):
    body = {"UserId": ["a", "b"], "Event": ["click_ad"] * 2, "Category": ["Motor"] * 2}
    response = api["client"].post("/predict", json={**body, "Fake": [0, 2]})
    assert response.status_code == 422
    assert "Fake[1] in the body: Input should be 0 or 1" in response.json()["detail"]


def test_unsupported_content_type_is_415_naming_the_accepted_ones(api, scoring):
    for headers in ({"content-type": "application/x-www-form-urlencoded"}, {}):
        response = api["client"].post("/predict", content=scoring["csv"], headers=headers)
        assert response.status_code == 415
        detail = response.json()["detail"]
        assert all(t in detail for t in ("application/json", "text/csv", "multipart/form-data"))


@pytest.mark.parametrize("path", ["/predict", "/train"])
def test_malformed_multipart_is_400_json(api, path):
    headers = {"content-type": "multipart/form-data"}
    response = api["client"].post(path, content=b"--xyz\r\nnonsense", headers=headers)
    assert response.status_code == 400
    assert "boundary" in response.json()["detail"]


def test_multipart_without_a_file_field_says_which_field(api, scoring):
    response = api["client"].post("/predict", files={"upload": ("s.csv", scoring["csv"])})
    assert response.status_code == 422
    assert "file field named 'file'" in response.json()["detail"]


# --- the bad-input corpus (tests/bad_corpus.py): the same decision as the library ----------
# The library reads every case (tests/test_bad_corpus.py); here, representative ones show that
# the API turns each outcome into its answer unchanged, whatever the body type.


@pytest.mark.parametrize("case", FACE_CASES, ids=CORPUS_IDS)
def test_bad_corpus_upload_gets_the_products_decision(api, case: BadCase):
    """Uploaded under its own name, each file is scored or refused as the CLI does."""
    data = case.path.read_bytes()
    response = api["client"].post("/predict", files={"file": (case.name, data)})
    assert api_answer(response) == library_answer(case.name, data)
    result = response.json()
    if case.decision == "refuse":
        case.check_refusal(result["detail"])
        return
    case.check_warnings(result["warnings"])
    assert len(result["UserId"]) == len(result["is_fake_probability"])
    if case.users is not None:
        assert len(result["UserId"]) == case.users
    if case.user_ids is not None:
        assert result["UserId"] == list(case.user_ids)


@pytest.mark.parametrize("case", FACE_CASES, ids=CORPUS_IDS)
def test_bad_corpus_as_csv_body_gets_the_libraries_answer(api, case: BadCase):
    data = case.path.read_bytes()
    response = api["client"].post("/predict", content=data, headers=CSV)
    assert api_answer(response) == library_answer(CSV_BODY, data)


@pytest.mark.parametrize("name", ["binary_garbage.csv", "spreadsheet.csv", "empty.csv"])
def test_bad_bytes_sent_as_json_are_422(api, name):
    data = (BAD_DIR / name).read_bytes()
    response = api["client"].post(
        "/predict", content=data, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "Invalid JSON" in response.json()["detail"]


# --- size limits ------------------------------------------------------------------------------


@pytest.fixture
def small(api) -> TestClient:
    """A client whose server accepts at most 10,000 bytes."""
    return TestClient(create_app(api["root"], max_bytes=10_000))


def assert_too_large(response, words: str = "The request") -> None:
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail.startswith(words)
    assert "10,000 bytes" in detail and MAX_BYTES_ENV in detail


def test_oversize_bodies_are_413_with_the_limit_and_the_fix(small, scoring):
    big = scoring["csv"][:20_000]
    assert_too_large(small.post("/predict", content=big, headers=CSV))
    assert_too_large(small.post("/predict", json={"UserId": ["u" * 20_000], "Event": [], "C": []}))
    assert_too_large(small.post("/predict", files={"file": ("big.csv", big)}))
    assert_too_large(small.post("/train", files={"file": ("big.csv", big)}))


def test_oversize_body_without_content_length_is_413(small, scoring):
    def chunks():
        for start in range(0, 30_000, 1_000):
            yield scoring["csv"][start : start + 1_000]

    assert_too_large(small.post("/predict", content=chunks(), headers=CSV))


def test_small_gzip_that_inflates_past_the_limit_is_413(small):
    bomb = gzip.compress(b"UserId,Event,Category\n" + b"u1,click_ad,Motor\n" * 5_000)
    assert len(bomb) < 10_000
    assert_too_large(small.post("/predict", content=bomb, headers=CSV), "CSV body, decompressed,")


def test_bodies_under_the_limit_are_served(small):
    data = b"UserId,Event,Category\n" + b"u1,click_ad,Motor\n" * 100
    assert small.post("/predict", content=data, headers=CSV).status_code == 200
    assert small.post("/predict", content=gzip.compress(data), headers=CSV).status_code == 200


@pytest.mark.parametrize("setting", ["2000", "2KB", " 2 kb "])
def test_size_limit_comes_from_the_environment(tmp_path, monkeypatch, setting):
    monkeypatch.setenv(MAX_BYTES_ENV, setting)
    client = TestClient(create_app(tmp_path))
    response = client.post("/predict", content=b"x" * 3_000, headers=CSV)
    assert response.status_code == 413
    assert "2,000 bytes" in response.json()["detail"]


@pytest.mark.parametrize("setting", ["lots", "0", "-5MB", "1.5"])
def test_a_bad_size_limit_is_refused_in_the_size_parsers_words(tmp_path, monkeypatch, setting):
    monkeypatch.setenv(MAX_BYTES_ENV, setting)
    detail = error_of(lambda: create_app(tmp_path))
    assert detail == error_of(lambda: limit_from_env(MAX_BYTES_ENV, DEFAULT_MAX_BYTES))
    assert MAX_BYTES_ENV in detail and repr(setting.strip()) in detail
    assert error_of(lambda: create_app(tmp_path, max_bytes=0)) == error_of(lambda: parse_size(0))


# --- broken models ----------------------------------------------------------------------------


@pytest.fixture
def one_model(tmp_path) -> tuple[TestClient, ModelStore]:
    store = ModelStore(tmp_path)
    store.save("m", trained(3_000, 5, timestamps=False))
    return TestClient(create_app(tmp_path)), store


def plant_bundle(store: ModelStore, data: bytes) -> None:
    """Replace m@1's bundle and record the new sha256, as anyone who can write the store
    could: only the loader's own checks stand."""
    folder = store.root / "m" / "v1"
    (folder / "model.skops").write_bytes(data)
    card = json.loads((folder / "model.json").read_text())
    card["bundle_sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "model.json").write_text(json.dumps(card))


def assert_unusable_everywhere(client: TestClient, store: ModelStore) -> None:
    """/predict (by name and by default) and promote answer 409 in the store's words."""
    detail = error_of(lambda: store.load("m"))
    for response in (
        client.post("/predict", json=ONE_ROW),
        client.post("/predict", json={**ONE_ROW, "model": "m@1"}),
        client.post("/models/m/promote"),
    ):
        assert response.status_code == 409
        assert response.json() == {"detail": detail}


def test_a_tampered_model_is_409(one_model):
    client, store = one_model
    with open(store.root / "m" / "v1" / "model.skops", "ab") as bundle:
        bundle.write(b"tampered")
    assert_unusable_everywhere(client, store)
    assert "sha256" in error_of(lambda: store.load("m"))


def test_a_bundle_that_is_not_a_fakeusers_model_is_409(one_model):
    client, store = one_model
    scaler = StandardScaler().fit(np.random.default_rng(0).normal(size=(20, 2)))
    plant_bundle(store, sio.dumps({"pipeline": scaler, "oof_y": [0], "oof_p": [0.5]}))
    assert_unusable_everywhere(client, store)
    assert "not a fakeusers model" in error_of(lambda: store.load("m"))


def test_a_bundle_with_untrusted_types_is_409_whatever_its_sha256(one_model):
    client, store = one_model
    plant_bundle(store, sio.dumps({"pipeline": os.system, "oof_y": [0], "oof_p": [0.5]}))
    assert_unusable_everywhere(client, store)


def test_a_model_without_its_bundle_is_409_and_listed_with_the_reason(one_model):
    client, store = one_model
    (store.root / "m" / "v1" / "model.skops").unlink()
    assert_unusable_everywhere(client, store)
    listed = client.get("/models").json()
    assert listed == store.list()
    assert listed[0]["name"] == "m" and "is missing" in listed[0]["error"]


# --- errors that are not the user's -----------------------------------------------------------


class _Failing:
    """A model store whose every call fails as a bug, or as the machine running out of memory."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            raise self.error

        return fail


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (RuntimeError("secret internals"), 500, "this is a bug in fakeusers"),
        (MemoryError(), 413, "Not enough memory"),
    ],
)
def test_unexpected_errors_are_json_without_a_traceback(tmp_path, error, status, words):
    app = create_app(tmp_path)
    app.state.store = _Failing(error)
    client = TestClient(app, raise_server_exceptions=False)
    for response in (client.get("/models"), client.post("/predict", json=ONE_ROW)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert words in response.json()["detail"]
        assert "secret" not in response.text and "Traceback" not in response.text
    assert client.get("/health").status_code == 200


def test_predict_says_whether_the_model_fits_the_log(api, scoring):
    client = api["client"]
    fits = client.post("/predict", content=scoring["csv"], headers=CSV).json()["applicability"]
    assert fits["status"] == "fits"
    assert fits["reasons"] and fits["unseen"] == {"events": [], "categories": [], "row_share": 0.0}
    shifted = shifted_csv_bytes(10_000, seed=3)
    answer = client.post("/predict?cost_fp=1&cost_fn=9", content=shifted, headers=CSV).json()
    check = answer["applicability"]
    assert check["status"] == "does_not_fit"
    assert check["in_words"].startswith("the log does not fit the model")
    assert check["flagged_share"]["share_here"] == pytest.approx(
        answer["n_flagged"] / len(answer["UserId"])
    )
    assert check["shifted_features"][0]["psi"] == check["psi_max"]
    assert any("send_email" in r or "click_ad" in r for r in check["reasons"])


def test_predict_reasons_are_aligned_with_users_and_the_librarys_words(api, scoring):
    response = api["client"].post(
        "/predict", json={**columns(scoring["table"]), "reasons": True, "top_k": 5}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    stored = ModelStore(api["root"]).load(MODEL)
    scored = score_log(read_logs(("score.csv", scoring["csv"])), stored.model)
    expected = scored.reasons(range(scored.n_users))
    assert len(body["reasons"]) == len(body["UserId"]) == len(expected)
    assert body["reasons"] == [[r.to_dict() for r in rs] for rs in expected]
    for flagged, reasons in zip(body["flagged"], body["reasons"], strict=True):
        if flagged:
            assert reasons and reasons[0]["odds_factor"] >= 1.1
            assert reasons[0]["real_percentile"] is not None
            assert "of real users" in reasons[0]["text"]
    plain = api["client"].post("/predict", json=columns(scoring["table"])).json()
    assert "reasons" not in plain, "reasons only when asked for"


# --- Parquet logs -----------------------------------------------------------------------------

PARQUET = {"content-type": "application/vnd.apache.parquet"}


@pytest.fixture(scope="module")
def scoring_parquet(scoring) -> bytes:
    """The scoring log as a data lake types it (int64 IDs, dictionaries, bool, timestamps)."""
    return parquet_bytes(typed_table(scoring["table"]))


@pytest.mark.parametrize(
    "headers", [PARQUET, {"content-type": "application/octet-stream"}], ids=["parquet", "bytes"]
)
def test_predict_parquet_body_scores_like_the_csv(api, scoring_parquet, expected, headers):
    response = api["client"].post("/predict", content=scoring_parquet, headers=headers)
    assert response.status_code == 200, response.text
    assert_scored_like_the_library(response.json(), expected)
    assert response.json()["warnings"] == expected["warnings"]


def test_predict_and_train_read_parquet_uploads(api, scoring_parquet, expected):
    client = api["client"]
    response = client.post("/predict", files={"file": ("score.parquet", scoring_parquet)})
    assert response.status_code == 200, response.text
    assert_scored_like_the_library(response.json(), expected)
    training = parquet_bytes(typed_table(generate_log(20_000, seed=1)))
    response = client.post(
        "/train", files={"file": ("train.parquet", training)}, data={"name": "from-parquet"}
    )
    assert response.status_code == 201, response.text
    # The same log as CSV trained the fixture's model: the same figures.
    assert response.json()["cv"] == api["card"]["cv"]


def test_octet_stream_bodies_are_read_as_what_they_are(api, scoring, expected):
    headers = {"content-type": "application/octet-stream"}
    for body in (scoring["csv"], gzip.compress(scoring["csv"])):
        response = api["client"].post("/predict", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert_scored_like_the_library(response.json(), expected)


def test_bad_parquet_is_422_in_the_readers_words(api, scoring, scoring_parquet):
    client = api["client"]
    response = client.post("/predict", content=scoring["csv"], headers=PARQUET)
    assert response.status_code == 422
    assert "not a Parquet file (it does not start with PAR1)" in response.json()["detail"]
    cut = scoring_parquet[: len(scoring_parquet) // 2]
    response = client.post("/predict", files={"file": ("cut.parquet", cut)})
    assert api_answer(response) == library_answer("cut.parquet", cut)
    assert "cut.parquet cannot be read as Parquet" in response.json()["detail"]
    no_event = parquet_bytes(typed_table(scoring["table"]).drop_columns(["Event"]))
    response = client.post("/predict", content=no_event, headers=PARQUET)
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Parquet body has no column 'Event'")


def test_small_parquet_that_decodes_past_the_limit_is_413(small):
    rows = 2_000
    table = pa.table(
        {
            "UserId": pa.array(["u" * 100] * rows).dictionary_encode(),
            "Event": pa.array(["click_ad"] * rows).dictionary_encode(),
            "Category": pa.array(["Motor"] * rows).dictionary_encode(),
        }
    )
    bomb = parquet_bytes(table)
    assert len(bomb) < 10_000
    response = small.post("/predict", content=bomb, headers=PARQUET)
    assert_too_large(response, "Parquet body, decoded,")
    response = small.post("/train", files={"file": ("bomb.parquet", bomb)})
    assert_too_large(response, "bomb.parquet, decoded,")
