"""In Chromium: a reload keeps the log, the model and the costs (the URL names them)."""

from __future__ import annotations

from tests.e2e.conftest import (
    demo_data_and_a_model,
    metric_value,
    new_page,
    open_page,
    set_number,
    settle,
)


def test_a_reload_keeps_the_analysts_work(server, browser) -> None:
    page = new_page(browser, server)
    demo_data_and_a_model(page)
    open_page(page, "Decisions")
    set_number(page, "Cost of blocking a real user (M)", "2")
    set_number(page, "Cost of missing a fake user (F)", "38")
    flagged = metric_value(page, "Users flagged")
    assert metric_value(page, "Threshold M/(M+F)") == "0.05"

    page.reload()
    page.locator("h1").filter(has_text="Decisions").wait_for()
    settle(page)
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "demo.csv" in sidebar and "trained here, not saved" in sidebar
    assert metric_value(page, "Threshold M/(M+F)") == "0.05"
    assert metric_value(page, "Users flagged") == flagged
    assert "error" not in page.locator('[data-testid="stMain"]').inner_text().lower()
    page.context.close()
