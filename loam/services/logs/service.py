"""The CloudWatch-Logs-compatible service: function logs kept in the node's database.

- ``sink`` is the ``LogSink`` the invoke path writes to (a
  ``BufferedLogSink``: it never blocks an invocation for long, see there);
  each execution environment's lines go to its function's log group
  (``/aws/lambda/<name>`` or LoggingConfig's LogGroup) and a stream named as
  AWS names it (``YYYY/MM/DD/[<version>]<32 hex>``); groups and streams are
  created on first write, as Lambda creates them;
- ``operations`` answer the ``logs`` API (JSON 1.1, ``Logs_20140328.*``);
- the service owns ``database`` (a connection of its own to the node's
  store, so log writes never queue behind other services' statements) and
  closes it in ``stop``;
- a maintenance task (owned by ``start`` / ``stop``) deletes events past
  their group's retention and, when the node stores more than
  ``max_stored_bytes`` of events (CloudWatch's measure: UTF-8 bytes + 26 per
  event), the oldest events of any group until it is under the cap again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.logs.operations import LogOperations
from loam.services.logs.store import LogStore
from loam.store.sql import Database
from loam.telemetry.buffered import BatchWriter, BufferedLogSink, LogLine, SinkStatistics

__all__ = ["LogsService", "LogsStatistics"]

log = logging.getLogger("loam.logs")

MAX_STORED_BYTES = 1 << 30
MAINTENANCE_INTERVAL_S = 60.0


@dataclass(frozen=True)
class LogsStatistics:
    sink: SinkStatistics
    events_expired: int
    events_evicted: int


class LogsService:
    service_name = "logs"

    def __init__(self, database: Database, clock: Clock, region: str, account_id: str, *,
                 echo: BatchWriter | None = None, max_stored_bytes: int = MAX_STORED_BYTES,
                 maintenance_interval: float = MAINTENANCE_INTERVAL_S) -> None:
        self.clock = clock
        self.database = database
        self.store = LogStore(database)
        self.max_stored_bytes = max_stored_bytes
        self.maintenance_interval = maintenance_interval
        self.sink = BufferedLogSink(self._write, clock, echo=echo)
        self._operations = LogOperations(self.store, clock, region, account_id).handlers()
        self._task: asyncio.Task[None] | None = None
        self._expired = 0
        self._evicted = 0

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def start(self) -> None:
        await asyncio.to_thread(self.store.create_schema)
        self.sink.start()
        self._task = asyncio.create_task(self._maintain_forever(), name="logs-maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.sink.close)
        self.database.close()

    def _write(self, lines: Sequence[LogLine]) -> None:
        self.store.append(lines, int(self.clock.time() * 1000))

    async def maintain(self) -> None:
        """Apply retention, then the node's cap on stored bytes."""
        now = int(self.clock.time() * 1000)
        self._expired += await asyncio.to_thread(self.store.expire, now)
        self._evicted += await asyncio.to_thread(self.store.evict, self.max_stored_bytes)

    async def _maintain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.maintenance_interval)
            try:
                await self.maintain()
            except Exception:  # supervisor loop: record and keep going
                log.exception("log retention / disk cap maintenance failed")

    def statistics(self) -> LogsStatistics:
        return LogsStatistics(self.sink.statistics(), self._expired, self._evicted)
