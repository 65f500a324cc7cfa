"""The durable async queue behind ``InvocationType=Event``.

Invariants:
- ``submit`` returns only once the event is committed to the store: every
  submission waiting at that moment goes in one transaction (group commit),
  so a 202 is never given for an event a crash could lose;
- the worker leases due events and deletes one only after it was processed
  or given up on: a crash repeats an event, never loses one (at-least-once,
  the same request id on every attempt, as AWS);
- retries as AWS: a function error is retried after ~1 min, then ~2 min, up
  to ``MaximumRetryAttempts``; throttles and system errors back off (1 s,
  doubling, at most 5 min) until the event is ``MaximumEventAgeInSeconds``
  old; all times come from the injected clock.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Generic, TypeVar

from loam.clock import Clock
from loam.invoke.lineage import incoming_trace
from loam.store import AsyncEventRecord, Store

__all__ = ["AsyncQueue", "Attempt", "Outcome", "QueueStatistics", "RetrySettings",
           "invocation_record"]

log = logging.getLogger("loam.invoke")

FUNCTION_ERROR_DELAYS_S = (60.0, 120.0)
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
IDLE_POLL_S = 1.0
# While the event loop is saturated (a callback waits longer than this to run), the
# worker keeps at most BUSY_CONCURRENCY events in flight: accepting requests comes
# before running queued events, which catch up when the loop has room.
BUSY_LAG_S = 0.002
BUSY_CONCURRENCY = 1


async def _loop_lag() -> float:
    """How long a callback scheduled now waits to run: the event loop's backlog."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    ran: asyncio.Future[None] = loop.create_future()
    loop.call_soon(ran.set_result, None)
    await ran
    return loop.time() - start


class Outcome(Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function-error"
    THROTTLED = "throttled"
    SYSTEM_ERROR = "system-error"
    GONE = "gone"  # the function (or its qualifier) no longer exists
    RECURSION_STOPPED = "recursion-stopped"  # a recursive loop; not run


@dataclass(frozen=True)
class RetrySettings:
    """A function's event-invoke configuration, as far as the queue needs it."""

    max_retries: int = 2
    max_age_s: float = 21_600.0
    on_success: str | None = None  # destination ARNs
    on_failure: str | None = None
    dead_letter: str | None = None  # the function's DeadLetterConfig target


@dataclass(frozen=True)
class Attempt:
    """What one attempt gave: its outcome and, when the function ran, its answer."""

    outcome: Outcome
    payload: bytes = b""
    executed_version: str | None = None
    function_error: str | None = None


# A destination's delivery: (ARN, AWS's invocation record) → done.
Deliver = Callable[[str, dict[str, Any]], Awaitable[None]]
# A discarded event to a dead-letter queue: (ARN, the event, message attributes) → done.
DeadLetter = Callable[[str, bytes, dict[str, dict[str, str]]], Awaitable[None]]


@dataclass(frozen=True)
class QueueStatistics:
    accepted: int
    processed: int
    retried: int
    dropped: int
    in_flight: int


T = TypeVar("T")


class GroupCommit(Generic[T]):
    """Writes items in batches: everything submitted while a write runs goes into the
    next one (one transaction each). ``submit`` returns once its item is written."""

    def __init__(self, write: Callable[[list[T]], None], name: str) -> None:
        self._write = write
        self._name = name
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flushing: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), name=self._name)
        await done

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await asyncio.to_thread(self._write, [item for item, _ in batch])
                except Exception as exc:  # every waiter hears it; nothing was written
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._flushing = None

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing


Runner = Callable[[AsyncEventRecord], Awaitable[Attempt]]
SettingsSource = Callable[[AsyncEventRecord], RetrySettings]


