"""Fixtures for driving the dashboard with Streamlit's AppTest, from its entrypoint."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest
import streamlit as st
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from fakeusers.demo import generate_log

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
PAGES = ("home", "data", "users", "model", "decisions")
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
    """A temporary model store, and caches emptied, so no test depends on another."""
    models_dir = tmp_path / "models"
    monkeypatch.setenv("FAKEUSERS_MODELS_DIR", str(models_dir))
    st.cache_data.clear()
    st.cache_resource.clear()
    return models_dir


@pytest.fixture(autouse=True)
def entrypoint_runs_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every AppTest run execute ``app.py``, as every run of a real server does.

    Streamlit still supports the old "pages/ folder" multipage apps; it detects them by a
    folder named ``pages`` and then runs a page's file on its own. A real server clears that
    flag for good once the entrypoint calls ``st.navigation``, but AppTest resets it before
    each run, so after the first run it would skip ``app.py`` (router, state defaults,
    sidebar) and run the page file alone. Clearing the flag again restores the server's
    behaviour.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """What each download button would serve: its file name, mime type and data callable.

    The dashboard builds the CSV only when the button is clicked (deferred data), so the
    test records the callable Streamlit registers and calls it like the click would.
    """
    seen: list[dict] = []
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        seen.append({"data": data_callable, "mime": mimetype, "file_name": file_name})
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return seen


def new_app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def goto(at: AppTest, page: str) -> AppTest:
    return at.switch_page(f"pages/{page}.py").run()


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


def assert_clean(at: AppTest) -> None:
    """No exception element and no error on screen."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
