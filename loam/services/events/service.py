"""The EventBridge-compatible service: buses, rules, targets, schedules, PutEvents.

Components (each its own module):

- ``store.py``: the ``events_*`` tables on the node's database (SQLite or
  PostgreSQL); ``buses.py``, ``rules.py``, ``targets.py``, ``ingest.py``: the
  operations boto3's ``events`` client calls (JSON 1.1, ``AWSEvents.*``);
- ``outbox.py``: every delivery is first a row in ``events_outbox``, written
  in the transaction that accepts the event or fires the schedule; a
  dispatcher task hands rows to the node's ``deliver`` (a Lambda function
  gets a durable ``Event`` invocation, a queue a message) and deletes them
  once delivered: at least once, retried with backoff;
- ``scheduler.py``: a task that fires enabled schedule rules in UTC from the
  injected clock; a rule's fired-until horizon is durable, so a restart
  neither repeats nor loses a run; runs missed while the node was down fire
  if they are at most ``catchup_s`` (default 900 s) old, older ones are
  skipped.

Trust: invocations from the bus do not check the target function's resource
policy (``AddPermission`` statements for ``events.amazonaws.com``); any rule
may invoke any function on the node until the permissions work lands. A
rule's ``RoleArn`` is stored and reported, never assumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.events.buses import BusOperations
from loam.services.events.ingest import EventIngest
from loam.services.events.models import Arns, EventsStatistics
from loam.services.events.outbox import Deliver, Outbox
from loam.services.events.rules import RuleOperations
from loam.services.events.scheduler import DEFAULT_CATCHUP_S, ScheduleRunner
from loam.services.events.store import EventsStore
from loam.services.events.targets import TargetOperations
from loam.store.sql import Database

__all__ = ["Deliver", "EventsService"]

log = logging.getLogger("loam.events")

SCHEDULER_MAX_SLEEP_S = 60.0


class EventsService:
    service_name = "events"

    def __init__(self, database: Database, clock: Clock, region: str, account_id: str,
                 deliver: Deliver, *, catchup_seconds: float = DEFAULT_CATCHUP_S) -> None:
        self.database = database
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.deliver = deliver
        self.arns = Arns(region, account_id)
        self.store = EventsStore(database)
        self.outbox = Outbox(database, clock, self._deliver)
        self.scheduler = ScheduleRunner(self.store, self.arns, catchup_s=catchup_seconds)
        self._schedule_changed = asyncio.Event()
        self.ingest = EventIngest(self.store, self.arns, clock, self.outbox.notify)
        self._operations: dict[str, Handler] = {
            **BusOperations(self.store, self.arns, clock).handlers(),
            **RuleOperations(self.store, self.arns, clock, self._schedule_changed.set).handlers(),
            **TargetOperations(self.store, self.arns, clock).handlers(),
            **self.ingest.handlers(),
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._ready = False

    async def _deliver(self, arn: str, payload: bytes, target: Mapping[str, object],
                       delivery_id: str) -> None:
        # Late-bound so the node (or a test) may replace ``self.deliver``.
        await self.deliver(arn, payload, target, delivery_id)

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def prepare(self) -> None:
        """Create the tables and the default bus (idempotent); ``start`` calls it."""
        if not self._ready:
            await asyncio.to_thread(self.store.create_schema, self.clock.time())
            if self.database.dialect == "sqlite":
                await asyncio.to_thread(self.outbox.release_leases)
            self._ready = True

    async def start(self) -> None:
        await self.prepare()
        self._tasks = [
            asyncio.create_task(self._schedule_forever(), name="events-scheduler"),
            asyncio.create_task(self.outbox.run(), name="events-outbox"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def fire_due(self, now: float | None = None) -> int:
        """Fire every schedule run due at ``now`` (the clock's time by default) into
        the outbox; how many deliveries were enqueued."""
        enqueued = await asyncio.to_thread(
            self.scheduler.fire_due, self.clock.time() if now is None else now)
        if enqueued:
            self.outbox.notify()
        return enqueued

    async def dispatch_due(self) -> int:
        """Attempt every outbox delivery that is due; how many were attempted."""
        return await self.outbox.dispatch_due()

    async def _schedule_forever(self) -> None:
        while True:
            self._schedule_changed.clear()
            wait = SCHEDULER_MAX_SLEEP_S
            try:
                await self.fire_due()
                due = await asyncio.to_thread(self.scheduler.next_fire)
                if due is not None:
                    wait = min(wait, max(0.05, due - self.clock.time()))
            except Exception:  # supervisor loop: record and keep scheduling
                log.exception("event scheduler failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._schedule_changed.wait(), wait)

    def statistics(self) -> EventsStatistics:
        return EventsStatistics(
            rules=self.store.count_rules(),
            events_put=self.ingest.events_put,
            events_matched=self.ingest.events_matched,
            scheduled_fires=self.scheduler.fired,
            deliveries=self.outbox.delivered,
            delivery_failures=self.outbox.failures,
            deliveries_dropped=self.outbox.dropped,
            outbox_pending=self.outbox.pending(),
        )
