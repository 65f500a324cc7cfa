"""The EventBridge-compatible service: buses, rules, targets, schedules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.store.sql import Database

__all__ = ["Deliver", "EventsService"]

# (target ARN, the input document the target receives, the stored target).
Deliver = Callable[[str, bytes, Mapping[str, Any]], Awaitable[None]]


class EventsService:
    service_name = "events"

    def __init__(self, database: Database, clock: Clock, region: str, account_id: str,
                 deliver: Deliver) -> None:
        self.database = database
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.deliver = deliver
        self._operations: dict[str, Handler] = {}

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
