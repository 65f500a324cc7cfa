"""``loam logs <name>``: a function's log events through the CloudWatch Logs API.

FilterLogEvents on the function's log group (``/aws/lambda/<name>``) from
``--since`` ago (``30s``, ``10m``, ``2h``, ``1d``, ``1w`` or an ISO 8601
time), every page, with ``--filter`` as the filterPattern. ``--follow`` then
polls: each poll starts at the newest timestamp seen, and events already
printed at that millisecond (by eventId) are not printed twice.
Lines are ``<ISO time> <message>``; ``--output json`` prints each event as
one JSON line (the API's event object), so it can be followed too.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from loam.cli.connection import Connection, UsageError, client_options
from loam.cli.output import Output
from loam.clock import Clock, SystemClock

__all__ = ["LogReader", "format_event", "log_group_name", "parse_since", "register"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^(\d+)([smhdw])$")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    logs = sub.add_parser("logs", parents=[client_options()], help="a function's log events")
    logs.add_argument("name", help="function name or ARN")
    logs.add_argument("--since", default="10m",
                      help="how far back: 30s, 10m, 2h, 1d, 1w or an ISO 8601 time "
                           "(default 10m)")
    logs.add_argument("--filter", default=None, metavar="PATTERN",
                      help="a CloudWatch Logs filter pattern")
    logs.add_argument("--follow", "-f", action="store_true", help="keep polling for new events")
    logs.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                      help="seconds between polls with --follow (default 1)")
    logs.set_defaults(run=_run)


def parse_since(text: str, now: float) -> int:
    """``--since`` as FilterLogEvents' startTime (milliseconds since the epoch)."""
    match = _DURATION.match(text.strip())
    if match:
        return int((now - int(match.group(1)) * _UNITS[match.group(2)]) * 1000)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected 30s, 10m, 2h, 1d, 1w or an ISO 8601 "
                         "time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def log_group_name(function: str) -> str:
    """The function's log group; a function ARN (qualified or not) names it too."""
    if function.startswith("arn:"):
        parts = function.split(":")
        if len(parts) >= 7:
            function = parts[6]
    return f"/aws/lambda/{function}"


def format_event(event: dict[str, Any]) -> str:
    moment = datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    # Lambda's Python runtime joins a traceback's lines with \r (one event): show them
    message = str(event.get("message", "")).rstrip().replace("\r", "\n")
    return f"{stamp} {message}"


class LogReader:
    """FilterLogEvents from a start time on, remembering what it has returned."""

    def __init__(self, logs: Any, group: str, start_time: int,
                 pattern: str | None = None) -> None:
        self._logs = logs
        self._group = group
        self._start = start_time
        self._pattern = pattern
        self._seen_at_start: set[str] = set()

    def poll(self) -> list[dict[str, Any]]:
        """Every event since the last poll, oldest first, each returned once."""
        fresh: list[dict[str, Any]] = []
        for event in self._pages():
            if event.get("eventId") in self._seen_at_start:
                continue
            fresh.append(event)
        fresh.sort(key=lambda e: (int(e.get("timestamp", 0)), str(e.get("eventId", ""))))
        if fresh:
            newest = int(fresh[-1].get("timestamp", 0))
            if newest > self._start:
                self._start = newest
                self._seen_at_start = set()
            self._seen_at_start.update(str(e.get("eventId")) for e in fresh
                                       if int(e.get("timestamp", 0)) == newest)
        return fresh

    def _pages(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"logGroupName": self._group, "startTime": self._start}
        if self._pattern:
            params["filterPattern"] = self._pattern
        while True:
            page = self._logs.filter_log_events(**params)
            yield from page.get("events", [])
            token = page.get("nextToken")
            if not token or token == params.get("nextToken"):
                return
            params["nextToken"] = token


def follow(reader: LogReader, emit: Callable[[dict[str, Any]], None], interval: float,
           sleep: Callable[[float], None], keep_going: Callable[[], bool]) -> None:
    """Emit every event, then poll every ``interval`` seconds while ``keep_going()``."""
    while True:
        for event in reader.poll():
            emit(event)
        if not keep_going():
            return
        sleep(interval)


def _run(args: argparse.Namespace, connection: Connection, out: Output,
         clock: Clock | None = None) -> int:
    now = (clock or SystemClock()).time()
    reader = LogReader(connection.client("logs"), log_group_name(args.name),
                       parse_since(args.since, now), args.filter)

    def emit(event: dict[str, Any]) -> None:
        if out.is_json:
            out.json_line(event)
        else:
            out.line(format_event(event))

    follow(reader, emit, args.interval, time.sleep, lambda: bool(args.follow))
    return 0