class AsyncQueue:
    def __init__(self, store: Store, clock: Clock, run: Runner,
                 settings: SettingsSource = lambda record: RetrySettings(),
                 concurrency: int = 16, lease_s: float = 960.0,
                 deliver: Deliver | None = None,
                 dead_letter: DeadLetter | None = None,
                 on_dropped: Callable[[AsyncEventRecord], None] | None = None) -> None:
        self.store = store
        self._on_dropped = on_dropped  # AsyncEventsDropped (metrics)
        self.clock = clock
        self._run = run
        self._settings = settings
        self._deliver = deliver
        self._dead_letter = dead_letter
        self.concurrency = concurrency
        self.lease_s = lease_s
        self._enqueue = GroupCommit(store.enqueue_events, "async-queue-commit")
        self._finish = GroupCommit(store.finish_events, "async-queue-finish")
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepted = self._processed = self._retried = self._dropped = 0
        self._busy = False
        self._leased: collections.deque[AsyncEventRecord] = collections.deque()

    # -- accepting ------------------------------------------------------------

    async def submit(self, event_id: str, function: str, payload: bytes,
                     document: dict[str, object]) -> None:
        """Commit one event to the store (with whatever else is waiting)."""
        now = self.clock.time()
        record = AsyncEventRecord(event_id, function, payload, now, 0, now,
                                  json.dumps(document))
        await self._enqueue.submit(record)
        self._accepted += 1
        self._wake.set()

    # -- processing -----------------------------------------------------------

    async def run(self) -> None:
        """The worker: a task owned by the node until it is cancelled."""
        released = await asyncio.to_thread(self.store.release_event_leases)
        if released:
            log.info("async queue: %d events left in flight by an earlier run", released)
        try:
            while True:
                try:
                    self._busy = await _loop_lag() > BUSY_LAG_S
                    started = await self.start_due()
                except Exception:  # supervisor loop: record and try again
                    log.exception("async queue: claiming events failed")
                    started = 0
                if not started:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
                    self._wake.clear()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def start_due(self) -> int:
        """Start processing due events, as many as there is room for; leases are taken
        ``concurrency`` at a time (one store round trip), the rest kept for later."""
        limit = min(self.concurrency, BUSY_CONCURRENCY) if self._busy else self.concurrency
        room = limit - len(self._tasks)
        if room <= 0:
            return 0
        if not self._leased:
            now = self.clock.time()
            self._leased.extend(await asyncio.to_thread(
                self.store.claim_events, now, now + self.lease_s, self.concurrency))
        started = 0
        while self._leased and started < room:
            record = self._leased.popleft()
            task = asyncio.create_task(self._process(record), name=f"async-{record.id}")
            self._tasks.add(task)
            task.add_done_callback(self._finished)
            started += 1
        return started

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    async def drain(self) -> None:
        """Wait for every event being processed now (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _process(self, record: AsyncEventRecord) -> None:
        # What this event sends on (destinations, dead letters) continues its chain.
        incoming_trace.set(json.loads(record.document).get("trace"))
        settings = self._settings(record)
        if self.clock.time() - record.enqueued_at > settings.max_age_s:
            await self._give_up(record, "EventAgeExceeded")
            return
        attempt = replace(record, attempts=record.attempts + 1)
        try:
            result = await self._run(attempt)
        except Exception:  # the runner's own failure: a system error, retried
            log.exception("async invocation %s of %s failed", record.id, record.function)
            result = Attempt(Outcome.SYSTEM_ERROR)
        outcome = result.outcome
        if outcome is Outcome.SUCCESS:
            self._processed += 1
            # Written (line-buffered) before the event is deleted: a crash after this
            # line repeats nothing, a crash before it repeats the event.
            log.debug("async event %s of %s: processed (attempt %d)", record.id,
                      record.function, attempt.attempts)
            # The destination before the delete: a crash between repeats the record
            # (at-least-once, as AWS's destinations are), never loses it.
            await self._destine(settings.on_success, attempt, "Success", result)
            await self._finish.submit(record.id)
        elif outcome is Outcome.GONE:
            await self._give_up(record, "ResourceNotFound")
        elif outcome is Outcome.RECURSION_STOPPED:
            # AWS's record conditions are Success, RetriesExhausted and EventAgeExceeded;
            # a stopped loop is not retried, so it is the second.
            await self._give_up(record, "RetriesExhausted")
        elif outcome is Outcome.FUNCTION_ERROR:
            errors = _function_errors(attempt) + 1
            if errors > settings.max_retries:
                await self._give_up(attempt, "RetriesExhausted", result)
            else:
                delay = FUNCTION_ERROR_DELAYS_S[min(errors, len(FUNCTION_ERROR_DELAYS_S)) - 1]
                await self._retry(attempt, delay, {"function_errors": errors})
        else:
            backoffs = _backoffs(attempt) + 1
            delay = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (backoffs - 1))
            if self.clock.time() + delay - record.enqueued_at > settings.max_age_s:
                await self._give_up(attempt, "EventAgeExceeded", result)
            else:
                await self._retry(attempt, delay, {"backoffs": backoffs})

    async def _retry(self, record: AsyncEventRecord, delay: float,
                     counters: dict[str, int]) -> None:
        self._retried += 1
        document = {**json.loads(record.document), **counters}
        retry = replace(record, not_before=self.clock.time() + delay,
                        document=json.dumps(document))
        await asyncio.to_thread(self.store.retry_event, retry)

    async def _give_up(self, record: AsyncEventRecord, condition: str,
                       result: Attempt | None = None) -> None:
        self._dropped += 1
        if self._on_dropped is not None:
            self._on_dropped(record)
        log.warning("async invocation %s of %s dropped: %s after %d attempts",
                    record.id, record.function, condition, record.attempts)
        if condition != "ResourceNotFound":
            settings = self._settings(record)
            await self._destine(settings.on_failure, record, condition, result)
            await self._send_dead_letter(settings.dead_letter, record, condition, result)
        await self._finish.submit(record.id)

    async def _destine(self, arn: str | None, record: AsyncEventRecord, condition: str,
                       result: Attempt | None) -> None:
        """Send AWS's invocation record to the configured destination, if any."""
        if arn is None or self._deliver is None:
            return
        try:
            await self._deliver(arn, invocation_record(record, condition, result,
                                                      self.clock.time()))
        except Exception:  # the event itself was handled; losing its record is logged
            log.exception("async invocation %s: delivery to %s failed", record.id, arn)

    async def _send_dead_letter(self, arn: str | None, record: AsyncEventRecord,
                                condition: str, result: Attempt | None) -> None:
        """The discarded event itself to the function's dead-letter queue, with AWS's
        ``RequestID`` / ``ErrorCode`` / ``ErrorMessage`` message attributes."""
        if arn is None or self._dead_letter is None:
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": record.id},
            "ErrorCode": {"DataType": "Number", "StringValue": _error_code(result)},
            "ErrorMessage": {"DataType": "String",
                             "StringValue": _error_message(result, condition)},
        }
        try:
            await self._dead_letter(arn, record.payload, attributes)
        except Exception:  # the event was handled; losing its copy is logged
            log.exception("async invocation %s: dead-letter delivery to %s failed",
                          record.id, arn)

    async def close(self) -> None:
        await self._enqueue.close()
        await self.drain()
        await self._finish.close()

    def statistics(self) -> QueueStatistics:
        return QueueStatistics(self._accepted, self._processed, self._retried, self._dropped,
                               len(self._tasks))


