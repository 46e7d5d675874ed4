"""In Chromium: a click on a flagged user opens that user on the Users page, and stays there."""

from __future__ import annotations

import csv

from playwright.sync_api import Page

from tests.e2e.conftest import (
    demo_data_and_a_model,
    metric_value,
    new_page,
    open_page,
    set_number,
    settle,
)
from views._state import DEMO_CSV

HEADER_PX = ROW_PX = 35  # st.dataframe's default header and row heights


def flagged_cell(page: Page, row: int, column: int = 0) -> str:
    """A cell of the flagged table, from the grid's accessible table (the canvas has no text)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    cells = grid.locator("table tr").nth(row + 1).locator("td")
    return cells.nth(column).inner_text().strip()


def click_flagged_row(page: Page, row: int) -> None:
    """Tick the row's selection box, left of its first cell, as an analyst does."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    # Charts above the table may still be drawing: click once the table has stopped moving.
    box, previous = grid.bounding_box(), None
    while box != previous:
        page.wait_for_timeout(500)
        box, previous = grid.bounding_box(), box
    assert box is not None
    page.mouse.click(box["x"] + 18, box["y"] + HEADER_PX + row * ROW_PX + ROW_PX / 2)


def events_in_demo(user_id: str) -> int:
    with DEMO_CSV.open(newline="", encoding="utf-8") as f:
        return sum(1 for row in csv.DictReader(f) if row["UserId"] == user_id)


def test_a_click_on_a_flagged_user_opens_their_events(server, browser) -> None:
    page = new_page(browser, server)
    try:
        demo_data_and_a_model(page)
        open_page(page, "Decisions")
        # Page 2 of the list: users beyond the Users page's own first 50 candidates.
        set_number(page, "Page", "2")
        user_id = flagged_cell(page, row=2)
        probability = float(flagged_cell(page, row=2, column=1))
        assert user_id and user_id != flagged_cell(page, row=0)

        click_flagged_row(page, 2)
        page.locator("h1").filter(has_text="Users").wait_for()
        settle(page)
        assert metric_value(page, "User") == user_id
        assert metric_value(page, "P(fake)") == f"{probability:.3f}"
        assert metric_value(page, "Events") == f"{events_in_demo(user_id):,}"
        page.get_by_text("Event sequence").first.wait_for()
        assert f"user={user_id}" in page.url

        page.reload()
        page.locator("h1").filter(has_text="Users").wait_for()
        settle(page)
        assert metric_value(page, "User") == user_id, "a reload keeps the user"

        open_page(page, "Decisions")
        page.wait_for_timeout(1_000)
        settle(page)
        assert page.locator("h1").first.inner_text() == "Decisions", "no bounce back to Users"
        assert "error" not in page.locator('[data-testid="stMain"]').inner_text().lower()
    finally:
        page.context.close()
