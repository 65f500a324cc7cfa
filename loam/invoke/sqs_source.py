"""The SQS event source: a supervisor that keeps one ``MappingPollers`` per
enabled mapping.

The supervisor wakes on every change this node makes to a mapping (the
control plane's ``subscribe``) and re-reads the store every
``RECHECK_S`` for changes made by other nodes. Each pass first settles
transitional states (Creating → Enabled, Disabling → Disabled, Deleting →
gone, …), then starts pollers for newly enabled mappings, hands a changed
configuration to running pollers, and stops (cancels) the pollers of
mappings that are disabled or deleted. Everything it starts is cancelled and
awaited when ``run`` is cancelled (the node's lifespan).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, replace

from loam.clock import Clock
from loam.control.event_source_models import EventSourceMapping
from loam.control.event_sources import EventSourceMappings
from loam.control.models import FunctionState
from loam.invoke.sqs_pollers import (
    Invoker,
    MappingCounts,
    MappingPollers,
    QueueService,
    Sleep,
    SourceCounters,
)

__all__ = ["RECHECK_S", "SqsEventSource", "SqsSourceStatistics"]

log = logging.getLogger("loam.invoke")

RECHECK_S = 1.0
NO_RECORDS = "No records processed"


@dataclass(frozen=True)
class SqsSourceStatistics:
    mappings: int  # enabled mappings being polled
    pollers: int
    received: int
    filtered: int  # deleted unprocessed: they matched no filter
    invocations: int
    succeeded: int
    failed: int  # function errors, failed batch items reported as a whole-batch failure
    throttled: int
    deleted: int


class SqsEventSource:
    def __init__(self, mappings: EventSourceMappings, sqs: QueueService, invoker: Invoker,
                 clock: Clock, sleep: Sleep = asyncio.sleep) -> None:
        self.mappings = mappings
        self.sqs = sqs
        self.invoker = invoker
        self.clock = clock
        self.sleep = sleep
        self._pollers: dict[str, MappingPollers] = {}
        self._counters = SourceCounters()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Poll every enabled mapping until cancelled."""
        loop = asyncio.get_running_loop()

        def changed() -> None:  # called from the control plane's threads
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._wake.set)

        self.mappings.subscribe(changed)
        try:
            while True:
                self._wake.clear()
                try:
                    await self.reconcile()
                except Exception:  # supervisor loop: record and try again
                    log.exception("SQS event source: reconciling mappings failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), RECHECK_S)
        finally:
            await self.close()

    async def reconcile(self) -> None:
        """Settle transitions, then make the running pollers match the enabled mappings."""
        mappings = await asyncio.to_thread(self.mappings.settle_all)
        enabled = {m.uuid: m for m in mappings if m.state == "Enabled"}
        for mapping_uuid in [u for u in self._pollers if u not in enabled]:
            await self._pollers.pop(mapping_uuid).stop()
        for mapping_uuid, mapping in enabled.items():
            running = self._pollers.get(mapping_uuid)
            if running is None:
                pollers = MappingPollers(mapping, self.sqs, self.invoker, self._function_cap,
                                         self.clock, self._counters, self.sleep)
                self._pollers[mapping_uuid] = pollers
                pollers.start()
            elif running.mapping.revision != mapping.revision:
                running.reconfigure(mapping)

    async def close(self) -> None:
        pollers, self._pollers = list(self._pollers.values()), {}
        for group in pollers:
            await group.stop()

    async def _function_cap(self, mapping: EventSourceMapping) -> int | None:
        """The function's reserved concurrency (None without one); raises
        ResourceNotFoundException once the function or its qualifier is gone."""
        fn = await self._resolve(mapping.function_name, mapping.qualifier)
        if fn.version != "$LATEST":
            fn = await self._resolve(mapping.function_name, None)
        return fn.reserved_concurrency

    async def _resolve(self, name: str, qualifier: str | None) -> FunctionState:
        functions = self.mappings.functions
        fn = functions.resolve_cached(name, qualifier)
        if fn is None:
            fn = await asyncio.to_thread(functions.resolve, name, qualifier)
        return fn

    def last_processing_result(self, mapping_uuid: str) -> str:
        """"OK" or "PROBLEM: Function call failed" after the last batch of the mapping."""
        return self._counters.last_result.get(mapping_uuid, NO_RECORDS)

    def mapping_counts(self) -> dict[str, MappingCounts]:
        """Each mapping's event counts since the node started (copies)."""
        return {u: replace(c) for u, c in list(self._counters.by_mapping.items())}

    def statistics(self) -> SqsSourceStatistics:
        c = self._counters
        return SqsSourceStatistics(
            mappings=len(self._pollers),
            pollers=sum(p.pollers for p in self._pollers.values()),
            received=c.received, filtered=c.filtered, invocations=c.invocations,
            succeeded=c.succeeded, failed=c.failed, throttled=c.throttled, deleted=c.deleted,
        )
