"""Budgets that hold: trainings and scorings beyond the server's limit are refused at once,
with 429 and Retry-After, before their logs are read; the slot is free again afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakeusers.api import create_app
from fakeusers.api.budgets import (
    MAX_MEMORY_ENV,
    MAX_SCORINGS_ENV,
    MAX_TRAININGS_ENV,
    MemoryBudget,
    Slots,
    machine_memory,
)
from fakeusers.errors import BusyError, FakeusersError, InputTooLargeError
from fakeusers.store import ModelStore
from tests.support import api_server, csv_bytes, trained


def test_a_slot_is_refused_when_all_are_taken_and_free_after() -> None:
    slots = Slots(2, "scoring", retry_after=5)
    with slots.taken(), slots.taken():
        assert slots.busy == 2
        with pytest.raises(BusyError, match="already running 2 scorings") as err, slots.taken():
            pass
        assert err.value.retry_after == 5
    assert slots.busy == 0
    with slots.taken():
        assert slots.busy == 1


def test_a_training_over_the_limit_is_429_with_retry_after_and_then_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_TRAININGS_ENV, "1")
    app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
    client = TestClient(app)
    upload = {"file": ("t.csv", csv_bytes(6_000, 1))}
    with app.state.trainings.taken():  # a training is running
        busy = client.post("/train", files=upload, data={"name": "june"})
        assert busy.status_code == 429
        assert busy.headers["Retry-After"] == "60"
        assert "already running 1 training, its limit" in busy.json()["detail"]
        assert not ModelStore(tmp_path / "models").list(), "nothing was trained"
    done = client.post("/train", files=upload, data={"name": "june"})
    assert done.status_code == 201, done.text


def test_a_scoring_over_the_limit_is_429_before_the_body_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_SCORINGS_ENV, "2")
    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
    client = TestClient(app)
    log = csv_bytes(2_000, 2)
    headers = {"Content-Type": "text/csv"}
    with app.state.scorings.taken(), app.state.scorings.taken():
        busy = client.post("/predict", content=log, headers=headers)
        assert (busy.status_code, busy.headers["Retry-After"]) == (429, "5")
    assert client.post("/predict", content=log, headers=headers).status_code == 200


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_budget_that_is_not_a_positive_count_is_refused_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(MAX_TRAININGS_ENV, value)
    with pytest.raises(FakeusersError, match=f"{MAX_TRAININGS_ENV} must be a positive whole"):
        create_app(tmp_path / "models")


def test_serve_with_workers_starts_that_many_processes_that_answer(tmp_path: Path) -> None:

    def children(pid: int) -> list[int]:
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
        return found

    env = {"FAKEUSERS_DB_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    with api_server(tmp_path, "--workers", "2", env=env) as server:
        with server.client(timeout=30) as c:
            assert all(c.get("/models").status_code == 200 for _ in range(6))
        # uvicorn's workers are multiprocessing "spawn" children of the server process.
        workers = [
            p
            for p in children(server.process.pid)
            if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
        ]
        assert len(workers) == 2, server.log.read_text()
    assert "Traceback" not in server.log.read_text()


def test_a_json_body_with_more_values_than_the_budget_is_413_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakeusers.api.bodies import MAX_JSON_VALUES_ENV

    ModelStore(tmp_path / "models").save("june", trained(20_000, 1, timestamps=False))
    client = TestClient(create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}"))
    rows = 400
    body = {
        "UserId": [f"u{i % 40}" for i in range(rows)],
        "Event": ["click_ad"] * rows,
        "Category": ["Motor"] * rows,
    }
    monkeypatch.setenv(MAX_JSON_VALUES_ENV, "1000")
    refused = client.post("/predict", json=body)
    assert refused.status_code == 413
    assert "at most 1,000 (FAKEUSERS_API_MAX_JSON_VALUES)" in refused.json()["detail"]
    assert "text/csv" in refused.json()["detail"]
    monkeypatch.setenv(MAX_JSON_VALUES_ENV, "2000")
    assert client.post("/predict", json=body).status_code == 200


def test_a_memory_reservation_is_refused_when_it_does_not_fit_and_freed_after() -> None:
    budget = MemoryBudget(1_000)
    with budget.reserve(600, "scoring this log") as first:
        with (
            pytest.raises(BusyError, match="has 400 B of its 1 KB free now") as busy,
            budget.reserve(500, "scoring this log"),
        ):
            pass
        assert busy.value.retry_after == 10
        first.grow(900)  # the log, decompressed, turned out larger: it still fits alone
        assert budget.used == 900
        with pytest.raises(InputTooLargeError, match="at most 1 KB"):
            first.grow(1_001)
        assert budget.used == 900  # what was held stays held
    assert budget.used == 0
    with budget.reserve(1_000, "training"):
        assert budget.used == 1_000


def test_the_api_reserves_memory_before_it_reads_a_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    body = csv_bytes(20_000, 2)
    need = MemoryBudget.cost(len(body), "csv")
    monkeypatch.setenv(MAX_MEMORY_ENV, str(need + 1_000))
    app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
    client = TestClient(app)
    csv = {"Content-Type": "text/csv"}
    assert client.post("/predict", content=body, headers=csv).status_code == 200
    assert app.state.memory.used == 0

    with app.state.memory.reserve(5_000, "another request"):  # it no longer fits beside it
        busy = client.post("/predict", content=body, headers=csv)
    assert busy.status_code == 429, busy.text
    assert busy.headers["Retry-After"] == "10"
    assert "of memory" in busy.json()["detail"]

    monkeypatch.setenv(MAX_MEMORY_ENV, str(need // 2))  # alone it costs more than the budget
    app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
    client = TestClient(app)
    for answer in (
        client.post("/predict", content=body, headers=csv),
        client.post("/train", files={"file": ("t.csv", csv_bytes(20_000, 3))}, data={"name": "x"}),
    ):
        assert answer.status_code == 413, answer.text
        assert MAX_MEMORY_ENV in answer.json()["detail"]
    assert app.state.memory.used == 0
    assert ModelStore(tmp_path / "models").names() == ["june"]


def test_the_default_memory_budget_is_half_of_what_this_process_may_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MAX_MEMORY_ENV, raising=False)
    app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
    assert app.state.memory.total == machine_memory() // 2
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < machine_memory() <= physical
    monkeypatch.setenv(MAX_MEMORY_ENV, "lots")
    with pytest.raises(FakeusersError, match=MAX_MEMORY_ENV):
        create_app(tmp_path / "models")


def test_a_parquet_log_reserves_memory_by_its_decoded_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakeusers.demo import generate_log
    from fakeusers.parquetread import decoded_size
    from tests.support import parquet_bytes, typed_table

    ModelStore(tmp_path / "models").save("june", trained(20_000, 1))
    body = parquet_bytes(typed_table(generate_log(20_000, seed=2, timestamps=True)))
    decoded = decoded_size("body", body, 2**40)
    assert decoded > 5 * len(body)  # what the file's size alone would have reserved
    need = MemoryBudget.cost(decoded, "csv")
    parquet = {"Content-Type": "application/vnd.apache.parquet"}
    for budget, status in ((need - 1, 413), (need + 1_000, 200)):
        monkeypatch.setenv(MAX_MEMORY_ENV, str(budget))
        app = create_app(tmp_path / "models", db_url=f"sqlite:///{tmp_path / 'r.db'}")
        answer = TestClient(app).post("/predict", content=body, headers=parquet)
        assert answer.status_code == status, answer.text
        assert status == 200 or MAX_MEMORY_ENV in answer.json()["detail"]
        assert app.state.memory.used == 0
