"""The console's Triggers and Monitor tabs: a schedule fires and shows in the charts; HTTP API
and SQS triggers added and removed with what they made."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import Screenshot
from tests.helpers import Server, create_function

HANDLER: dict[str, str | bytes] = {
    "index.py": "def handler(event, context):\n    return {'statusCode': 200, 'body': 'hi'}\n"}


def policy_principals(lam: Any, name: str) -> list[str]:
    try:
        policy = json.loads(lam.get_policy(FunctionName=name)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return [s["Principal"]["Service"] if isinstance(s["Principal"], dict) else s["Principal"]
            for s in policy["Statement"]]


def test_a_schedule_fires_and_the_monitor_tab_shows_it(
        page: Page, aws: Callable[[str], Any], screenshot: Screenshot) -> None:
    lam, events = aws("lambda"), aws("events")
    create_function(lam, "ticker", HANDLER)
    page.goto("/console/functions/ticker/triggers")
    page.get_by_label("Schedule", exact=True).check()
    page.get_by_label("Rule name").fill("ticker-every-minute")
    page.get_by_label("Schedule expression").fill("rate(1 minute)")
    page.get_by_role("button", name="Add trigger").click()
    row = page.get_by_role("row").filter(has_text="ticker-every-minute")
    expect(row).to_contain_text("rate(1 minute)")
    expect(row).to_contain_text("Enabled")
    targets = events.list_targets_by_rule(Rule="ticker-every-minute")["Targets"]
    assert [t["Arn"].split(":")[-1] for t in targets] == ["ticker"]
    assert policy_principals(lam, "ticker") == ["events.amazonaws.com"]
    screenshot(page, "triggers")

    page.get_by_role("tab", name="Monitor").click()
    page.get_by_role("button", name="15 min").click()
    # The charts refresh themselves; the first run is due within a minute of the rule.
    expect(page.get_by_test_id("total-invocations")).to_have_text(
        re.compile(r"Invocations [1-9]"), timeout=120_000)
    expect(page.get_by_test_id("total-cold")).to_have_text(re.compile(r"Cold starts [1-9]"))
    screenshot(page, "monitor")
    page.get_by_role("button", name="Switch to dark theme").click()
    screenshot(page, "monitor-dark")  # the charts take the dark theme's colours

    page.get_by_role("tab", name="Triggers").click()
    page.get_by_role("button", name="Remove Schedule ticker-every-minute").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No triggers yet")).to_be_visible()
    assert "ticker-every-minute" not in [r["Name"] for r in events.list_rules()["Rules"]]
    assert policy_principals(lam, "ticker") == []


def test_http_api_and_sqs_triggers_come_and_go(
        page: Page, aws: Callable[[str], Any], console_server: Server) -> None:
    lam, apigw, sqs = aws("lambda"), aws("apigatewayv2"), aws("sqs")
    create_function(lam, "webby", HANDLER)
    page.goto("/console/functions/webby/triggers")
    page.get_by_label("HTTP API route").check()
    page.get_by_label("New API name").fill("webby-api")
    page.get_by_label("Route key").fill("GET /hello")
    page.get_by_role("button", name="Add trigger").click()
    expect(page.get_by_role("row").filter(has_text="webby-api: GET /hello")).to_be_visible()
    api = next(a for a in apigw.get_apis()["Items"] if a["Name"] == "webby-api")
    with urllib.request.urlopen(f"{console_server.url}/_loam/api/{api['ApiId']}/hello") as answer:
        assert answer.read() == b"hi"  # the permission for apigateway.amazonaws.com is there

    page.get_by_label("SQS queue").check()
    page.get_by_label("New queue name").fill("webby-jobs")
    page.get_by_role("button", name="Add trigger").click()
    row = page.get_by_role("row").filter(has_text="webby-jobs")
    expect(row).to_contain_text("Enabled", timeout=30_000)
    row.get_by_role("button", name="Disable webby-jobs").click()
    expect(row).to_contain_text("Disabled", timeout=30_000)

    page.get_by_role("button", name="Remove HTTP API webby-api: GET /hello").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.get_by_role("row").filter(has_text="webby-api")).to_have_count(0)
    assert all(a["Name"] != "webby-api" for a in apigw.get_apis()["Items"])
    assert policy_principals(lam, "webby") == []

    page.get_by_role("button", name="Remove SQS queue webby-jobs").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(page.get_by_text("No triggers yet")).to_be_visible(timeout=30_000)
    assert lam.list_event_source_mappings(FunctionName="webby")["EventSourceMappings"] == []
    assert not any(u.endswith("/webby-jobs") for u in sqs.list_queues().get("QueueUrls", []))
