"""One log, one stored model, one rule: the CLI, the API and the dashboard give the same answer.

Each face is driven as its user drives it — the command line in a subprocess, the API over
HTTP (FastAPI's test client), the dashboard through its widgets — and what each shows is
compared: every probability, and who is flagged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fakeusers.api import create_app
from fakeusers.store import ModelStore
from tests.app.conftest import click, goto, metric, new_app, upload
from tests.support import csv_bytes, read_csv, run_cli, trained
from views import _state as state

COST_FP, COST_FN = 1.0, 4.0  # the dashboard's default costs, set again below all the same


@pytest.fixture
def setup(isolated: Path, tmp_path: Path) -> dict:
    store = ModelStore(isolated)
    store.save("shared", trained(20_000, seed=1, timestamps=True))
    log = csv_bytes(1_500, seed=5)  # about 70 users: the dashboard shows them on one page
    path = tmp_path / "new.csv"
    path.write_bytes(log)
    return {"store": isolated, "log": log, "path": path, "tmp": tmp_path}


def cli_answer(setup: dict) -> dict[str, tuple[float, bool]]:
    out = setup["tmp"] / "out.csv"
    costs = ["--cost-fp", str(COST_FP), "--cost-fn", str(COST_FN)]
    r = run_cli(
        "predict", str(setup["path"]), str(out), "--models-dir", str(setup["store"]), *costs
    )
    assert r.returncode == 0, r.stderr
    return {
        row["UserId"]: (float(row["is_fake_probability"]), row["flagged"] == "1")
        for row in read_csv(out)
    }


def api_answer(setup: dict) -> dict[str, tuple[float, bool]]:
    client = TestClient(create_app(setup["store"]))
    response = client.post(
        "/predict",
        files={"file": ("new.csv", setup["log"], "text/csv")},
        data={"cost_fp": str(COST_FP), "cost_fn": str(COST_FN)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "shared@1" and body["out_of_fold"] is False
    return dict(
        zip(
            body["UserId"],
            zip(body["is_fake_probability"], body["flagged"], strict=True),
            strict=True,
        )
    )


def dashboard_answer(setup: dict) -> dict[str, tuple[float, bool]]:
    at = upload(new_app(), ("new.csv", setup["log"]))
    goto(at, "model")
    at.selectbox(key=state.MODEL_PICK).set_value("shared@1")
    click(at, "Load model")
    at = goto(at, "decisions")
    at.number_input(key=state.COST_FP_INPUT).set_value(COST_FP)
    at.number_input(key=state.COST_FN_INPUT).set_value(COST_FN)
    at.run()
    assert not at.exception and not at.error
    flagged = set(at.dataframe[0].value["UserId"])
    n_flagged = int(metric(at, "Users flagged").replace(",", ""))
    assert len(flagged) == n_flagged, "every flagged user is on the first page"
    # Every user's probability: flag them all (review capacity = everyone) and read the table.
    at.radio(key=state.RULE_INPUT).set_value(state.RULE_TOP_K).run()
    at.number_input(key=state.TOP_K_INPUT).set_value(10_000).run()
    everyone = at.dataframe[0].value
    assert len(everyone) == int(metric(at, "Users flagged").replace(",", ""))
    return {
        user: (float(p), user in flagged)
        for user, p in zip(everyone["UserId"], everyone["is_fake_probability"], strict=True)
    }


def test_cli_api_and_dashboard_give_identical_probabilities_and_flags(setup):
    cli, api, dashboard = cli_answer(setup), api_answer(setup), dashboard_answer(setup)
    assert 50 <= len(cli) < 100
    assert 0 < sum(flag for _, flag in cli.values()) < len(cli)
    assert list(api) == list(cli), "same users, in order of first appearance"
    assert api == cli
    assert dashboard == cli
