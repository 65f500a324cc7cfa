"""``loam logs`` over a fake CloudWatch Logs client: pages, --follow, duplicates, lines."""

from __future__ import annotations

from typing import Any

from loam.cli.logs import LogReader, follow, format_event


class FakeLogs:
    """FilterLogEvents over a list of events, ``page_size`` per page."""

    def __init__(self, page_size: int = 2) -> None:
        self.events: list[dict[str, Any]] = []
        self.calls: list[dict[str, Any]] = []
        self.page_size = page_size

    def add(self, event_id: str, timestamp: int, message: str) -> None:
        self.events.append({"eventId": event_id, "timestamp": timestamp, "message": message,
                            "logStreamName": "2024/01/01/[$LATEST]abc"})

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        matching = [e for e in self.events if e["timestamp"] >= params["startTime"]
                    and params.get("filterPattern", "") in e["message"]]
        start = int(params.get("nextToken", "0"))
        page: dict[str, Any] = {"events": matching[start:start + self.page_size]}
        if start + self.page_size < len(matching):
            page["nextToken"] = str(start + self.page_size)
        return page


def test_every_page_from_the_start_time_with_the_pattern() -> None:
    logs = FakeLogs()
    for index in range(5):
        logs.add(f"e{index}", 1000 + index, f"line {index} ERROR" if index % 2 else f"line {index}")
    logs.add("old", 10, "too old ERROR")
    events = LogReader(logs, "/aws/lambda/fn", 1000, "ERROR").poll()
    assert [e["eventId"] for e in events] == ["e1", "e3"]
    assert logs.calls[0] == {"logGroupName": "/aws/lambda/fn", "startTime": 1000,
                             "filterPattern": "ERROR"}


def test_follow_prints_each_event_once_across_polls() -> None:
    logs = FakeLogs()
    logs.add("a", 100, "first")
    logs.add("b", 200, "second")
    reader = LogReader(logs, "/aws/lambda/fn", 0)
    printed: list[str] = []
    polls = iter([True, True, False])

    def sleep(seconds: float) -> None:
        assert seconds == 0.5
        if len(logs.events) == 2:  # arrives between polls, one at the same millisecond
            logs.add("c", 200, "same millisecond")
            logs.add("d", 300, "third")

    follow(reader, lambda e: printed.append(e["eventId"]), 0.5, sleep, lambda: next(polls))
    assert printed == ["a", "b", "c", "d"]
    # each poll starts at the newest millisecond seen; the second poll took two pages
    assert [call["startTime"] for call in logs.calls] == [0, 200, 200, 300]
    assert logs.calls[2]["nextToken"] == "2"


def test_event_lines() -> None:
    event = {"timestamp": 1_700_000_000_123, "message": "START RequestId: x\n"}
    assert format_event(event) == "2023-11-14T22:13:20.123Z START RequestId: x"
    error = {"timestamp": 0, "message": "[ERROR] boom\rTraceback:\r  line 1\n"}
    assert format_event(error) == "1970-01-01T00:00:00.000Z [ERROR] boom\nTraceback:\n  line 1"
