"""Signed-in analysts behind a trusted reverse proxy: the identity header names who acts
(verified), and a request without it cannot record verdicts."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from tests.e2e.conftest import TIMEOUT_MS, demo_data_and_a_model, open_page, settle

HEADER = "X-Forwarded-User"


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('identity') / 'review.db'}"
    return {"FAKEUSERS_TRUSTED_USER_HEADER": HEADER, "FAKEUSERS_DB_URL": url}


def test_the_proxys_header_names_the_analyst_and_none_means_no_verdicts(
    server: str, browser: Browser, server_env: dict[str, str]
) -> None:
    signed = browser.new_context(
        viewport={"width": 1440, "height": 1000}, extra_http_headers={HEADER: "ana@example.com"}
    )
    anonymous = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        for context in (signed, anonymous):
            context.set_default_timeout(TIMEOUT_MS)
        page = signed.new_page()
        page.goto(server)
        settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text("Signed in as ana@example.com")).to_be_visible()
        expect(page.get_by_label("Your name", exact=True)).to_have_count(0)
        demo_data_and_a_model(page)
        open_page(page, "Review")
        page.get_by_role("button", name="Fake (confirmed)").click()
        settle(page)
        (entry,) = (
            AuditTrail(Database(server_env["FAKEUSERS_DB_URL"]))
            .entries(action="verdict")
            .to_dict("records")
        )
        assert (entry["actor"], entry["actor_verified"]) == ("ana@example.com", True)

        other = anonymous.new_page()
        other.goto(server)
        settle(other)
        expect(
            other.locator('[data-testid="stSidebar"]').get_by_text(
                f"No signed-in user: the proxy did not send {HEADER}"
            )
        ).to_be_visible()
        expect(other.get_by_label("Your name", exact=True)).to_have_count(0)
    finally:
        signed.close()
        anonymous.close()
