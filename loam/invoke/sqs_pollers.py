"""The pollers of one SQS event source mapping.

Each poller loops: long-poll ReceiveMessage, gather up to BatchSize records
within MaximumBatchingWindowInSeconds, drop (delete) the records that match
no filter, invoke the function synchronously with ``{"Records": [...]}``,
then delete what the result lets go of. Failed records stay in the queue and
come back after its visibility timeout; the queue's redrive policy moves
them to a dead-letter queue (SQS's job).

Scaling, as AWS does it in spirit: a mapping starts with ``INITIAL_POLLERS``
(5) pollers; a receive that comes back full adds one (at most
``SCALE_UP_PER_S`` a second) up to the cap, min(ScalingConfig
MaximumConcurrency or 1,000, the function's reserved concurrency); a poller
whose receive comes back empty retires while more than the initial number
run. Each poller invokes one batch at a time, so the number of pollers is
the mapping's concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loam.clock import Clock
from loam.control.event_source_models import EventSourceMapping
from loam.errors import (
    LoamError,
    RecursiveInvocationException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from loam.invoke.service import SYNC_PAYLOAD_LIMIT, InvokeResult
from loam.invoke.sqs_records import Record, RecordFilter, deletable, failed_items, lambda_record
from loam.services.base import Handler

__all__ = ["FunctionCap", "Invoker", "MappingPollers", "QueueService", "Sleep",
           "SourceCounters"]

log = logging.getLogger("loam.invoke")

INITIAL_POLLERS = 5
DEFAULT_MAX_CONCURRENCY = 1000
SCALE_UP_PER_S = 5
LONG_POLL_S = 20
RECEIVE_LIMIT = 10  # ReceiveMessage's MaxNumberOfMessages
DELETE_LIMIT = 10  # DeleteMessageBatch's entries
THROTTLE_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0)
ERROR_BACKOFF_S = 1.0
MISSING_RETRY_S = 5.0
OK = "OK"
PROBLEM = "PROBLEM: Function call failed"


class QueueService(Protocol):
    """SQS as the pollers use it: queue URLs and operation handlers called directly."""

    def queue_url_of(self, arn: str) -> str | None: ...

    @property
    def operations(self) -> Mapping[str, Handler]: ...


class Invoker(Protocol):
    async def invoke(self, function_name: str, qualifier: str | None, invocation_type: str,
                     log_type: str, payload: bytes,
                     client_context: str | None = None,
                     trace: str | None = None) -> InvokeResult: ...


Sleep = Callable[[float], Awaitable[None]]
# The function's own concurrency cap (its reservation), None when it has none,
# or raises ResourceNotFoundException when the function (qualifier) is gone.
FunctionCap = Callable[[EventSourceMapping], Awaitable[int | None]]


@dataclass
class MappingCounts:
    """One mapping's events, as AWS's event source mapping metrics count them."""

    polled: int = 0
    filtered: int = 0
    invoked: int = 0
    failed: int = 0
    dropped: int = 0


@dataclass
class SourceCounters:
    """Counts kept by every poller of the event source (snapshots: ``statistics()``)."""

    received: int = 0
    filtered: int = 0
    invocations: int = 0
    succeeded: int = 0
    failed: int = 0
    throttled: int = 0
    deleted: int = 0
    last_result: dict[str, str] = field(default_factory=dict)
    by_mapping: dict[str, MappingCounts] = field(default_factory=dict)

    def of(self, mapping_uuid: str) -> MappingCounts:
        counts = self.by_mapping.get(mapping_uuid)
        if counts is None:
            counts = self.by_mapping[mapping_uuid] = MappingCounts()
        return counts


class MappingPollers:
    def __init__(self, mapping: EventSourceMapping, sqs: QueueService, invoker: Invoker,
                 function_cap: FunctionCap, clock: Clock, counters: SourceCounters,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.mapping = mapping
        self.sqs = sqs
        self.invoker = invoker
        self.function_cap = function_cap
        self.clock = clock
        self.counters = counters
        self.sleep = sleep
        self._filter = RecordFilter(mapping.filters)
        self._tasks: set[asyncio.Task[None]] = set()
        self._cap = self._mapping_cap()
        self._scaled_at = -math.inf
        self._scaled_in_window = 0
        self._throttles = 0
        self._url: str | None = None  # the queue's, once looked up

    @property
    def pollers(self) -> int:
        return len(self._tasks)

    def start(self) -> None:
        for _ in range(min(INITIAL_POLLERS, self._cap)):
            self._spawn()

    def reconfigure(self, mapping: EventSourceMapping) -> None:
        """A new configuration of the same mapping: pollers use it from their next batch."""
        self.mapping = mapping
        self._filter = RecordFilter(mapping.filters)
        self._cap = self._mapping_cap()
        if not self._tasks:
            self.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    # -- scaling ---------------------------------------------------------------

    def _mapping_cap(self) -> int:
        return self.mapping.max_concurrency or DEFAULT_MAX_CONCURRENCY

    def _spawn(self) -> None:
        task = asyncio.create_task(self._poll_forever(), name=f"sqs-poller-{self.mapping.uuid}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _scale_up(self) -> None:
        now = self.clock.monotonic()
        if now - self._scaled_at >= 1.0:
            self._scaled_at, self._scaled_in_window = now, 0
        if len(self._tasks) < self._cap and self._scaled_in_window < SCALE_UP_PER_S:
            self._scaled_in_window += 1
            self._spawn()

    def _should_retire(self, idle: bool) -> bool:
        """One poller always stays (it waits while the cap is 0: a reservation of 0)."""
        cap = max(self._cap, 1)
        floor = min(INITIAL_POLLERS, cap)
        return len(self._tasks) > cap or (idle and len(self._tasks) > floor)

    # -- one poller --------------------------------------------------------------

    async def _poll_forever(self) -> None:
        while True:
            try:
                outcome = await self._poll_once()
            except Exception:  # supervisor loop: record, back off, keep polling
                log.exception("event source mapping %s: polling failed", self.mapping.uuid)
                await self.sleep(ERROR_BACKOFF_S)
                continue
            if self._should_retire(idle=outcome == "idle"):
                # Leave the count now, not when the task is done: the others decide on it.
                current = asyncio.current_task()
                if current is not None:
                    self._tasks.discard(current)
                return
            if outcome == "backlog":
                self._scale_up()

    async def _poll_once(self) -> str:
        """One batch: "idle" (nothing came), "batch" or "backlog" (a receive came back full)."""
        mapping = self.mapping
        try:
            reserved = await self.function_cap(mapping)
        except ResourceNotFoundException:
            await self.sleep(MISSING_RETRY_S)  # the function is gone: leave the queue alone
            return "missing"
        self._cap = min(self._mapping_cap(), self._mapping_cap() if reserved is None else reserved)
        if self._cap <= 0 or len(self._tasks) > self._cap:
            await self.sleep(MISSING_RETRY_S if self._cap <= 0 else 0)
            return "throttled"
        url = self._url
        if url is None:
            url = await asyncio.to_thread(self.sqs.queue_url_of, mapping.source_arn)
            if url is None:
                await self.sleep(MISSING_RETRY_S)
                return "missing"
            self._url = url
        try:
            records, full = await self._gather(mapping, url)
        except LoamError as exc:  # the queue went away under us, or SQS refused
            self._url = None
            log.warning("event source mapping %s: receiving from %s failed: %s", mapping.uuid,
                        mapping.source_arn, exc.message)
            await self.sleep(ERROR_BACKOFF_S)
            return "missing"
        if not records:
            return "idle"
        for chunk in _by_payload_size(records):
            await self._deliver(mapping, url, chunk)
        return "backlog" if full else "batch"

    async def _gather(self, mapping: EventSourceMapping, url: str) -> tuple[list[Record], bool]:
        """Up to BatchSize matching records; whether some receive came back full."""
        records: list[Record] = []
        full = False
        deadline: float | None = None
        while len(records) < mapping.batch_size:
            wait = LONG_POLL_S
            if deadline is not None:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    break
                wait = min(LONG_POLL_S, math.ceil(remaining))
            want = min(RECEIVE_LIMIT, mapping.batch_size - len(records))
            messages = await self._receive(url, want, wait)
            full = full or len(messages) == want
            matched = await self._filtered(mapping, url, messages)
            records.extend(matched)
            if messages and deadline is None:
                if mapping.window_s == 0:
                    break  # no window: deliver what one receive gave
                deadline = self.clock.monotonic() + mapping.window_s
            if not messages and deadline is None:
                break  # a long poll came back empty: the queue is idle
        return records, full

    async def _receive(self, url: str, want: int, wait: int) -> list[dict[str, Any]]:
        out = await self.sqs.operations["ReceiveMessage"]({
            "QueueUrl": url, "MaxNumberOfMessages": want, "WaitTimeSeconds": wait,
            "MessageSystemAttributeNames": ["All"], "MessageAttributeNames": ["All"],
        })
        messages: list[dict[str, Any]] = out.get("Messages") or []
        self.counters.received += len(messages)
        self.counters.of(self.mapping.uuid).polled += len(messages)
        return messages

    async def _filtered(self, mapping: EventSourceMapping, url: str,
                        messages: Sequence[dict[str, Any]]) -> list[Record]:
        """The records that pass the mapping's filters; the rest are deleted, unprocessed."""
        region = mapping.region
        records = [lambda_record(m, mapping.source_arn, region) for m in messages]
        if not self._filter:
            return records
        keep: list[Record] = []
        dropped: list[Record] = []
        for record in records:
            (keep if self._filter.matches(record) else dropped).append(record)
        if dropped:
            self.counters.filtered += len(dropped)
            self.counters.of(mapping.uuid).filtered += len(dropped)
            await self._delete(url, dropped)
        return keep

    async def _deliver(self, mapping: EventSourceMapping, url: str,
                       records: list[Record]) -> None:
        payload = json.dumps({"Records": records}).encode()
        self.counters.invocations += 1
        try:
            result = await self.invoker.invoke(mapping.function_arn, None, "RequestResponse",
                                               "None", payload, trace=_chain(records))
        except RecursiveInvocationException:
            # A recursive loop was stopped: the batch is not run, and is taken off the
            # queue (to its dead-letter queue when it has one), as AWS does.
            self.counters.of(mapping.uuid).dropped += len(records)
            await self._dead_letter(url, records)
            await self._delete(url, records)
            self._finish(mapping, ok=False)
            return
        except TooManyRequestsException:
            self.counters.throttled += 1
            backoff = THROTTLE_BACKOFF_S[min(self._throttles, len(THROTTLE_BACKOFF_S) - 1)]
            self._throttles += 1
            await self.sleep(backoff)  # the records come back after the visibility timeout
            return
        except LoamError as exc:
            log.warning("event source mapping %s: invoking %s failed: %s", mapping.uuid,
                        mapping.function_arn, exc.message)
            counts = self.counters.of(mapping.uuid)
            counts.invoked += len(records)
            counts.failed += len(records)
            self._finish(mapping, ok=False)
            return
        self._throttles = 0
        if result.function_error:
            failed: set[str] | None = None
        elif mapping.reports_item_failures:
            failed = failed_items(result.payload, {r["messageId"] for r in records})
        else:
            failed = set()
        counts = self.counters.of(mapping.uuid)
        counts.invoked += len(records)
        counts.failed += len(records) if failed is None else len(failed)
        done = deletable(records, failed, mapping.fifo)
        if done:
            await self._delete(url, done)
        self._finish(mapping, ok=failed is not None)

    async def _dead_letter(self, url: str, records: Sequence[Record]) -> None:
        """Copies of ``records`` to the source queue's dead-letter queue, if it has one."""
        try:
            attributes = await self.sqs.operations["GetQueueAttributes"](
                {"QueueUrl": url, "AttributeNames": ["RedrivePolicy"]})
            policy = json.loads(attributes.get("Attributes", {}).get("RedrivePolicy") or "{}")
            target = self.sqs.queue_url_of(policy.get("deadLetterTargetArn") or "")
            if target:
                for record in records:
                    entry = {"QueueUrl": target, "MessageBody": record["body"]}
                    group = record.get("attributes", {}).get("MessageGroupId")
                    if group:  # a FIFO queue's dead-letter queue is FIFO too
                        entry |= {"MessageGroupId": group,
                                  "MessageDeduplicationId": record["messageId"]}
                    await self.sqs.operations["SendMessage"](entry)
        except LoamError as exc:
            log.warning("recursive loop: copying %d records to the dead-letter queue of %s "
                        "failed: %s", len(records), url, exc.message)

    def _finish(self, mapping: EventSourceMapping, ok: bool) -> None:
        if ok:
            self.counters.succeeded += 1
        else:
            self.counters.failed += 1
        self.counters.last_result[mapping.uuid] = OK if ok else PROBLEM

    async def _delete(self, url: str, records: Sequence[Record]) -> None:
        for start in range(0, len(records), DELETE_LIMIT):
            chunk = records[start:start + DELETE_LIMIT]
            entries = [{"Id": str(i), "ReceiptHandle": r["receiptHandle"]}
                       for i, r in enumerate(chunk)]
            with contextlib.suppress(LoamError):  # a lost delete means a redelivery, no loss
                out = await self.sqs.operations["DeleteMessageBatch"](
                    {"QueueUrl": url, "Entries": entries}
                )
                self.counters.deleted += len(out.get("Successful") or ())


def _by_payload_size(records: list[Record]) -> list[list[Record]]:
    """The records in order, split so that each invocation's event fits 6 MB."""
    chunks: list[list[Record]] = [[]]
    size = len('{"Records": []}')
    for record in records:
        length = len(json.dumps(record).encode()) + 2
        if chunks[-1] and size + length > SYNC_PAYLOAD_LIMIT:
            chunks.append([])
            size = len('{"Records": []}')
        chunks[-1].append(record)
        size += length
    return chunks


def _chain(records: Sequence[Record]) -> str | None:
    """The trace header a batch's invocation continues: its first record's, if any."""
    for record in records:
        header = record.get("attributes", {}).get("AWSTraceHeader")
        if header:
            return str(header)
    return None
