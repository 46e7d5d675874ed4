"""Fixtures for driving the dashboard with Streamlit's AppTest, from its entrypoint.

The pages live in ``views/``, not ``pages/``: Streamlit treats a folder named ``pages``
beside the entrypoint as an old-style multipage app and then runs a page's file alone (no
router, no state defaults) on the first run of a server, or of every AppTest.
"""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fakeusers import scoring
from fakeusers.demo import generate_log
from views import _state as state

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PAGES = ("home", "data", "users", "model", "decisions", "review")
TIMEOUT = 60


def csv_bytes(
    n_events: int = 20_000,
    seed: int = 1,
    *,
    labelled: bool = True,
    timestamps: bool = True,
    rename: dict[str, str] | None = None,
) -> bytes:
    """A synthetic log as CSV bytes, optionally without labels or with some IDs renamed."""
    table = generate_log(n_events, seed=seed, timestamps=timestamps)
    if not labelled:
        table = table.drop_columns(["Fake"])
    if rename:
        ids = [rename.get(v, v) for v in table["UserId"].to_pylist()]
        table = table.set_column(0, "UserId", pa.array(ids, pa.string()))
    buf = io.BytesIO()
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def fake_user_ids(n_events: int, seed: int, how_many: int) -> list[str]:
    """IDs of the fake users of a generated log who send most emails (clearly fake)."""
    table = generate_log(n_events, seed=seed)
    fakes = table.filter(pc.equal(table["Fake"], 1))
    emails = fakes.filter(pc.equal(fakes["Event"], "send_email"))
    counts = emails.group_by("UserId").aggregate([("Event", "count")])
    counts = counts.sort_by([("Event_count", "descending"), ("UserId", "ascending")])
    return counts["UserId"].to_pylist()[:how_many]


@pytest.fixture(scope="session")
def labelled() -> bytes:
    return csv_bytes(seed=1)


@pytest.fixture(scope="session")
def labelled_other() -> bytes:
    """Another labelled log: users the model was not trained on."""
    return csv_bytes(seed=2)


@pytest.fixture(scope="session")
def unlabelled() -> bytes:
    return csv_bytes(seed=3, labelled=False)


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary model store and review database, and caches emptied, so no test depends
    on another."""
    models_dir = tmp_path / "models"
    monkeypatch.setenv("FAKEUSERS_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("FAKEUSERS_DB_URL", f"sqlite:///{tmp_path / 'review.db'}")
    st.cache_data.clear()
    st.cache_resource.clear()
    return models_dir


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"views/{page}.py").run()


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    goto(at, "data")
    at.file_uploader(key="logs").set_value([(name, data, "text/csv") for name, data in files])
    return at.run()


def train(at: AppTest, model_type: str = "logistic") -> AppTest:
    goto(at, "model")
    (kind,) = [s for s in at.selectbox if s.label == "Model type"]
    kind.set_value(model_type)
    return click(at, "Train model")


def click(at: AppTest, label: str) -> AppTest:
    (button,) = [b for b in at.button if b.label == label]
    return button.click().run()


def metric(at: AppTest, label: str) -> str:
    (found,) = [m.value for m in at.metric if m.label == label]
    return found


def metric_delta(at: AppTest, label: str) -> str:
    """The small text under a metric's value (its ``delta``)."""
    (found,) = [m.proto.delta for m in at.metric if m.label == label]
    return found


def buttons(at: AppTest, label: str) -> list:
    """The buttons on screen with this label (none, or one)."""
    return [b for b in at.button if b.label == label]


def assert_clean(at: AppTest) -> None:
    """No exception element and no error on screen."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def scored(at: AppTest) -> scoring.ScoredLog:
    """The session's log scored by its active model, computed here through the library."""
    return scoring.score_log(
        at.session_state[state.DATASET].log, at.session_state[state.MODEL].model
    )


def download_button(at: AppTest, label: str = "Download flagged users (CSV)"):
    """One of the Decisions page's download buttons, by its label."""
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    return button
