"""Signed-in analysts behind a trusted reverse proxy: the identity header names who acts
(verified), roles say who may train, and a request without the header cannot act."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from fakeusers.audit import AuditTrail
from fakeusers.database import Database
from tests.e2e.conftest import TIMEOUT_MS, demo_data_and_a_model, open_page, settle

HEADER = "X-Forwarded-User"


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("identity")
    roles = folder / "roles.toml"
    roles.write_text('admins = ["ana@example.com"]\nreviewers = ["bo@example.com"]\n')
    return {
        "FAKEUSERS_TRUSTED_USER_HEADER": HEADER,
        "FAKEUSERS_DB_URL": f"sqlite:///{folder / 'review.db'}",
        "FAKEUSERS_ROLES_FILE": str(roles),
    }


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

        # A reviewer may review but not train.
        reviewer = browser.new_context(
            viewport={"width": 1440, "height": 1000}, extra_http_headers={HEADER: "bo@example.com"}
        )
        try:
            reviewer.set_default_timeout(TIMEOUT_MS)
            bo = reviewer.new_page()
            bo.goto(server)
            settle(bo)
            open_page(bo, "Data")
            bo.get_by_role("button", name="Load demo data").click()
            settle(bo)
            open_page(bo, "Model")
            expect(
                bo.get_by_text("Training and saving models is not among bo@example.com's roles")
            ).to_be_visible()
            expect(bo.get_by_role("button", name="Train model")).to_have_count(0)
        finally:
            reviewer.close()

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
