"""A function printing ~100 MB loses no log line, and other functions stay fast meanwhile."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

LINE_CHARS = 1000  # each printed line: 999 characters and its newline
FLOOD = """\
def handler(event, context):
    tag = event["tag"]
    filler = "x" * (999 - 20)
    for i in range(event["lines"]):
        print(f"{tag}:{i:09d} " + filler[: 999 - len(tag) - 11 - 9] + "." * 9)
    return event["lines"]
"""
ECHO = "def handler(event, context):\n    return event\n"


@pytest.fixture(scope="module")
def logs(server: Server) -> Any:
    return client(server, "logs")


def stored_bytes(logs: Any, group: str) -> int:
    [found] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    return int(found["storedBytes"])


def platform_bytes(logs: Any, group: str) -> tuple[int, int]:
    """How many START / END / REPORT events the group holds, and their stored bytes."""
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern="?START ?END ?REPORT")
    events = [e for page in pages for e in page["events"]
              if e["message"].startswith(("START ", "END ", "REPORT "))]
    return len(events), sum(len(e["message"].encode()) + 26 for e in events)


def invoke_flood(lam: Any, name: str, tag: str, lines: int) -> None:
    answer = lam.invoke(FunctionName=name,
                        Payload=json.dumps({"tag": tag, "lines": lines}).encode())
    assert json.loads(answer["Payload"].read()) == lines, answer


def quick_latencies_while(work: Callable[[], None], lam: Any, quick: str) -> list[float]:
    """Run ``work`` in a thread; meanwhile invoke ``quick`` every 50 ms. Its latencies (s)."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the caller's thread
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    latencies: list[float] = []
    while thread.is_alive():
        began = time.monotonic()
        answer = lam.invoke(FunctionName=quick, Payload=b'{"ping": 1}')
        assert json.loads(answer["Payload"].read()) == {"ping": 1}
        latencies.append(time.monotonic() - began)
        time.sleep(0.05)
    thread.join()
    assert not failures, failures
    return latencies


def test_100_mb_of_lines_are_all_kept_while_another_function_stays_fast(
        lam: Any, logs: Any) -> None:
    flood, quick = unique_name("flood"), unique_name("quick")
    deploy(lam, flood, {"index.py": FLOOD}, Timeout=120, MemorySize=512)
    deploy(lam, quick, {"index.py": ECHO})
    try:
        lam.invoke(FunctionName=quick, Payload=b"{}")["Payload"].read()  # warm
        invocations, lines = 17, 6_000  # 17 x 6 MB: each under one invocation's log buffer

        def run_flood() -> None:
            for n in range(invocations):
                invoke_flood(lam, flood, f"t{n:02d}", lines)

        latencies = quick_latencies_while(run_flood, lam, quick)
        assert len(latencies) > 10
        assert statistics.median(latencies) < 0.5, latencies
        assert max(latencies) < 3.0, latencies

        group = f"/aws/lambda/{flood}"
        printed = invocations * lines * (LINE_CHARS + 26)
        assert printed >= 100 * 1000 * 1000

        def complete() -> bool:
            count, platform = platform_bytes(logs, group)
            return count == 3 * invocations and stored_bytes(logs, group) == printed + platform
        deadline = time.monotonic() + 120
        while not complete():
            assert time.monotonic() < deadline, (stored_bytes(logs, group), printed)
            time.sleep(1)
        # FilterLogEvents examines a bounded slice per call: the paginator follows nextToken.
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern=f'"t{invocations - 1:02d}:{lines - 1:09d}"')
        assert len([e for page in pages for e in page["events"]]) == 1
    finally:
        for name in (flood, quick):
            lam.delete_function(FunctionName=name)


def test_one_invocation_printing_100_mb_loses_no_line(lam: Any, logs: Any) -> None:
    """Past the environment's buffer the output goes to the store as it is read, with
    back-pressure on the printing function alone; START stays first, REPORT last."""
    flood, quick = unique_name("flood"), unique_name("quick")
    deploy(lam, flood, {"index.py": FLOOD}, Timeout=120, MemorySize=512)
    deploy(lam, quick, {"index.py": ECHO})
    try:
        lam.invoke(FunctionName=quick, Payload=b"{}")["Payload"].read()  # warm
        lines = 100_000
        latencies = quick_latencies_while(lambda: invoke_flood(lam, flood, "one", lines),
                                          lam, quick)
        assert statistics.median(latencies) < 0.5, latencies

        group = f"/aws/lambda/{flood}"
        deadline = time.monotonic() + 120
        while platform_bytes(logs, group)[0] < 3:
            assert time.monotonic() < deadline
            time.sleep(1)
        _, platform = platform_bytes(logs, group)
        assert stored_bytes(logs, group) == lines * (LINE_CHARS + 26) + platform
        [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
        first = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                    startFromHead=True, limit=2)["events"]
        last = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                   startFromHead=False, limit=1)["events"]
        assert first[0]["message"].startswith("START ")
        assert first[1]["message"].startswith("one:000000000 ")
        assert last[0]["message"].startswith("REPORT ")
    finally:
        lam.delete_function(FunctionName=flood)
        lam.delete_function(FunctionName=quick)
