"""The console's Triggers and Monitor tabs: a schedule fires and shows in the charts; HTTP API
and SQS triggers added and removed with what they made; a function URL listed by host and by
path; cold starts charted from InitDuration, with no reads while the browser tab is hidden."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playwright.sync_api import Page, Request, expect

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


SLEEPER: dict[str, str | bytes] = {
    "index.py": "import time\n"
                "def handler(event, context):\n"
                "    time.sleep(event.get('sleep', 0))\n"
                "    return context.log_stream_name\n"}
LIVE_S = 15  # the Monitor's refresh interval


def _cold_starts(lam: Any, name: str) -> int:
    """Three overlapping invocations, then two more; returns how many environments served."""
    def call(sleep: float) -> str:
        out = lam.invoke(FunctionName=name, LogType="Tail", Payload=json.dumps({"sleep": sleep}))
        stream: str = json.loads(out["Payload"].read())
        assert "Duration: " in base64.b64decode(out["LogResult"]).decode()
        return stream

    with ThreadPoolExecutor(3) as pool:
        streams = set(pool.map(call, [1.5] * 3))
    streams |= {call(0), call(0)}
    return len(streams)


class Traffic:
    """The page's requests: the CloudWatch reads among them, and how many are unanswered."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.reads = 0
        self.pending = 0
        page.on("request", self._sent)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _sent(self, request: Request) -> None:
        self.pending += 1
        if request.headers.get("x-amz-target", "").endswith(".GetMetricData"):
            self.reads += 1

    def _ended(self, _: Request) -> None:
        self.pending -= 1

    def settled(self) -> int:
        """The reads sent, once the page has had nothing unanswered for a second (a refresh
        is a chain of requests: ListMetrics, then the reads it decides)."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < 1.0:
            self.page.wait_for_timeout(50)  # the page's events are delivered while it waits
            if self.pending:
                quiet_since = time.monotonic()
        return self.reads


def _show(page: Page, state: str) -> None:
    """What a browser does when its tab is hidden or shown again."""
    page.evaluate("""state => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
        document.dispatchEvent(new Event("visibilitychange"));
    }""", state)


def test_monitor_counts_cold_starts_and_rests_while_hidden(
        page: Page, aws: Callable[[str], Any], screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "coldy", SLEEPER, Timeout=30)
    environments = _cold_starts(lam, "coldy")
    assert environments >= 3
    traffic = Traffic(page)
    page.clock.install()  # the live refresh's timer runs when the test moves the clock
    page.goto("/console/functions/coldy/monitor")
    page.get_by_role("button", name="15 min").click()
    expect(page.get_by_test_id("total-invocations")).to_have_text("Invocations 5")
    expect(page.get_by_test_id("total-cold")).to_have_text(f"Cold starts {environments}")
    expect(page.get_by_text("InitDuration samples (AWS/Lambda)")).to_be_visible()
    screenshot(page, "monitor-cold-starts")

    settled = traffic.settled()
    page.clock.run_for(LIVE_S * 1000)  # shown: the charts are read again
    assert traffic.settled() > settled

    _show(page, "hidden")
    hidden = traffic.settled()
    page.clock.run_for(4 * LIVE_S * 1000)
    assert traffic.settled() == hidden  # nothing is read while the tab is hidden

    _show(page, "visible")
    shown = traffic.settled()
    assert shown > hidden  # shown again: read at once
    page.clock.run_for(LIVE_S * 1000)
    assert traffic.settled() > shown  # and live again


def test_function_url_trigger_lists_the_url_by_host_and_by_path(
        page: Page, aws: Callable[[str], Any], console_server: Server,
        screenshot: Screenshot) -> None:
    lam = aws("lambda")
    create_function(lam, "linky", HANDLER)
    page.goto("/console/functions/linky/triggers")
    page.get_by_label("Function URL").check()
    page.get_by_role("button", name="Add trigger").click()
    # The click's request is the page's own: wait until the page shows a URL.
    expect(page.get_by_role("row").filter(has_text="/_loam/url/")).to_be_visible()
    function_url = lam.get_function_url_config(FunctionName="linky")["FunctionUrl"]
    row = page.get_by_role("row").filter(has_text=function_url)
    url_id = function_url.split("//")[1].split(".")[0]
    by_path = f"{console_server.url}/_loam/url/{url_id}/"
    expect(row.get_by_role("link", name=function_url, exact=True)).to_have_attribute(
        "href", function_url)
    expect(row.get_by_role("link", name=by_path, exact=True)).to_have_attribute("href", by_path)
    with urllib.request.urlopen(by_path, timeout=30) as answer:
        assert answer.read() == b"hi"
    screenshot(page, "triggers-function-url")
