"""Where queues are found: names, URLs and ARNs, and the service's shared state.

A queue's URL is ``{base_url}/{account_id}/{name}`` and its ARN
``arn:aws:sqs:{region}:{account_id}:{name}``. An incoming ``QueueUrl`` is
matched on its path only (account and name), so a client that reaches this
node by another host name, or through a proxy, names the same queue.

``Wakeups`` lets a long-polling receive sleep until a send on this node
touches its queue; receivers re-check on their own every poll interval as
well, so messages sent through another node sharing the database are found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from loam.clock import Clock
from loam.services.sqs.errors import QueueDoesNotExist
from loam.services.sqs.models import Queue, name_from_url
from loam.services.sqs.store import QueueStore

__all__ = ["Counters", "Directory", "SqsStatistics", "Wakeups"]

T = TypeVar("T")


@dataclass(frozen=True)
class SqsStatistics:
    queues: int
    messages_sent: int
    messages_received: int
    messages_deleted: int
    messages_dead_lettered: int


@dataclass
class Counters:
    sent: int = 0
    received: int = 0
    deleted: int = 0
    dead_lettered: int = 0


class Wakeups:
    """One event per queue name; a wake sets it and drops it, so later waits start fresh."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def event(self, queue: str) -> asyncio.Event:
        """The event the next send to ``queue`` sets; take it before looking for messages."""
        event = self._events.get(queue)
        if event is None:
            event = self._events[queue] = asyncio.Event()
        return event

    def wake(self, queue: str) -> None:
        event = self._events.pop(queue, None)
        if event is not None:
            event.set()


class Directory:
    """The state every SQS handler shares: store, clock, names, counters, wake-ups."""

    def __init__(self, store: QueueStore, clock: Clock, region: str, account_id: str,
                 base_url: str) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.base_url = base_url.rstrip("/")
        self.counters = Counters()
        self.wakeups = Wakeups()

    def url(self, name: str) -> str:
        return f"{self.base_url}/{self.account_id}/{name}"

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account_id}:{name}"

    def name_of_arn(self, arn: str) -> str | None:
        prefix = f"arn:aws:sqs:{self.region}:{self.account_id}:"
        return arn[len(prefix):] if arn.startswith(prefix) else None

    async def call(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking store call off the event loop."""
        return await asyncio.to_thread(fn, *args)

    async def queue(self, url: str) -> Queue:
        """The queue a ``QueueUrl`` names, or ``QueueDoesNotExist``."""
        name = name_from_url(url, self.account_id)
        queue = await self.call(self.store.queue, name) if name else None
        if queue is None:
            raise QueueDoesNotExist()
        return queue
