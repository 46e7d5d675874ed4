"""``/verdicts`` and verdicts in ``/predict``: the same rules as the command line, over HTTP,
on SQLite and on a real PostgreSQL server; verdicts survive a restart of the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakeusers.api import create_app
from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from fakeusers.reading import read_logs
from fakeusers.scoring import Rule, score_log
from fakeusers.store import ModelStore
from tests.support import api_server, csv_bytes, trained

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def api(tmp_path: Path, database_url: str) -> dict:
    store = ModelStore(tmp_path / "models")
    store.save("june", trained(20_000, 1))
    client = TestClient(create_app(tmp_path / "models", db_url=database_url))
    return {"client": client, "db": database_url}


def test_verdicts_as_json_or_csv_are_recorded_and_listed(api) -> None:
    client = api["client"]
    sent = {
        "analyst": "ana",
        "verdicts": [
            {"UserId": "u1", "verdict": "fake", "note": "40 emails a minute"},
            {"UserId": "u2", "verdict": "real"},
        ],
    }
    assert client.post("/verdicts", json=sent).json() == {"recorded": 2, "fake": 1, "real": 1}
    answer = client.post(
        "/verdicts", content=b"UserId,verdict\nu2,fake\n", headers=CSV, params={"analyst": "bo"}
    )
    assert answer.status_code == 201, answer.text
    listed = client.get("/verdicts").json()["verdicts"]
    assert [(v["UserId"], v["verdict"], v["analyst"]) for v in listed] == [
        ("u1", "fake", "ana"),
        ("u2", "fake", "bo"),
    ]
    assert listed[0]["note"] == "40 emails a minute" and not listed[0]["analyst_verified"]
    assert client.get("/verdicts", params={"UserId": "u2"}).json()["verdicts"][0]["analyst"] == "bo"
    block = client.post(
        "/verdicts",
        content=b"UserId\nu3\nu4\n",
        headers=CSV,
        params={"analyst": "bo", "as": "fake"},
    )
    assert block.json() == {"recorded": 2, "fake": 2, "real": 0}
    assert AuditTrail(Database(api["db"])).entries()["actor"].tolist() == ["bo", "bo", "ana"]


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        (
            {"json": {"analyst": "a", "verdicts": [{"UserId": "u", "verdict": "maybe"}]}},
            422,
            "verdicts[0].verdict in the body: Input should be 'fake' or 'real'",
        ),
        (
            {"json": {"analyst": "a", "verdicts": [{"UserId": " ", "verdict": "fake"}]}},
            422,
            "verdicts[0]: the UserId is empty",
        ),
        (
            {"json": {"analyst": "", "verdicts": [{"UserId": "u", "verdict": "fake"}]}},
            422,
            "analyst",
        ),
        ({"json": {"verdicts": []}}, 422, "analyst"),
        (
            {
                "content": b"UserId,verdict\nu1,fake\nu2,nope\n",
                "headers": CSV,
                "params": {"analyst": "a"},
            },
            422,
            "line 3: verdict 'nope'",
        ),
        ({"content": b"UserId,verdict\nu1,fake\n", "headers": CSV}, 422, "?analyst=NAME"),
        (
            {"content": b"u1", "headers": {"Content-Type": "application/xml"}},
            415,
            "application/json",
        ),
    ],
)
def test_bad_verdicts_record_nothing_and_say_what_is_wrong(api, kwargs, status, words) -> None:
    answer = api["client"].post("/verdicts", **kwargs)
    assert answer.status_code == status, answer.text
    assert isinstance(answer.json()["detail"], str) and words in answer.json()["detail"]
    assert "pydantic" not in answer.text and "validation error" not in answer.text
    assert api["client"].get("/verdicts").json() == {"verdicts": []}


def test_predict_applies_verdicts_and_says_why(api) -> None:
    client = api["client"]
    data = csv_bytes(5_000, 2)
    base = score_log(read_logs([("s.csv", data)]), trained(20_000, 1), Rule.of(1, 9))
    riskiest, safest = base.ranked_flagged[0], base.order[-1]
    ids = base.user_ids
    client.post(
        "/verdicts",
        json={
            "analyst": "ana",
            "verdicts": [
                {"UserId": ids[riskiest], "verdict": "real"},
                {"UserId": ids[safest], "verdict": "fake"},
            ],
        },
    )
    body = client.post(
        "/predict", content=data, headers=CSV, params={"cost_fp": 1, "cost_fn": 9}
    ).json()
    assert body["flagged"][riskiest] is False and body["flagged"][safest] is True
    assert (body["why"][riskiest], body["why"][safest]) == ("cleared", "confirmed fake")
    assert body["why"].count("model") == base.n_users - 2
    plain = client.post("/predict", content=data, headers=CSV).json()
    assert "why" not in plain and "flagged" not in plain, "no rule: probabilities only"


def test_an_unreachable_database_is_503_as_keys_cannot_be_checked(tmp_path) -> None:
    """The API cannot tell whether keys exist: it refuses rather than lets anyone in (the
    command line and the dashboard keep scoring without the database)."""
    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    down = "postgresql+psycopg://nobody@/fakeusers?host=/nonexistent&connect_timeout=2"
    client = TestClient(create_app(tmp_path / "models", db_url=down))
    for answer in (
        client.get("/verdicts"),
        client.post("/predict", content=csv_bytes(2_000, 2), headers=CSV, params={"top_k": 3}),
    ):
        assert answer.status_code == 503
        assert "check that the server is running" in answer.json()["detail"]
    assert client.get("/health").status_code == 200


def test_verdicts_survive_a_restart_of_the_server(tmp_path: Path) -> None:
    env = {"FAKEUSERS_DB_URL": f"sqlite:///{tmp_path / 'review.db'}"}
    with api_server(tmp_path, env=env, log_name="first.log") as server, server.client() as c:
        sent = {"analyst": "ana", "verdicts": [{"UserId": "u1", "verdict": "fake"}]}
        assert c.post("/verdicts", json=sent).status_code == 201
    with api_server(tmp_path, env=env, log_name="second.log") as server, server.client() as c:
        held = c.get("/verdicts").json()["verdicts"]
        assert [(v["UserId"], v["verdict"]) for v in held] == [("u1", "fake")]
