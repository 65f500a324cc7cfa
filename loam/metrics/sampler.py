"""The node task that samples what the invoke path does not report.

Every ``interval`` seconds (and, for the counters, before a CloudWatch read,
so what has happened is what is read): each SQS event source mapping's event
counts since the last sample (AWS's PolledEventCount, FilteredOutEventCount,
InvokedEventCount, FailedInvokeEventCount, DroppedEventCount, dimension
EventSourceMappingUUID), and every queue's backlog — AWS/SQS's
ApproximateNumberOfMessagesVisible and ApproximateAgeOfOldestMessage
(seconds), dimension QueueName: the event sources' lag. The backlog is one
scan of the messages table per interval, off the invoke path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from loam.clock import Clock
from loam.metrics.sampled import SQS_NAMESPACE, SampledMetrics

__all__ = ["SAMPLE_INTERVAL_S", "NodeSampler"]

log = logging.getLogger("loam.metrics")

SAMPLE_INTERVAL_S = 10.0


class EventCounts(Protocol):
    polled: int
    filtered: int
    invoked: int
    failed: int
    dropped: int


# mapping UUID → its counts since the node started
MappingCounts = Callable[[], Mapping[str, EventCounts]]
# queue name → (visible messages, when its oldest message was sent)
QueueLag = Callable[[], Awaitable[dict[str, tuple[int, float | None]]]]

_FIELDS = (("PolledEventCount", "polled"), ("FilteredOutEventCount", "filtered"),
           ("InvokedEventCount", "invoked"), ("FailedInvokeEventCount", "failed"),
           ("DroppedEventCount", "dropped"))


class NodeSampler:
    def __init__(self, sampled: SampledMetrics, clock: Clock, mapping_counts: MappingCounts,
                 queue_lag: QueueLag) -> None:
        self.sampled = sampled
        self.clock = clock
        self.mapping_counts = mapping_counts
        self.queue_lag = queue_lag
        self._seen: dict[str, dict[str, int]] = {}

    def sample_counts(self) -> None:
        """Each mapping's events since the previous sample."""
        for uuid, counts in self.mapping_counts().items():
            seen = self._seen.setdefault(uuid, {})
            dims = (("EventSourceMappingUUID", uuid),)
            for metric, field in _FIELDS:
                value = int(getattr(counts, field))
                self.sampled.count("AWS/Lambda", metric, dims, value - seen.get(field, 0))
                seen[field] = value

    async def sample_queues(self) -> None:
        now = self.clock.time()
        for name, (visible, oldest) in sorted((await self.queue_lag()).items()):
            dims = (("QueueName", name),)
            self.sampled.gauge(SQS_NAMESPACE, "ApproximateNumberOfMessagesVisible", dims,
                               float(visible))
            age = 0.0 if oldest is None else max(0.0, now - oldest)
            self.sampled.gauge(SQS_NAMESPACE, "ApproximateAgeOfOldestMessage", dims,
                               float(int(age)))

    async def tick(self) -> None:
        self.sample_counts()
        await self.sample_queues()

    async def run(self, interval: float = SAMPLE_INTERVAL_S) -> None:
        """Sample every ``interval`` seconds until cancelled (a node task)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except Exception:  # supervisor loop: this sample is lost; the next one comes
                log.exception("sampling node metrics failed")
