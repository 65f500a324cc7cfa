"""The console's Versions tab: publish, alias, shift traffic with the slider (keyboard)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Screenshot
from tests.helpers import create_function

HANDLER: dict[str, str | bytes] = {
    "index.py": "def handler(event, context):\n    return {'ok': True}\n"}


def test_publish_two_versions_and_shift_alias_traffic(
        page: Page, aws: Callable[[str], Any], screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "shift", HANDLER)
    page.goto("/console/functions/shift/versions")
    versions = page.locator("#versions")
    versions.get_by_label("New version description").fill("first")
    versions.get_by_role("button", name="Publish new version").click()
    expect(versions.get_by_role("status")).to_have_text("Published version 1.")
    expect(versions.get_by_role("cell", name="first")).to_be_visible()
    # Publishing again without a change gives back version 1, and the page says so.
    versions.get_by_role("button", name="Publish new version").click()
    expect(versions.get_by_role("status")).to_contain_text("Nothing changed since version 1")
    lam.update_function_configuration(FunctionName="shift", Timeout=5)
    lam.get_waiter("function_updated_v2").wait(FunctionName="shift",
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    versions.get_by_label("New version description").fill("second")
    versions.get_by_role("button", name="Publish new version").click()
    expect(versions.get_by_role("cell", name="second")).to_be_visible()

    aliases = page.locator("#aliases")
    aliases.get_by_label("Alias name").fill("live")
    aliases.get_by_label("Alias version").select_option("1")
    aliases.get_by_role("button", name="Create alias").click()
    expect(aliases.get_by_role("cell", name="100% → 1")).to_be_visible()

    shift = page.get_by_role("form", name="Traffic of alias live")
    shift.get_by_label("Second version").select_option("2")
    slider = shift.get_by_role("slider")
    slider.focus()
    for _ in range(25):
        page.keyboard.press("ArrowRight")
    expect(shift.get_by_label("Version 1 share")).to_have_text("75%")
    expect(shift.get_by_label("Version 2 share")).to_have_text("25%")
    shift.get_by_role("button", name="Save traffic of live").click()
    expect(aliases.get_by_role("cell", name="75% → 1, 25% → 2")).to_be_visible()

    alias = lam.get_alias(FunctionName="shift", Name="live")
    assert alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"]["AdditionalVersionWeights"] == {"2": 0.25}
    page.get_by_role("heading", name="Traffic shift: live").scroll_into_view_if_needed()
    screenshot(page, "versions")
