"""The whole analyst session in a real browser (Playwright driving Debian's Chromium).

Starts ``streamlit run app.py`` on a free port with a temporary model store, uploads a
labelled log, trains and saves the model (version 1, the store's default), sets M=1 and F=9,
checks the threshold 0.1 and the out-of-fold note on the page (the log trained the model),
downloads the flagged users and checks the file, and takes a screenshot of every page.
Without Chromium the test is skipped, unless ``CI=true``, where it fails.

Screenshots go to the test's temporary folder, so that a run never changes the checkout. To
refresh the README's screenshots in ``docs/screenshots/``, ask for it::

    FAKEUSERS_SCREENSHOTS=1 python -m pytest tests/e2e/test_browser.py
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from fakeusers.export import COLUMNS
from tests.app.conftest import csv_bytes, fake_user_ids
from tests.e2e.conftest import (
    ROOT,
    TIMEOUT_MS,
    metric_value,
    new_page,
    open_page,
    set_number,
    settle,
    upload,
)

README_SCREENSHOTS = ROOT / "docs" / "screenshots"
FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1-2", "-3", "@SUM(A1)"]


@pytest.fixture(scope="module")
def labelled_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled log in which four clearly fake users have formula-like IDs."""
    evil = dict(zip(fake_user_ids(20_000, seed=8, how_many=4), FORMULAS, strict=True))
    path = tmp_path_factory.mktemp("logs") / "labelled.csv"
    path.write_bytes(csv_bytes(20_000, seed=8, rename=evil))
    return path


_UNDRAWN = (
    "() => [...document.querySelectorAll('.js-plotly-plot')]"
    ".filter(p => p.querySelectorAll('g.trace path, image').length === 0).length"
)


def charts_drawn(page, at_least: int) -> None:
    """Wait for ``at_least`` plotly charts, then check that none of them is empty."""
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot').length >= n",
        arg=at_least,
        timeout=TIMEOUT_MS,
    )
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => ({_UNDRAWN})() === 0", timeout=15_000)
    assert page.evaluate(_UNDRAWN) == 0, "a chart has nothing drawn in it"


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: the README's folder only when FAKEUSERS_SCREENSHOTS=1."""
    if os.environ.get("FAKEUSERS_SCREENSHOTS") == "1":
        return README_SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")


def screenshot(page, folder: Path, name: str) -> None:
    """Save the whole page: Streamlit scrolls inside its main block, so grow the viewport."""
    main = page.locator('[data-testid="stMain"]')
    assert page.locator('[data-testid="stException"]').count() == 0
    assert main.locator('[data-testid="stAlertContentError"]').count() == 0, main.inner_text()
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    settle(page)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, f"{path} is nearly empty"
    page.set_viewport_size(size)


def test_whole_analyst_session(
    browser: Browser, server: str, labelled_log: Path, screenshots: Path
) -> None:
    page = new_page(browser, server)
    try:
        open_page(page, "Data")
        upload(page, labelled_log)
        page.get_by_text("Load report").wait_for()
        settle(page)
        assert metric_value(page, "Rows") == "20,000"
        screenshot(page, screenshots, "data")

        open_page(page, "Model")
        page.get_by_role("button", name="Train model").click()
        page.get_by_text("Model trained").wait_for()
        settle(page)
        roc_auc = metric_value(page, "ROC AUC")
        assert re.fullmatch(r"0\.\d{3}", roc_auc)
        page.get_by_label("Model name").fill("e2e")
        page.get_by_role("button", name="Save model").click()
        page.get_by_text("Active model: e2e@1").wait_for()
        settle(page)
        expect(page.get_by_role("combobox", name="Saved model")).to_have_value("e2e@1")
        charts_drawn(page, 4)
        screenshot(page, screenshots, "model")

        open_page(page, "Users")
        charts_drawn(page, 9)
        page.get_by_text("What pushes this user").first.wait_for()
        page.get_by_text("Why this user scores as they do").wait_for()
        # The riskiest user is shown first: their reasons compare them with real users.
        expect(page.get_by_text("of real users; makes being fake").first).to_be_visible()
        screenshot(page, screenshots, "users")

        open_page(page, "Decisions")
        set_number(page, "Cost of blocking a real user (M)", "1")
        set_number(page, "Cost of missing a fake user (F)", "9")
        threshold = page.locator('[data-testid="stMetric"]').filter(has_text="Threshold M/(M+F)")
        expect(threshold.locator('[data-testid="stMetricValue"]')).to_have_text("0.1")
        charts_drawn(page, 2)
        # The model's own training log: out-of-fold scores, the Model page's figures.
        page.get_by_text("(out-of-fold) ones").wait_for()
        page.get_by_text(f"Model quality (out-of-fold): ROC AUC {roc_auc}").wait_for()
        flagged = int(metric_value(page, "Users flagged").replace(",", ""))
        assert flagged > 0
        screenshot(page, screenshots, "decisions")
        # The table's own toolbar offers no CSV: it would not neutralise formulas.
        page.locator('[data-testid="stDataFrame"]').first.hover()
        toolbar = page.locator('[data-testid="stElementToolbar"] button')
        expect(page.get_by_role("button", name="Search").first).to_be_visible()
        labels = toolbar.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
        assert "Search" in labels and "Download as CSV" not in labels, labels

        with page.expect_download() as download:
            page.get_by_role("button", name="Download flagged users (CSV)").click()
        name = download.value.suggested_filename
        assert name.startswith("flagged-labelled-e2e@1-M1-F9-") and name.endswith(".csv"), name
        text = Path(download.value.path()).read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows[0] == list(COLUMNS)
        body = rows[1:]
        assert len(body) == flagged
        p = [float(r[1]) for r in body]
        assert p == sorted(p, reverse=True)
        assert min(p) >= 0.1
        ids = {r[0] for r in body}
        for formula in FORMULAS:
            assert "'" + formula in ids, f"{formula} missing or not neutralised"
        assert not any(r[0].startswith(("=", "+", "-", "@")) for r in body)

        open_page(page, "Home", heading="fakeusers")
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "labelled.csv" in sidebar
        assert "e2e@1" in sidebar
        screenshot(page, screenshots, "home")
    finally:
        page.context.close()
