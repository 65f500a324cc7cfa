"""ReceiveMessage: claiming messages, long polling, and what each message carries.

A receive claims up to ``MaxNumberOfMessages`` visible messages in one
transaction (``QueueStore.claim``), hiding them for the visibility timeout
and giving each a new receipt handle. A message already received
``maxReceiveCount`` times moves to the dead-letter queue instead of being
delivered again. With ``WaitTimeSeconds`` (or the queue's
``ReceiveMessageWaitTimeSeconds``) above zero and nothing to hand out, the
receive waits: a send on this node wakes it at once, and it looks again every
poll interval on its own, so messages sent through another node, delayed
messages coming due and expired visibility timeouts are found too.

Messages older than the retention period are never delivered; they are
deleted by a sweep that runs at most once a minute per queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from loam.services.sqs.codec import Receipt
from loam.services.sqs.directory import Directory
from loam.services.sqs.errors import invalid_parameter
from loam.services.sqs.md5 import attributes_md5, body_md5
from loam.services.sqs.message_ops import MAX_VISIBILITY, sequence_number
from loam.services.sqs.models import Delivered, Queue
from loam.services.sqs.store import Claim

__all__ = ["Receiver"]

MAX_MESSAGES = 10
MAX_WAIT = 20
SWEEP_INTERVAL = 60.0
SYSTEM_ATTRIBUTES = (
    "SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
    "SequenceNumber", "MessageDeduplicationId", "MessageGroupId", "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)


class Receiver:
    def __init__(self, directory: Directory, poll_interval: float) -> None:
        self.d = directory
        self.poll_interval = poll_interval
        self._swept: dict[str, float] = {}

    async def receive_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        limit = _bounded(params, "MaxNumberOfMessages", 1, MAX_MESSAGES, 1,
                         f"Must be between 1 and {MAX_MESSAGES}, if provided.")
        visibility = _bounded(params, "VisibilityTimeout", 0, MAX_VISIBILITY,
                              queue.integer("VisibilityTimeout"),
                              f"Must be >= 0 and <= {MAX_VISIBILITY}, if provided.")
        wait = _bounded(params, "WaitTimeSeconds", 0, MAX_WAIT,
                        queue.integer("ReceiveMessageWaitTimeSeconds"),
                        f"Must be >= 0 and <= {MAX_WAIT}, if provided.")
        delivered = await self.claim(queue, limit, visibility, wait)
        system = _system_names([*(params.get("AttributeNames") or []),
                                *(params.get("MessageSystemAttributeNames") or [])])
        wanted = list(params.get("MessageAttributeNames") or [])
        messages = [self._shape(queue, m, system, wanted) for m in delivered]
        return {"Messages": messages} if messages else {}

    async def claim(self, queue: Queue, limit: int, visibility: int,
                    wait: float) -> list[Delivered]:
        """Claim messages, waiting up to ``wait`` seconds for the first one."""
        dead_letter = await self._dead_letter_queue(queue)
        deadline = self.d.clock.monotonic() + wait
        while True:
            woken = self.d.wakeups.event(queue.name)
            await self._sweep(queue)
            now = self.d.clock.time()
            delivered, moved = await self.d.call(
                self.d.store.claim, Claim(queue, limit, visibility, now, dead_letter))
            self.d.counters.dead_lettered += moved
            if moved and dead_letter is not None:
                self.d.wakeups.wake(dead_letter.name)
            if delivered:
                self.d.counters.received += len(delivered)
                return delivered
            remaining = deadline - self.d.clock.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), min(self.poll_interval, remaining))

    async def _dead_letter_queue(self, queue: Queue) -> Queue | None:
        redrive = queue.redrive
        if redrive is None:
            return None
        return await self.d.call(self.d.store.queue_by_arn, redrive.dead_letter_arn)

    async def _sweep(self, queue: Queue) -> None:
        now = self.d.clock.monotonic()
        last = self._swept.get(queue.name)
        if last is not None and now - last < SWEEP_INTERVAL:
            return
        self._swept[queue.name] = now
        await self.d.call(self.d.store.expire, queue, self.d.clock.time())

    def _shape(self, queue: Queue, message: Delivered, system: set[str],
               wanted: list[str]) -> dict[str, Any]:
        handle = Receipt(queue.name, message.message_id, message.receipt).handle()
        result: dict[str, Any] = {"MessageId": message.message_id, "ReceiptHandle": handle,
                                  "MD5OfBody": body_md5(message.body), "Body": message.body}
        values = _system_values(queue, message)
        chosen = {name: values[name] for name in SYSTEM_ATTRIBUTES
                  if name in system and name in values}
        if chosen:
            result["Attributes"] = chosen
        selected = select_attributes(message.attributes, wanted)
        if selected:
            result["MessageAttributes"] = selected
            result["MD5OfMessageAttributes"] = attributes_md5(selected)
        return result


def _bounded(params: Mapping[str, Any], name: str, low: int, high: int, default: int,
             reason: str) -> int:
    value = params.get(name)
    if value is None:
        return default
    if not low <= value <= high:
        raise invalid_parameter(name, value, reason)
    return int(value)


def _system_names(names: Iterable[str]) -> set[str]:
    given = set(names)
    return set(SYSTEM_ATTRIBUTES) if "All" in given else given


def _system_values(queue: Queue, message: Delivered) -> dict[str, str]:
    values = {
        "SenderId": message.sender_id,
        "SentTimestamp": str(int(message.sent_at * 1000)),
        "ApproximateReceiveCount": str(message.receive_count),
        "ApproximateFirstReceiveTimestamp": str(int(message.first_receive_at * 1000)),
    }
    if queue.fifo:
        values["SequenceNumber"] = sequence_number(message.sequence)
        if message.dedup_id is not None:
            values["MessageDeduplicationId"] = message.dedup_id
    if message.group_id is not None:
        values["MessageGroupId"] = message.group_id
    trace = message.system_attributes.get("AWSTraceHeader")
    if trace is not None:
        values["AWSTraceHeader"] = str(trace["StringValue"])
    if message.source_arn:
        values["DeadLetterQueueSourceArn"] = message.source_arn
    return values


def select_attributes(attributes: Mapping[str, Mapping[str, Any]],
                      wanted: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The message attributes a receive asked for: ``All``, ``.*``, ``prefix.*`` or names."""
    names = list(wanted)
    if "All" in names or ".*" in names:
        return {k: dict(v) for k, v in attributes.items()}
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))
    exact = {n for n in names if not n.endswith(".*")}
    return {k: dict(v) for k, v in attributes.items()
            if k in exact or (prefixes and k.startswith(prefixes))}
