"""The API as deployed: ``python -m fakeusers serve`` in a subprocess, spoken to over HTTP.

What the test client cannot show: the command starts uvicorn, listens on 127.0.0.1 only by
default, refuses oversize uploads over a real socket, keeps serving after bad requests,
settles trainings racing for one name in the store (one saved, the others refused) and
stops cleanly on SIGTERM.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pyarrow.csv as pacsv
import pytest

from fakeusers.api import DEFAULT_MAX_BYTES, MAX_BYTES_ENV
from fakeusers.demo import generate_log
from fakeusers.errors import FakeusersError
from fakeusers.limits import limit_from_env
from fakeusers.reading import read_logs
from fakeusers.scoring import score_log
from fakeusers.store import ModelStore
from tests.support import api_server

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 2_000_000


def csv_bytes(n_events: int, seed: int) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(generate_log(n_events, seed=seed), sink)
    return sink.getvalue()


def listening_addresses(port: int) -> set[str]:
    """IPv4 addresses listening on ``port``, from /proc/net/tcp (hex, little-endian)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp("server")
    # Four trainings at once: the racing test is about the store's name lock, not the budget
    # (tests/test_api_budgets.py tests that).
    env = {MAX_BYTES_ENV: str(LIMIT), "FAKEUSERS_API_MAX_TRAININGS": "4"}
    with api_server(tmp, env=env) as running, running.client() as client:
        yield {"client": client, "port": running.port, "models": tmp / "models", "log": running.log}
    assert "Application shutdown complete" in running.log.read_text()


@pytest.fixture(scope="module")
def trained(server) -> str:
    response = server["client"].post(
        "/train", files={"file": ("train.csv", csv_bytes(20_000, 1))}, data={"name": "live"}
    )
    assert response.status_code == 201, response.text
    return response.json()["name"]


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_listens_on_localhost_only_by_default(server):
    assert listening_addresses(server["port"]) == {"127.0.0.1"}


def test_predict_over_http_scores_like_the_library(server, trained):
    data = csv_bytes(10_000, 2)
    table = generate_log(10_000, seed=2)
    body = {c: table.column(c).to_pylist() for c in ("UserId", "Event", "Category")}
    by_json = server["client"].post("/predict", json={**body, "cost_fp": 1, "cost_fn": 9})
    by_csv = server["client"].post(
        "/predict", content=data, headers={"content-type": "text/csv"}, params={"top_k": 10}
    )
    assert by_json.status_code == by_csv.status_code == 200

    stored = ModelStore(server["models"]).load(trained)
    log = read_logs(("score.csv", data))
    expected = score_log(log, stored.model).p
    for result in (by_json.json(), by_csv.json()):
        assert result["model"] == f"{trained}@1"
        assert result["out_of_fold"] is False
        assert result["UserId"] == log.user_ids.tolist()
        np.testing.assert_allclose(result["is_fake_probability"], expected, rtol=1e-12)
    assert by_json.json()["flagged"] == (expected >= 0.1).tolist()
    assert sum(by_csv.json()["flagged"]) == 10 and by_csv.json()["threshold"] is None


def test_errors_over_http_are_json_and_the_server_keeps_serving(server, trained):
    client = server["client"]
    csv_headers = {"content-type": "text/csv"}
    unknown = client.post("/predict", content=csv_bytes(200, 3), headers=csv_headers,
                          params={"model": "nobody"})  # fmt: skip
    garbage = client.post("/predict", content=bytes(range(256)) * 8, headers=csv_headers)
    missing = client.post("/predict", files={"file": ("x.csv", b"UserId,Event\nu,click_ad\n")})
    assert (unknown.status_code, garbage.status_code, missing.status_code) == (404, 422, 422)
    assert "No model named 'nobody'" in unknown.json()["detail"]
    assert garbage.json()["detail"].startswith("CSV body is not a CSV file: it is not text")
    assert missing.json()["detail"].startswith("x.csv has no column 'Category'")
    assert client.get("/health").status_code == 200


def test_oversize_uploads_are_refused_over_a_real_socket(server):
    client = server["client"]
    big = b"UserId,Event,Category\n" + b"u1,click_ad,Motor\n" * (LIMIT // 18 + 1_000)
    declared = client.post("/predict", content=big, headers={"content-type": "text/csv"})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 64_000):
            yield big[start : start + 64_000]

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "text/csv"})
    for response in (declared, streamed):
        assert response.status_code == 413
        assert f"{LIMIT:,} bytes" in response.json()["detail"]
    assert client.get("/health").status_code == 200


def test_racing_trainings_for_one_name_end_with_one_model_and_the_others_refused(server):
    """Four callers train "raced" at once: the store decides under its lock, so exactly one
    is saved (201) and the others get 409, never a card whose bundle is another's."""
    client, n = server["client"], 4
    logs = [csv_bytes(5_000, seed) for seed in range(10, 10 + n)]
    start = threading.Barrier(n)
    answers: list[httpx.Response | None] = [None] * n

    def train(i: int) -> None:
        start.wait()
        answers[i] = client.post(
            "/train", files={"file": (f"race-{i}.csv", logs[i])}, data={"name": "raced"}
        )

    threads = [threading.Thread(target=train, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * (n - 1), [a.text for a in answers]
    store = ModelStore(server["models"])
    with pytest.raises(FakeusersError) as taken:
        store.check_free("raced")
    assert all(a.json() == {"detail": str(taken.value)} for a in answers if a.status_code == 409)
    saved = next(a.json() for a in answers if a.status_code == 201)
    assert [v["version"] for v in store.versions("raced")] == [1]
    assert store.card("raced")["bundle_sha256"] == saved["bundle_sha256"]
    winner = logs[[a.status_code for a in answers].index(201)]
    assert saved["training"]["fingerprint_sha256"] == read_logs(("w.csv", winner)).fingerprint()
    # The race was real: more than one training got past the early name check and read its
    # log, so the store's lock, not that check, decided.
    server_log = server["log"].read_text()
    started = [line for line in server_log.splitlines() if "users from race-" in line]
    assert len(started) >= 2, server_log


def test_serve_refuses_a_bad_size_limit_like_every_command(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_BYTES_ENV, "lots")
    with pytest.raises(FakeusersError) as refused:
        limit_from_env(MAX_BYTES_ENV, DEFAULT_MAX_BYTES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "fakeusers", "serve", "--models-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr == f"error: {refused.value}\n"


def test_a_client_that_leaves_mid_body_is_one_log_line_not_a_traceback(server, trained):
    """Headers promise 100,000 bytes, 1,000 come, the socket closes: the server logs one line
    and keeps serving."""
    before = server["log"].read_text()
    with socket.create_connection(("127.0.0.1", server["port"]), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 100000\r\n\r\n" + b"UserId,Event,Category\n" + b"x" * 1000
        )
    deadline = time.monotonic() + 10
    while "disconnected before sending it all" not in server["log"].read_text():
        assert time.monotonic() < deadline, server["log"].read_text()[len(before) :]
        time.sleep(0.1)
    assert server["client"].get("/health").status_code == 200
    added = server["log"].read_text()[len(before) :]
    assert "Traceback" not in added, added
