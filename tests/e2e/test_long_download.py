"""In Chromium: a long flagged list is built on request, with progress, then downloads whole."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fakeusers.export import BUILD_ON_REQUEST
from tests.e2e.conftest import (
    demo_data_and_a_model,
    metric_value,
    new_page,
    open_page,
    set_number,
    settle,
)


def test_a_long_list_is_prepared_then_downloaded(server, browser) -> None:
    page = new_page(browser, server)
    try:
        demo_data_and_a_model(page)
        open_page(page, "Decisions")
        page.get_by_text("Threshold typed directly").click()
        settle(page)
        set_number(page, "Flag when P(fake) ≥", "0")  # everyone
        flagged = int(metric_value(page, "Users flagged").replace(",", ""))
        assert flagged > BUILD_ON_REQUEST
        assert page.get_by_role("button", name="Download flagged users (CSV)").count() == 0

        page.get_by_role("button", name=f"Prepare the download ({flagged:,} users)").click()
        page.get_by_text(f"The list of {flagged:,} flagged users is ready").wait_for()
        settle(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="Download flagged users (CSV)").click()
        text = Path(download.value.path()).read_text(encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert len(rows) == flagged + 1
        assert rows[0][:2] == ["UserId", "is_fake_probability"]
        p = [float(r[1]) for r in rows[1:]]
        assert p == sorted(p, reverse=True)
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        page.context.close()
