"""The console's code → test → logs path in a real browser."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import VIEWPORT, Screenshot, sign_in_form
from tests.helpers import Server


def test_sign_in_lands_on_the_functions_list(page: Page, screenshot: Screenshot) -> None:
    expect(page.get_by_role("link", name="Account")).to_be_visible()
    expect(page.get_by_text("us-east-1")).to_be_visible()
    screenshot(page, "signed-in")


def test_a_wrong_secret_is_refused_with_the_aws_error_code(
        browser: Browser, console_server: Server, console_key: tuple[str, str]) -> None:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        tab = context.new_page()
        sign_in_form(tab, console_server, (console_key[0], "not-the-secret"))
        expect(tab.get_by_role("alert")).to_contain_text("InvalidSignatureException")
        tab.reload()  # nothing was kept: the form again
        expect(tab.get_by_role("button", name="Sign in")).to_be_visible()
    finally:
        context.close()
