"""In Chromium: review the queue, restart the server, and the verdicts are still there.

One review database (a SQLite file) and one model store serve two servers in turn on one
port. On the first: the demo log, a model trained and saved, M=1 and F=9, the analyst's name,
the first user marked fake with the keyboard (F) and the second real with the button. Then
the server is stopped and a new one started; the page is reloaded (the URL brings back the
model, the costs and the name; the log, kept in the old server's memory, is loaded again),
and the verdicts are still there: in the Review page's progress, on the Decisions page (the
cleared user is not flagged) and in the downloaded CSV (``why``).

A second test has two analysts in two browser sessions press F at the same time: no verdict
is lost. Screenshots of the Review page go to ``/tmp/review-shots/``; the README's one is refreshed
with ``FAKEUSERS_SCREENSHOTS=1``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from fakeusers.verdicts import VerdictStore
from tests.e2e.conftest import (
    ROOT,
    free_port,
    metric_value,
    new_page,
    open_page,
    serving,
    set_number,
    settle,
)

SHOTS = Path("/tmp/review-shots")


def screenshot(page: Page, name: str, readme: str | None = None) -> None:
    """The whole page, after checking that no traceback or error reached it; also the README's
    ``docs/screenshots/<readme>.png`` when ``FAKEUSERS_SCREENSHOTS=1``."""
    main = page.locator('[data-testid="stMain"]')
    assert page.locator('[data-testid="stException"]').count() == 0, main.inner_text()
    assert main.locator('[data-testid="stAlertContentError"]').count() == 0, main.inner_text()
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    settle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    if readme and os.environ.get("FAKEUSERS_SCREENSHOTS") == "1":
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / f"{readme}.png"), full_page=True)
    page.set_viewport_size(size)


def shown_user(page: Page) -> str:
    header = page.locator("h3").filter(has_text="User ").first
    return header.inner_text().strip().removeprefix("User ").strip()


def progress(page: Page) -> str:
    return page.locator('[data-testid="stProgress"]').inner_text().strip()


def load_demo(page: Page) -> None:
    open_page(page, "Data")
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text("Load report").wait_for()
    settle(page)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    tmp = tmp_path_factory.mktemp("review")
    env = {
        "FAKEUSERS_DB_URL": f"sqlite:///{tmp / 'review.db'}",
        "FAKEUSERS_MODELS_DIR": str(tmp / "models"),
    }
    return env, tmp


def test_verdicts_survive_a_restart_and_decide_everywhere(browser: Browser, setup) -> None:
    env, tmp = setup
    port = free_port()
    with serving(env, tmp / "first.log", port) as url:
        page = new_page(browser, url)
        load_demo(page)
        open_page(page, "Model")
        page.get_by_role("button", name="Train model").click()
        page.get_by_text("Model trained").wait_for()
        settle(page)
        page.get_by_label("Model name").fill("e2e")
        page.get_by_role("button", name="Save model").click()
        page.get_by_text("Active model: e2e@1").wait_for()
        settle(page)
        open_page(page, "Decisions")
        set_number(page, "Cost of blocking a real user (M)", "1")
        set_number(page, "Cost of missing a fake user (F)", "9")
        flagged = int(metric_value(page, "Users flagged").replace(",", ""))
        assert flagged > 2

        open_page(page, "Review")
        expect(page.get_by_text("Type your name in the sidebar").first).to_be_visible()
        assert progress(page) == f"0 of {flagged:,} reviewed"
        screenshot(page, "1-review-no-name")
        name = page.get_by_label("Your name", exact=True)
        name.fill("Ana Lyst")
        name.press("Enter")
        settle(page)
        expect(page.get_by_text("Type your name in the sidebar")).to_have_count(0)

        first = shown_user(page)
        page.locator("h1").click()  # no text box has the focus: the keys act on the buttons
        page.keyboard.press("f")
        page.get_by_text(f"User {first} recorded as confirmed fake by Ana Lyst.").wait_for()
        settle(page)
        second = shown_user(page)
        assert second != first
        note = page.get_by_label("Note (optional)", exact=True)
        note.fill("known seller, calls every day")
        note.press("Enter")
        settle(page)
        page.get_by_role("button", name="Real (false alarm)").click()
        page.get_by_text(f"User {second} recorded as real (cleared)").wait_for()
        settle(page)
        assert progress(page) == f"2 of {flagged:,} reviewed"
        screenshot(page, "2-review-after-two-verdicts", readme="review")
        before = page.url
        page.context.close()

    with serving(env, tmp / "second.log", port) as url:
        assert before.startswith(url)
        page = new_page(browser, url)
        page.goto(before)  # a reload of the page the analyst was on
        page.locator("h1").filter(has_text="Review").wait_for()
        settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        assert "e2e@1" in sidebar.inner_text()
        expect(page.get_by_label("Your name", exact=True)).to_have_value("Ana Lyst")
        load_demo(page)  # the log was in the first server's memory only

        open_page(page, "Review")
        assert progress(page) == f"2 of {flagged:,} reviewed"
        screenshot(page, "3-review-after-restart")
        page.get_by_text(f"Verdict history of user {shown_user(page)}").click()
        settle(page)

        open_page(page, "Decisions")
        assert metric_value(page, "Threshold M/(M+F)") == "0.1"
        assert metric_value(page, "Users flagged") == f"{flagged - 1:,}"
        screenshot(page, "4-decisions-after-restart")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download flagged users (CSV)").click()
        data = Path(download.value.path()).read_bytes()
        text = data.decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert len(rows) == flagged - 1
        why = {r["UserId"]: r["why"] for r in rows}
        assert why[first] == "confirmed fake"
        assert second not in why, "the cleared user is not in the list"
        assert set(why.values()) == {"confirmed fake", "model"}

        open_page(page, "Review")
        screenshot(page, "5-review-audit-trail")
        page.context.close()

    trail = AuditTrail(Database(env["FAKEUSERS_DB_URL"])).entries()
    # The training and the save came first (before the name was typed), then the review.
    assert list(trail["action"]) == ["download", "verdict", "verdict", "save", "train"]
    review = trail.iloc[:3]
    assert set(review["actor"]) == {"Ana Lyst"} and not trail["actor_verified"].any()
    assert review["sha256"].iloc[0] == hashlib.sha256(data).hexdigest()
    assert set(review["model"]) == {"e2e@1"}
    assert trail["model"].iloc[3] == "e2e@1"


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The module's ``server`` gets a review database of its own."""
    return {"FAKEUSERS_DB_URL": f"sqlite:///{tmp_path_factory.mktemp('two') / 'review.db'}"}


