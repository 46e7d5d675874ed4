"""An upload over the server's size limit, in a real browser.

The server runs with ``STREAMLIT_SERVER_MAX_UPLOAD_SIZE=1`` (1 MB instead of the 1024 MB of
``.streamlit/config.toml``). After the demo data is loaded, a valid 2 MB log is chosen in the
uploader. Streamlit refuses it in the browser, before it is sent: the file's chip turns red,
and its message "File must be 1.0MB or smaller." is only a tooltip on hover (and an alert for
screen readers). So the Data page's caption states the limit and what to do. Nothing breaks,
and the demo data stays loaded. A file under the limit is then read as usual.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from fakeusers.reading import read_logs
from tests.app.conftest import csv_bytes
from tests.e2e.conftest import ROOT, TIMEOUT_MS, metric_value, new_page, open_page, settle, upload

DEMO = ROOT / "data" / "demo.csv"


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": "1"}


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A valid labelled log of about 2 MB, and one of about 0.6 MB."""
    folder = tmp_path_factory.mktemp("logs")
    big, small = folder / "big.csv", folder / "small.csv"
    big.write_bytes(csv_bytes(35_000, seed=4))
    small.write_bytes(csv_bytes(10_000, seed=5))
    assert 2 << 20 < big.stat().st_size < 3 << 20
    assert small.stat().st_size < 1 << 20
    return big, small


def test_an_upload_over_the_limit_is_refused_and_the_data_stays(
    browser: Browser, server: str, logs: tuple[Path, Path]
) -> None:
    big, small = logs
    demo = read_logs(DEMO).report
    page = new_page(browser, server)
    try:
        open_page(page, "Data")
        limit = page.get_by_text("Up to 1 MB per file.")
        expect(limit).to_contain_text("upload it gzip-compressed (.csv.gz) or split it")
        page.get_by_role("button", name="Load demo data").click()
        page.get_by_text("Load report").wait_for()
        settle(page)
        assert metric_value(page, "Rows") == f"{demo.rows:,}"

        upload(page, big)
        settle(page)
        # Streamlit refuses it in the browser: a red chip, its message in an alert for screen
        # readers and in a tooltip on hover. Our caption says the limit and what to do.
        uploader = page.locator('[data-testid="stFileUploader"]')
        expect(uploader.get_by_role("alert")).to_have_text("Error: File must be 1.0MB or smaller.")
        uploader.get_by_text("big.csv", exact=True).hover()
        expect(page.get_by_role("tooltip")).to_have_text("File must be 1.0MB or smaller.")
        expect(limit).to_be_visible()
        main = page.locator('[data-testid="stMain"]')
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Traceback" not in main.inner_text()
        assert main.locator('[data-testid="stAlert"]').count() == 0, "nothing reached the app"
        assert metric_value(page, "Rows") == f"{demo.rows:,}", "the demo data is still shown"
        assert "demo.csv" in page.locator('[data-testid="stSidebar"]').inner_text()

        # The analyst removes the refused file and uploads a smaller one: it is read.
        uploader.get_by_role("button", name="Remove big.csv").click()
        settle(page)
        upload(page, small)
        rows = page.locator('[data-testid="stMetric"]').filter(has_text="Rows").first
        expect(rows.locator('[data-testid="stMetricValue"]')).to_have_text(
            "10,000", timeout=TIMEOUT_MS
        )
        settle(page)
        assert "small.csv" in page.locator('[data-testid="stSidebar"]').inner_text()
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.context.close()
