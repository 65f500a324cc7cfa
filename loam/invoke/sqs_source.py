"""The SQS event source: pollers that deliver queue messages to functions."""

from __future__ import annotations

import asyncio

from loam.clock import Clock
from loam.control.event_sources import EventSourceMappings
from loam.invoke.service import InvokeService
from loam.services.sqs import SqsService

__all__ = ["SqsEventSource"]


class SqsEventSource:
    def __init__(self, mappings: EventSourceMappings, sqs: SqsService, invoker: InvokeService,
                 clock: Clock) -> None:
        self.mappings = mappings
        self.sqs = sqs
        self.invoker = invoker
        self.clock = clock

    async def run(self) -> None:
        """Poll every enabled mapping until cancelled."""
        await asyncio.Event().wait()
