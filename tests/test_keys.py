"""API keys: made and revoked on the command line, asked for by the API once one exists,
scopes that nest, the key's name in the audit trail, and ``serve`` that will not listen
beyond this machine without keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakeusers.api import create_app
from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from fakeusers.keys import KeyStore
from fakeusers.store import ModelStore
from tests.support import ROOT, csv_bytes, free_port, run_cli, trained

CSV = {"Content-Type": "text/csv"}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FAKEUSERS_DB_URL": f"sqlite:///{tmp_path / 'review.db'}"}


def test_a_key_is_printed_once_alone_on_the_last_line_and_only_its_hash_is_kept(env) -> None:
    made = run_cli("keys", "add", "scoring-job", "--scope", "predict", env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.splitlines()[-1]
    assert key.startswith("fku_") and len(key) > 40 and " " not in key
    listed = run_cli("keys", "list", env=env)
    assert (
        "scoring-job" in listed.stdout and "predict" in listed.stdout and "in use" in listed.stdout
    )
    assert key not in listed.stdout
    db_file = Path(env["FAKEUSERS_DB_URL"].removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in db_file.parent.glob(f"{db_file.name}*"))
    assert stored and key.encode() not in stored
    again = run_cli("keys", "add", "scoring-job", "--scope", "admin", env=env)
    assert again.returncode == 2 and "revoke it first" in again.stderr
    assert run_cli("keys", "revoke", "scoring-job", env=env).returncode == 0
    assert "revoked" in run_cli("keys", "list", env=env).stdout
    gone = run_cli("keys", "revoke", "scoring-job", env=env)
    assert gone.returncode == 2 and "No key named 'scoring-job' is in use" in gone.stderr
    bad = run_cli("keys", "add", "x", "--scope", "root", env=env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_the_api_asks_for_a_key_once_one_exists_and_scopes_nest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'review.db'}"
    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    client = TestClient(create_app(tmp_path / "models", db_url=url))
    log = csv_bytes(2_000, 2)
    assert client.post("/predict", content=log, headers=CSV).status_code == 200, "open: no keys"

    keys = KeyStore(Database(url))
    scoring, review, admin = (keys.add(n, n) for n in ("predict", "review", "admin"))

    def call(method: str, path: str, key: str | None = None, **kwargs):
        headers = {**kwargs.pop("headers", {})}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        return client.request(method, path, headers=headers, **kwargs)

    assert call("GET", "/health").status_code == 200
    refused = call("GET", "/models")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer KEY" in refused.json()["detail"]
    assert call("GET", "/models", "fku_not-a-key").status_code == 401
    assert call("GET", "/models", scoring).status_code == 200
    assert call("POST", "/predict", scoring, content=log, headers=CSV).status_code == 200
    verdict = {"analyst": "bot", "verdicts": [{"UserId": "u1", "verdict": "fake"}]}
    denied = call("POST", "/verdicts", scoring, json=verdict)
    assert denied.status_code == 403 and "needs 'review'" in denied.json()["detail"]
    assert call("POST", "/models/june/promote", review).status_code == 403
    assert call("POST", "/verdicts", review, json=verdict).status_code == 201
    assert call("POST", "/models/june/promote", admin).status_code == 200
    (entry,) = AuditTrail(Database(url)).entries(action="verdict").to_dict("records")
    assert (entry["actor"], entry["actor_verified"]) == ("review", True)
    assert "analyst named in the request: bot" in entry["detail"]
    keys.revoke("predict")
    assert call("GET", "/models", scoring).status_code == 401


def test_serve_beyond_this_machine_needs_a_key(env, tmp_path: Path) -> None:
    port = free_port()
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "fakeusers",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--models-dir",
            str(tmp_path / "models"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: Refusing to listen on 0.0.0.0 without API keys")
    assert "keys add NAME --scope admin" in refused.stderr and "Traceback" not in refused.stderr
