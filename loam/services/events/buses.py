"""Event bus and tagging operations.

The ``default`` bus always exists and cannot be deleted. Deleting another bus
deletes its rules and their targets with it; deleting a bus that does not
exist succeeds, as in AWS. Tags live on buses and rules by ARN.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.events.errors import (
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    ValidationException,
    bus_not_found,
    rule_not_found,
)
from loam.services.events.models import DEFAULT_BUS, Arns, Bus
from loam.services.events.paging import DEFAULT_LIMIT, after_token, page
from loam.services.events.store import EventsStore
from loam.store.protocol import RecordExists

__all__ = ["BusOperations"]


class BusOperations:
    def __init__(self, store: EventsStore, arns: Arns, clock: Clock) -> None:
        self.store = store
        self.arns = arns
        self.clock = clock

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateEventBus": self.create_event_bus,
            "DescribeEventBus": self.describe_event_bus,
            "ListEventBuses": self.list_event_buses,
            "DeleteEventBus": self.delete_event_bus,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    def _bus_doc(self, bus: Bus) -> dict[str, Any]:
        doc: dict[str, Any] = {"Name": bus.name, "Arn": self.arns.bus(bus.name),
                               "CreationTime": bus.created, "LastModifiedTime": bus.modified}
        if bus.description is not None:
            doc["Description"] = bus.description
        return doc

    async def create_event_bus(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        now = self.clock.time()
        bus = Bus(name, params.get("Description"), now, now)
        arn = self.arns.bus(name)
        tags = [(arn, t["Key"], t["Value"]) for t in params.get("Tags") or ()]
        try:
            await asyncio.to_thread(self.store.create_bus, bus, tags)
        except RecordExists:
            raise ResourceAlreadyExistsException(f"Event bus {name} already exists.") from None
        out: dict[str, Any] = {"EventBusArn": arn}
        if bus.description is not None:
            out["Description"] = bus.description
        return out

    async def describe_event_bus(self, params: dict[str, Any]) -> dict[str, Any]:
        name = Arns.bus_name(params.get("Name"))
        bus = await asyncio.to_thread(self.store.bus, name)
        if bus is None:
            raise bus_not_found(name)
        return self._bus_doc(bus)

    async def list_event_buses(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = params.get("Limit") or DEFAULT_LIMIT
        buses = await asyncio.to_thread(self.store.buses, params.get("NamePrefix") or "",
                                        after_token(params), limit + 1)
        out: dict[str, Any] = {"EventBuses": [self._bus_doc(b) for b in buses[:limit]]}
        token = page([b.name for b in buses], limit)
        if token:
            out["NextToken"] = token
        return out

    async def delete_event_bus(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        if name == DEFAULT_BUS:
            raise ValidationException("Cannot delete event bus default.")

        def delete() -> None:
            rules = self.store.rules(name, "", "", 1_000_000)
            self.store.delete_bus(name, self.arns.bus(name),
                                  [self.arns.rule(name, r.name) for r in rules])

        await asyncio.to_thread(delete)
        return {}

    # --- tags ------------------------------------------------------------------

    def _check_resource(self, arn: str) -> None:
        bus = Arns.parse_bus(arn)
        if bus is not None:
            if self.store.bus(bus) is None:
                raise bus_not_found(bus)
            return
        rule = Arns.parse_rule(arn)
        if rule is None:
            raise ResourceNotFoundException(f"Resource {arn} not found.")
        if self.store.rule(*rule) is None:
            raise rule_not_found(rule[1], rule[0])

    async def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["ResourceARN"]

        def tag() -> None:
            self._check_resource(arn)
            self.store.tag([(arn, t["Key"], t["Value"]) for t in params["Tags"]])

        await asyncio.to_thread(tag)
        return {}

    async def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["ResourceARN"]

        def untag() -> None:
            self._check_resource(arn)
            self.store.untag(arn, params["TagKeys"])

        await asyncio.to_thread(untag)
        return {}

    async def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["ResourceARN"]

        def tags() -> list[tuple[str, str]]:
            self._check_resource(arn)
            return self.store.tags(arn)

        pairs = await asyncio.to_thread(tags)
        return {"Tags": [{"Key": k, "Value": v} for k, v in pairs]}
