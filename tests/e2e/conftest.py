"""A real browser against a real server: Playwright driving Debian's Chromium, ``streamlit run``.

Fixtures:

- ``server``: ``streamlit run app.py`` on a free port with a temporary model store, for the
  tests of one module; a module changes its environment by overriding ``server_env``. When
  it stops, its log must hold no traceback. ``serving`` starts and stops one in a ``with``
  block, for a test that restarts the server.
- ``browser``: Chromium, headless, for the tests of one module. Without Chromium the tests
  are skipped, unless ``CI=true``, where they fail.

The helpers below (``settle``, ``open_page``, ...) wait the way Streamlit needs: a page is
ready when its status widget no longer says "Running".
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "Chromium is not installed (apt-get install chromium)."
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Extra environment for the module's server; override it in a module to change it."""
    return {}


@contextlib.contextmanager
def serving(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[str]:
    """``streamlit run app.py`` with ``env`` added to this process's environment, on ``port``
    (a free one by default), until the block ends; its URL. The log must hold no traceback.

    Examples
    --------
    Two servers one after the other on one port and one database (a restart)::

        with serving(env, tmp / "1.log", port) as url: ...
        with serving(env, tmp / "2.log", port) as url: ...
    """
    port = port or free_port()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py"]
            + ["--server.headless", "true", "--server.port", str(port)]
            + ["--server.address", "127.0.0.1"]
            # Other people may edit the checkout meanwhile: no "source changed" prompts.
            + ["--server.fileWatcherType", "none", "--server.runOnSave", "false"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()[-3000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, server_env: dict[str, str]) -> Iterator[str]:
    """The dashboard's URL, served by ``streamlit run app.py`` with its own model store."""
    tmp = tmp_path_factory.mktemp("e2e")
    env = {"FAKEUSERS_MODELS_DIR": str(tmp / "models"), **server_env}
    with serving(env, tmp / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, url: str) -> Page:
    """A page in a fresh browser context (its own cookies: a separate analyst) at the Home page."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    page.locator("h1").filter(has_text="fakeusers").wait_for()
    settle(page)
    return page


def settle(page: Page) -> None:
    """Wait until the app has finished running (no "Running..." status)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => { const w = document.querySelector('[data-testid=stStatusWidget]');"
        " return !w || !/running/i.test(w.innerText); }",
        timeout=TIMEOUT_MS,
    )
    page.wait_for_timeout(300)


def open_page(page: Page, title: str, heading: str | None = None) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.locator("h1").filter(has_text=heading or title).first.wait_for()
    settle(page)


def upload(page: Page, path: Path) -> None:
    """Choose ``path`` in the Data page's uploader (the page must be open)."""
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(path))


def metric_value(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def set_number(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    settle(page)


def demo_data_and_a_model(page: Page) -> None:
    """Load the demo data and train the default model, as an analyst starts."""
    open_page(page, "Data")
    page.get_by_role("button", name="Load demo data").click()
    settle(page)
    open_page(page, "Model")
    page.get_by_role("button", name="Train model").click()
    page.get_by_text("Model trained").wait_for()
    settle(page)
