"""``GET /metrics`` on the main port: the Prometheus exposition of the node.

Unsigned, as scrapers expect; it names functions and versions and counts
their invocations, never a payload or a request id.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol, TypeVar

from loam.http.front import Receive, Scope, Send
from loam.invoke.admission import AdmissionStatistics
from loam.invoke.async_queue import QueueStatistics
from loam.invoke.sqs_source import SqsSourceStatistics
from loam.metrics.node_gauges import node_families
from loam.metrics.prometheus import CONTENT_TYPE, exposition, recorder_families
from loam.metrics.recorder import MetricsRecorder
from loam.sandbox.pool import PoolStatistics
from loam.store import StoreError

__all__ = ["MetricsFront", "MetricsSource"]


log = logging.getLogger("loam.metrics")

T_co = TypeVar("T_co", covariant=True)


class _Statistics(Protocol[T_co]):
    def statistics(self) -> T_co: ...


class _EventStore(Protocol):
    def count_events(self) -> int: ...


class _Queue(_Statistics[QueueStatistics], Protocol):
    @property
    def store(self) -> _EventStore: ...


class MetricsSource(Protocol):
    """What the front reads (the Node has all of it)."""

    @property
    def metrics(self) -> MetricsRecorder: ...
    @property
    def pool(self) -> _Statistics[PoolStatistics]: ...
    @property
    def admission(self) -> _Statistics[AdmissionStatistics]: ...
    @property
    def queue(self) -> _Queue: ...
    @property
    def sqs_source(self) -> _Statistics[SqsSourceStatistics]: ...

PATH = "/metrics"


class MetricsFront:
    def __init__(self, node: MetricsSource) -> None:
        self.node = node

    def wants(self, path: str, host: bytes) -> bool:
        return path == PATH

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        if scope.get("path") != PATH:
            return False
        if scope.get("method") not in ("GET", "HEAD"):
            await _answer(send, 405, b"", "text/plain; charset=utf-8")
            return True
        node = self.node
        depth: int | None
        try:  # the durable queue's depth: one count per scrape, off the event loop
            depth = await asyncio.to_thread(node.queue.store.count_events)
        except StoreError:  # the store is failing: the exposition still answers
            log.exception("reading the async queue's depth failed")
            depth = None
        body = exposition([
            *recorder_families(node.metrics),
            *node_families(node.pool.statistics(), node.admission.statistics(),
                           node.queue.statistics(), node.sqs_source.statistics(), depth),
        ])
        await _answer(send, 200, b"" if scope["method"] == "HEAD" else body, CONTENT_TYPE)
        return True


async def _answer(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
    ]})
    await send({"type": "http.response.body", "body": body})