def name_analyst(page: Page, name: str) -> None:
    box = page.get_by_label("Your name", exact=True)
    box.fill(name)
    box.press("Enter")
    settle(page)
    page.locator("h1").click()  # the keys act on the buttons only when no text box has focus


def test_two_analysts_recording_at_once_lose_nothing(
    browser: Browser, server: str, server_env: dict[str, str]
) -> None:
    ana = new_page(browser, server)
    load_demo(ana)
    open_page(ana, "Model")
    ana.get_by_role("button", name="Train model").click()
    ana.get_by_text("Model trained").wait_for()
    settle(ana)
    open_page(ana, "Review")
    name_analyst(ana, "Ana")
    # Bob opens Ana's address: the same log and model, in a session of his own.
    bob = new_page(browser, server)
    bob.goto(ana.url.replace("analyst=Ana", "analyst=Bob"))
    bob.locator("h1").filter(has_text="Review").wait_for()
    settle(bob)
    expect(bob.get_by_label("Your name", exact=True)).to_have_value("Bob")
    bob.locator("h1").click()
    total = progress(ana).split(" of ")[1]

    for _ in range(5):  # both press F before either page has finished its rerun
        ana.keyboard.press("f")
        bob.keyboard.press("f")
        settle(ana)
        settle(bob)
    trail = AuditTrail(Database(server_env["FAKEUSERS_DB_URL"])).entries(action="verdict")
    assert sorted(trail["actor"]) == ["Ana"] * 5 + ["Bob"] * 5, "every verdict is kept"
    held = VerdictStore(Database(server_env["FAKEUSERS_DB_URL"])).latest()
    assert {v.verdict for v in held.values()} == {"fake"}
    for page in (ana, bob):
        page.get_by_role("button", name="Next").click()  # a rerun reads the other's verdicts
        settle(page)
        assert progress(page) == f"{len(held)} of {total}"
    screenshot(bob, "6-review-two-analysts")
    ana.context.close()
    bob.context.close()
