"""In Chromium: a reload keeps the log, the model and the costs (the URL names them)."""

from __future__ import annotations

from tests.e2e.conftest import (
    demo_data_and_a_model,
    metric_value,
    new_page,
    open_page,
    serving,
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


def test_a_page_url_is_the_first_request_of_a_fresh_server(browser, tmp_path) -> None:
    # An analyst's tab on /review or /data reconnects after the server restarted: the first
    # run of the new server is that page, and it must run through the router (state defaults,
    # navigation), not alone as an old-style "pages/" app would.
    env = {"FAKEUSERS_MODELS_DIR": str(tmp_path / "models")}
    for path, heading, button in (("data", "Data", "Load demo data"), ("model", "Model", None)):
        with serving(env, tmp_path / f"{path}.log") as url:
            context = browser.new_context(viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            page.goto(f"{url}/{path}")
            page.locator("h1").filter(has_text=heading).first.wait_for()
            settle(page)
            main = page.locator('[data-testid="stMain"]').inner_text()
            assert "encountered an error" not in main, main
            if button:
                assert page.get_by_role("button", name=button).count() == 1
            nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
            assert "Decisions" in nav and "_state" not in nav and "state" not in nav.split()
            context.close()
