"""PutEvents (and TestEventPattern): accepting events onto a bus.

Each good entry becomes AWS's event document, is matched against every
enabled pattern rule of its bus, and for each matching rule one delivery per
target (its input already rendered) is written to the outbox. All of a
request's deliveries commit in one transaction before the EventIds are
answered: an accepted event is never lost to a crash. Entries fail one by
one (``InvalidArgument``, ``MalformedDetail``, an unknown bus); a request over
256 KB fails whole.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.events.documents import (
    MAX_REQUEST_BYTES,
    entry_error,
    entry_size,
    event_document,
    format_time,
)
from loam.services.events.errors import InvalidEventPatternException, ValidationException
from loam.services.events.models import Arns, Delivery, Rule, Target
from loam.services.events.outbox import insert_deliveries, new_delivery
from loam.services.events.patterns import InvalidEventPatternError, Pattern
from loam.services.events.patterns import compile as compile_pattern
from loam.services.events.store import EventsStore
from loam.services.events.transform import RenderContext, render

__all__ = ["EventIngest"]

BusRules = list[tuple[Rule, list[Target]]]


@functools.lru_cache(maxsize=1024)
def _pattern(text: str) -> Pattern:
    return compile_pattern(text)


class EventIngest:
    def __init__(self, store: EventsStore, arns: Arns, clock: Clock,
                 on_enqueued: Callable[[], None]) -> None:
        self.store = store
        self.arns = arns
        self.clock = clock
        self.on_enqueued = on_enqueued  # wakes the outbox dispatcher
        self.events_put = 0
        self.events_matched = 0

    def handlers(self) -> dict[str, Handler]:
        return {"PutEvents": self.put_events, "TestEventPattern": self.test_event_pattern}

    async def put_events(self, params: dict[str, Any]) -> dict[str, Any]:
        entries: list[dict[str, Any]] = params["Entries"]
        if sum(entry_size(e) for e in entries) > MAX_REQUEST_BYTES:
            raise ValidationException("Total size of the entries in the request is over the limit.")
        results, rows = await asyncio.to_thread(self._accept, entries)
        if rows:
            self.on_enqueued()
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _accept(self, entries: list[dict[str, Any]]) -> tuple[list[dict[str, str]], int]:
        now = self.clock.time()
        buses: dict[str, BusRules | None] = {}
        results: list[dict[str, str]] = []
        rows: list[Delivery] = []
        for entry in entries:
            error = entry_error(entry)
            bus = Arns.bus_name(entry.get("EventBusName"))
            if error is None and bus not in buses:
                buses[bus] = self.store.pattern_rules(bus) if self.store.bus(bus) else None
            if error is not None:
                results.append({"ErrorCode": error.code, "ErrorMessage": error.message})
                continue
            rules = buses[bus]
            if rules is None:
                results.append({"ErrorCode": "ResourceNotFoundException",
                                "ErrorMessage": f"Event bus {bus} does not exist."})
                continue
            event = event_document(entry, self.arns.account_id, self.arns.region, now)
            rows.extend(self._route(event, rules, now))
            results.append({"EventId": event["id"]})
        with self.store.database.transaction() as tx:
            insert_deliveries(tx, rows)
        self.events_put += sum(1 for r in results if "EventId" in r)
        return results, len(rows)

    def _route(self, event: Mapping[str, Any], rules: BusRules, now: float) -> list[Delivery]:
        out: list[Delivery] = []
        for rule, targets in rules:
            assert rule.event_pattern is not None
            if not _pattern(rule.event_pattern).matches(event):
                continue
            self.events_matched += 1
            rule_arn = self.arns.rule(rule.bus, rule.name)
            context = RenderContext(event, rule_arn, rule.name, format_time(now))
            out.extend(new_delivery(t.document, render(t.document, context), now, rule_arn)
                       for t in targets)
        return out

    async def test_event_pattern(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            pattern = _pattern(params["EventPattern"])
        except InvalidEventPatternError as exc:
            raise InvalidEventPatternException(exc.message) from None
        try:
            event = json.loads(params["Event"])
        except ValueError:
            event = None
        if not isinstance(event, dict):
            raise ValidationException("Parameter Event is not valid.")
        return {"Result": pattern.matches(event)}
