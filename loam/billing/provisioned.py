"""Provisioned concurrency's configured time, metered for the bill.

AWS charges for provisioned concurrency from the moment it is allocated,
whether or not it serves invocations: environments × memory × time. The
``ProvisionedMeter`` (a node task) looks every ``interval`` seconds at what
is provisioned and adds the environments allocated during that interval, at
the version's memory, to the billing usage (``record_provisioned``). It reads
the node's own state only (the configured targets, the provisioner's
allocation, the function cache), so a tick is cheap; a version it cannot
resolve from the cache is resolved from the store in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from loam.billing.usage import UsageRecorder
from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.provisioned import StatusSource
from loam.errors import LoamError

__all__ = ["METER_INTERVAL_S", "ProvisionedMeter", "allocated_from", "version_describer"]

log = logging.getLogger("loam.billing")

METER_INTERVAL_S = 10.0

# (function, version) → environments configured
Targets = Callable[[], dict[tuple[str, str], int]]
# (function, version) → environments allocated (ready) now
Allocated = Callable[[str, str], int]
# (function, version) → (architecture, memory MB), None when it is gone
Describe = Callable[[str, str], Awaitable[tuple[str, int] | None]]


class ProvisionedMeter:
    def __init__(self, usage: UsageRecorder, clock: Clock, targets: Targets,
                 allocated: Allocated, describe: Describe) -> None:
        self.usage = usage
        self.clock = clock
        self.targets = targets
        self.allocated = allocated
        self.describe = describe
        self._last: float | None = None

    async def tick(self) -> None:
        """Bill the time since the previous tick at what is allocated now."""
        now = self.clock.time()
        last, self._last = self._last, now
        if last is None:
            return
        for (function, version), _ in sorted(self.targets().items()):
            environments = self.allocated(function, version)
            if environments <= 0:
                continue
            described = await self.describe(function, version)
            if described is None:
                continue
            architecture, memory = described
            self.usage.record_provisioned(function, architecture, memory, environments,
                                          now - last)

    async def run(self, interval: float = METER_INTERVAL_S) -> None:
        """Meter every ``interval`` seconds until cancelled (a node task)."""
        while True:
            try:
                await self.tick()
            except Exception:  # supervisor loop: this interval goes unbilled; carry on
                log.exception("metering provisioned concurrency failed")
            await asyncio.sleep(interval)


def version_describer(functions: FunctionService) -> Describe:
    """``Describe`` over the function cache, falling back on the store."""

    async def describe(function: str, version: str) -> tuple[str, int] | None:
        fn = functions.resolve_cached(function, version)
        if fn is None:
            try:
                fn = await asyncio.to_thread(functions.resolve, function, version)
            except LoamError:  # deleted since it was provisioned
                return None
        return fn.architectures[0], fn.memory_size

    return describe


def allocated_from(status: StatusSource) -> Allocated:
    """``Allocated`` from the provisioner's status (nothing before its first pass)."""

    def allocated(function: str, version: str) -> int:
        state = status(function, version)
        return 0 if state is None else state.allocated

    return allocated
