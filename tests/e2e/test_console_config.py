"""The console's Configuration, Versions and account pages in a real browser."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Screenshot
from tests.helpers import Server, create_function, make_zip

HANDLER: dict[str, str | bytes] = {
    "index.py": "def handler(event, context):\n    return {'ok': True}\n"}


def open_tab(page: Page, name: str, tab: str) -> None:
    page.goto(f"/console/functions/{name}/{tab}")
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def test_memory_change_is_saved(page: Page, aws: Callable[[str], Any],
                                screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "config-memory", HANDLER)
    open_tab(page, "config-memory", "configuration")
    memory = page.get_by_label("Memory (MB)")
    expect(memory).to_have_value("128")
    memory.fill("512")
    page.get_by_role("button", name="Save general configuration").click()
    expect(page.locator("#general").get_by_role("status")).to_have_text("Saved.")
    assert lam.get_function_configuration(FunctionName="config-memory")["MemorySize"] == 512
    # The page header shows the saved value too: GetFunction was read again.
    expect(page.get_by_label("Summary")).to_contain_text("512 MB")
    screenshot(page, "configuration")


def test_environment_budget_and_a_refused_save_shows_the_aws_code(
        page: Page, aws: Callable[[str], Any], screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "config-env", HANDLER, Environment={"Variables": {"AA": "1"}})
    open_tab(page, "config-env", "configuration")
    section = page.locator("#environment")
    # {"AA":"1"} is 10 bytes, counted as Lambda counts it.
    expect(section).to_contain_text("10 of 4,096 bytes used")
    section.get_by_role("button", name="Add variable").click()
    section.get_by_label("Key 2").fill("BIG")
    section.get_by_label("Value 2").fill("x" * 4100)
    expect(section).to_contain_text("Lambda allows 4,096")
    expect(section.get_by_role("button", name="Save environment variables")).to_be_disabled()
    section.get_by_label("Value 2").fill("hello")
    section.get_by_role("button", name="Save environment variables").click()
    expect(section.get_by_role("status")).to_have_text("Saved.")
    saved = lam.get_function_configuration(FunctionName="config-env")["Environment"]
    assert saved["Variables"] == {"AA": "1", "BIG": "hello"}
    # The server's own refusal comes back as "Code: message".
    reserved = page.locator("#reserved")
    reserved.get_by_label("Reserved concurrent executions").fill("100000")
    reserved.get_by_role("button", name="Save reservation").click()
    expect(reserved.get_by_role("alert")).to_contain_text("InvalidParameterValueException")
    screenshot(page, "configuration-environment")


def test_account_page_shows_limits_usage_and_cost(page: Page, aws: Callable[[str], Any],
                                                  screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "account-usage", HANDLER)
    for _ in range(3):
        lam.invoke(FunctionName="account-usage", Payload=b"{}")["Payload"].read()
    settings = lam.get_account_settings()
    page.get_by_role("link", name="Account", exact=True).click()
    expect(page.get_by_role("heading", name="Account", level=1)).to_be_visible()
    limits = page.get_by_role("region", name="Concurrency and storage")
    expect(limits).to_contain_text(f"{settings['AccountLimit']['ConcurrentExecutions']:,}")
    expect(limits).to_contain_text(f"{settings['AccountUsage']['FunctionCount']:,}")
    month = page.get_by_role("region", name=re.compile("This month"))
    row = month.get_by_role("row").filter(has_text="account-usage")
    expect(row.get_by_role("cell").nth(2)).to_have_text("3")
    expect(month).to_contain_text("Cost this month")
    expect(month.get_by_role("meter", name="Requests free tier used")).to_be_visible()
    screenshot(page, "account")


def test_url_permissions_async_and_layers_sections(page: Page, aws: Callable[[str], Any],
                                                    console_server: Server,
                                                    screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "config-more", HANDLER)
    layer = lam.publish_layer_version(LayerName="config-layer",
                                      Content={"ZipFile": make_zip({"python/x.py": "X = 1\n"})})
    open_tab(page, "config-more", "configuration")

    url = page.locator("#url")
    url.get_by_role("button", name="Create function URL").click()
    expect(url.get_by_role("status")).to_have_text("Function URL created.")
    function_url = lam.get_function_url_config(FunctionName="config-more")["FunctionUrl"]
    url_id = function_url.split("//")[1].split(".")[0]
    links = url.get_by_role("link")
    expect(links).to_have_count(2)
    expect(links.first).to_have_attribute("href", function_url)
    # The same URL by path on the main port, which needs no wildcard DNS, answers too.
    by_path = f"{console_server.url}/_loam/url/{url_id}/"
    expect(links.nth(1)).to_have_attribute("href", by_path)
    with urllib.request.urlopen(by_path, timeout=30) as answer:
        assert json.loads(answer.read()) == {"ok": True}
    permissions = page.locator("#permissions")
    public = permissions.get_by_role("cell", name="FunctionURLAllowPublicAccess", exact=True)
    expect(public).to_be_visible()

    permissions.get_by_label("Statement id").fill("from-events")
    permissions.get_by_label("Principal").fill("events.amazonaws.com")
    permissions.get_by_label("Source ARN (optional)").fill(
        "arn:aws:events:us-east-1:123456789012:rule/nightly")
    permissions.get_by_role("button", name="Add permission").click()
    expect(permissions.get_by_role("cell", name="from-events", exact=True)).to_be_visible()
    policy = json.loads(lam.get_policy(FunctionName="config-more")["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == {"FunctionURLAllowPublicAccess",
                                                        "from-events"}
    permissions.get_by_role("button", name="Remove statement from-events").click()
    expect(permissions.get_by_role("cell", name="from-events", exact=True)).to_have_count(0)

    async_config = page.locator("#async")
    async_config.get_by_label("Retry attempts").fill("1")
    async_config.get_by_label("On-failure destination ARN").fill(
        "arn:aws:sqs:us-east-1:123456789012:failures")
    async_config.get_by_role("button", name="Save asynchronous configuration").click()
    expect(async_config.get_by_role("status")).to_have_text("Saved.")
    saved = lam.get_function_event_invoke_config(FunctionName="config-more")
    assert saved["MaximumRetryAttempts"] == 1
    assert saved["DestinationConfig"]["OnFailure"]["Destination"].endswith(":failures")

    layers = page.locator("#layers")
    expect(layers.get_by_label("Layer version ARN")).to_have_value(layer["LayerVersionArn"])
    layers.get_by_role("button", name="Add layer").click()
    expect(layers.get_by_role("cell", name=layer["LayerVersionArn"], exact=True)).to_be_visible()
    config = lam.get_function_configuration(FunctionName="config-more")
    assert [x["Arn"] for x in config["Layers"]] == [layer["LayerVersionArn"]]
    url.scroll_into_view_if_needed()
    screenshot(page, "configuration-url-permissions")


def test_reserved_and_provisioned_concurrency(page: Page, aws: Callable[[str], Any]) -> None:
    lam = aws("lambda")
    create_function(lam, "config-conc", HANDLER)
    lam.publish_version(FunctionName="config-conc")
    open_tab(page, "config-conc", "configuration")
    reserved = page.locator("#reserved")
    reserved.get_by_label("Reserved concurrent executions").fill("5")
    reserved.get_by_role("button", name="Save reservation").click()
    expect(reserved).to_contain_text("5 concurrent executions reserved")
    assert lam.get_function_concurrency(FunctionName="config-conc")[
        "ReservedConcurrentExecutions"] == 5

    provisioned = page.locator("#provisioned")
    provisioned.get_by_label("Version or alias").select_option("1")
    provisioned.get_by_label("Provisioned concurrent executions").fill("1")
    provisioned.get_by_role("button", name="Save provisioned concurrency").click()
    row = provisioned.get_by_role("row").filter(has_text="READY")
    expect(row).to_contain_text("1", timeout=30_000)  # the status follows the environments
    got = lam.get_provisioned_concurrency_config(FunctionName="config-conc", Qualifier="1")
    assert got["RequestedProvisionedConcurrentExecutions"] == 1
    provisioned.get_by_role("button", name="Remove").click()
    expect(provisioned.get_by_text("None configured.")).to_be_visible()
    reserved.get_by_role("button", name="Remove reservation").click()
    expect(reserved).to_contain_text("Not reserved")
