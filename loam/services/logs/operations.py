"""The ``logs`` API handlers: log groups, streams, events and retention.

Handlers take and return the botocore shapes' Python form (see
``loam.services.base``); every store call runs on a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.logs.errors import (
    InvalidParameter,
    ResourceAlreadyExists,
    group_not_found,
    stream_not_found,
)
from loam.services.logs.filter_pattern import compile_pattern
from loam.services.logs.store import EventRow, GroupRow, LogStore, StreamRow

__all__ = ["RETENTION_DAYS", "LogOperations"]

T = TypeVar("T")
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)
PAGE_LIMIT = 50
EVENTS_LIMIT = 10_000
# FilterLogEvents examines at most this many events per call, then answers with a token.
SCAN_LIMIT = 20_000
SCAN_CHUNK = 2_000
_EVENT_TOKEN = re.compile(r"^([fb])/(\d{1,56})(?:/s)?$")


class LogOperations:
    def __init__(self, store: LogStore, clock: Clock, region: str, account_id: str) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self.account_id = account_id

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateLogGroup": self.create_log_group,
            "DeleteLogGroup": self.delete_log_group,
            "DescribeLogGroups": self.describe_log_groups,
            "DescribeLogStreams": self.describe_log_streams,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
            "PutRetentionPolicy": self.put_retention_policy,
            "DeleteRetentionPolicy": self.delete_retention_policy,
        }

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def _now(self) -> int:
        return int(self.clock.time() * 1000)

    # -- groups --------------------------------------------------------------------------

    async def create_log_group(self, params: dict[str, Any]) -> dict[str, Any]:
        if not await self._call(self.store.create_group, params["logGroupName"], self._now()):
            raise ResourceAlreadyExists("The specified log group already exists")
        return {}

    async def delete_log_group(self, params: dict[str, Any]) -> dict[str, Any]:
        if not await self._call(self.store.delete_group, params["logGroupName"]):
            raise group_not_found()
        return {}

    async def describe_log_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("logGroupNamePrefix") and params.get("logGroupNamePattern"):
            raise InvalidParameter("LogGroup name prefix and LogGroup name pattern are "
                                   "mutually exclusive parameters.")
        limit = params.get("limit", PAGE_LIMIT)
        prefix = params.get("logGroupNamePrefix", "")
        after = _decode(params["nextToken"], "n") if "nextToken" in params else ""
        rows = await self._call(self.store.groups, prefix, after, limit + 1)
        pattern = params.get("logGroupNamePattern")
        if pattern:
            rows = [row for row in rows if pattern in row.name]
        out: dict[str, Any] = {"logGroups": [self._group(row) for row in rows[:limit]]}
        if len(rows) > limit:
            out["nextToken"] = _encode({"n": rows[limit].name})
        return out

    def _group(self, row: GroupRow) -> dict[str, Any]:
        arn = f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{row.name}"
        doc: dict[str, Any] = {
            "logGroupName": row.name, "creationTime": row.created, "metricFilterCount": 0,
            "arn": arn + ":*", "storedBytes": row.stored_bytes, "logGroupClass": "STANDARD",
            "logGroupArn": arn,
        }
        if row.retention_days is not None:
            doc["retentionInDays"] = row.retention_days
        return doc

    async def put_retention_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        days = params["retentionInDays"]
        if days not in RETENTION_DAYS:
            allowed = ", ".join(map(str, RETENTION_DAYS))
            raise InvalidParameter(
                f"1 validation error detected: Value '{days}' at 'retentionInDays' failed to "
                f"satisfy constraint: Member must satisfy enum value set: [{allowed}]")
        if not await self._call(self.store.set_retention, params["logGroupName"], days):
            raise group_not_found()
        return {}

    async def delete_retention_policy(self, params: dict[str, Any]) -> dict[str, Any]:
        if not await self._call(self.store.set_retention, params["logGroupName"], None):
            raise group_not_found()
        return {}

    # -- streams -------------------------------------------------------------------------

    async def describe_log_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        group = await self._existing_group(params)
        order = params.get("orderBy", "LogStreamName")
        prefix = params.get("logStreamNamePrefix", "")
        if prefix and order == "LastEventTime":
            raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = await self._call(self.store.streams, group, prefix)
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s.last_event or 0, s.name))
        if params.get("descending"):
            streams.reverse()
        start = _decode(params["nextToken"], "o") if "nextToken" in params else 0
        limit = params.get("limit", PAGE_LIMIT)
        page = streams[start:start + limit]
        out: dict[str, Any] = {"logStreams": [self._stream(s) for s in page]}
        if start + limit < len(streams):
            out["nextToken"] = _encode({"o": start + limit})
        return out

    def _stream(self, row: StreamRow) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "logStreamName": row.name, "creationTime": row.created,
            "arn": f"arn:aws:logs:{self.region}:{self.account_id}:log-group:{row.group}"
                   f":log-stream:{row.name}",
            "storedBytes": 0,
        }
        for key, value in (("firstEventTimestamp", row.first_event),
                           ("lastEventTimestamp", row.last_event),
                           ("lastIngestionTime", row.last_ingestion)):
            if value is not None:
                doc[key] = value
        return doc

    async def _existing_group(self, params: dict[str, Any]) -> str:
        name = _group_name(params)
        if await self._call(self.store.group, name) is None:
            raise group_not_found()
        return name

    # -- events --------------------------------------------------------------------------

    async def get_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = await self._existing_group(params)
        stream = params["logStreamName"]
        known = await self._call(self.store.streams, group, stream)
        if not any(row.name == stream for row in known):
            raise stream_not_found()
        token = _event_token(params.get("nextToken"))
        limit = params.get("limit", EVENTS_LIMIT)
        start, end = _millis(params.get("startTime")), _millis(params.get("endTime"))
        direction, mark = token if token else ("f" if params.get("startFromHead") else "", -1)
        after = mark if direction == "f" else None
        before = mark if direction == "b" else None
        newest = direction != "f"
        rows = await self._call(self.store.stream_events, group, stream, start, end,
                                after, before, limit, newest)
        if rows:
            forward, backward = rows[-1].id, rows[0].id
        elif direction == "f":
            forward, backward = mark, mark + 1
        elif direction == "b":
            forward, backward = mark - 1, mark
        else:
            forward, backward = 0, 0
        return {
            "events": [{"timestamp": r.timestamp, "message": r.message,
                        "ingestionTime": r.ingested} for r in rows],
            "nextForwardToken": f"f/{max(forward, 0):056d}/s",
            "nextBackwardToken": f"b/{max(backward, 0):056d}/s",
        }

    async def filter_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = await self._existing_group(params)
        if "logStreamNames" in params and "logStreamNamePrefix" in params:
            raise InvalidParameter("Cannot specify both logStreamNames and "
                                   "logStreamNamePrefix.")
        matches = compile_pattern(params.get("filterPattern"))
        streams: list[str] | None = params.get("logStreamNames")
        if "logStreamNamePrefix" in params:
            rows = await self._call(self.store.streams, group, params["logStreamNamePrefix"])
            streams = [row.name for row in rows]
        limit = params.get("limit", EVENTS_LIMIT)
        cursor = _cursor(params["nextToken"]) if "nextToken" in params else None
        start, end = _millis(params.get("startTime")), _millis(params.get("endTime"))
        found, cursor, more = await self._call(self._scan, group, streams, start, end, cursor,
                                               limit, matches)
        out: dict[str, Any] = {"events": [self._filtered(row) for row in found]}
        if more and cursor is not None:
            out["nextToken"] = _encode({"t": cursor[0], "i": cursor[1]})
        return out

    def _scan(self, group: str, streams: list[str] | None, start: int | None,
              end: int | None, cursor: tuple[int, int] | None, limit: int,
              matches: Callable[[str], bool]) -> tuple[list[EventRow], tuple[int, int] | None,
                                                       bool]:
        """Matching events after ``cursor``; the cursor reached; whether more may follow."""
        found: list[EventRow] = []
        scanned = 0
        while scanned < SCAN_LIMIT:
            rows = self.store.group_events(group, streams, start, end, cursor, SCAN_CHUNK)
            for row in rows:
                cursor = (row.timestamp, row.id)
                if matches(row.message):
                    found.append(row)
                    if len(found) == limit:
                        return found, cursor, True
            scanned += len(rows)
            if len(rows) < SCAN_CHUNK:
                return found, cursor, False
        return found, cursor, True

    def _filtered(self, row: EventRow) -> dict[str, Any]:
        return {"logStreamName": row.stream, "timestamp": row.timestamp,
                "message": row.message, "ingestionTime": row.ingested,
                "eventId": f"{row.id:056d}"}


def _group_name(params: dict[str, Any]) -> str:
    name, identifier = params.get("logGroupName"), params.get("logGroupIdentifier")
    if name and identifier:
        raise InvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive "
                               "parameters.")
    if identifier:
        if identifier.startswith("arn:"):
            return str(identifier.split(":log-group:", 1)[-1].removesuffix(":*"))
        return str(identifier)
    if not name:
        raise InvalidParameter("Should provide either logGroupName or logGroupIdentifier.")
    return str(name)


def _millis(value: Any) -> int | None:
    return None if value is None else int(value)


def _event_token(text: str | None) -> tuple[str, int] | None:
    if text is None:
        return None
    match = _EVENT_TOKEN.match(text)
    if match is None:
        raise InvalidParameter("The specified nextToken is invalid.")
    return match.group(1), int(match.group(2))


def _encode(doc: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _decode(token: str, key: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))[key]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidParameter("The specified nextToken is invalid.") from exc


def _cursor(token: str) -> tuple[int, int]:
    return int(_decode(token, "t")), int(_decode(token, "i"))