def invocation_record(record: AsyncEventRecord, condition: str, result: Attempt | None,
                      now: float) -> dict[str, Any]:
    """The document AWS sends to an async invocation's destination."""
    doc = json.loads(record.document)
    seconds, ms = divmod(round(now * 1000), 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
    out: dict[str, Any] = {
        "version": "1.0",
        "timestamp": stamp,
        "requestContext": {
            "requestId": record.id,
            "functionArn": doc.get("invoked_arn", ""),
            "condition": condition,
            "approximateInvokeCount": record.attempts,
        },
        "requestPayload": _json_or_text(record.payload),
    }
    if result is not None and result.executed_version is not None:
        context: dict[str, Any] = {"statusCode": 200,
                                   "executedVersion": result.executed_version}
        if result.function_error:
            context["functionError"] = result.function_error
        out["responseContext"] = context
        out["responsePayload"] = _json_or_text(result.payload)
    return out


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except (ValueError, UnicodeDecodeError):
        return data.decode("utf-8", "replace")


def _error_code(result: Attempt | None) -> str:
    """The status of the last attempt, as AWS reports it to a dead-letter queue."""
    if result is None or result.outcome in (Outcome.SUCCESS, Outcome.FUNCTION_ERROR):
        return "200"
    return "429" if result.outcome is Outcome.THROTTLED else "500"


def _error_message(result: Attempt | None, condition: str) -> str:
    if result is not None and result.function_error:
        answer = _json_or_text(result.payload)
        message = answer.get("errorMessage") if isinstance(answer, dict) else None
        if isinstance(message, str):
            return message[:1024]
    return condition


def _function_errors(record: AsyncEventRecord) -> int:
    return int(json.loads(record.document).get("function_errors", 0))


def _backoffs(record: AsyncEventRecord) -> int:
    return int(json.loads(record.document).get("backoffs", 0))
