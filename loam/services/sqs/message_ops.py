"""Sending, deleting and hiding messages (ReceiveMessage is in ``receiving.py``).

A batch is one transaction: the entries AWS would accept are stored (or
deleted, or hidden) together; the others are reported in ``Failed`` with
their own code, and the request as a whole still succeeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from loam.services.base import Handler, ServiceError
from loam.services.sqs.batch import check_entries, failure
from loam.services.sqs.codec import Receipt
from loam.services.sqs.directory import Directory
from loam.services.sqs.errors import (
    BatchRequestTooLong,
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    ReceiptHandleIsInvalid,
    invalid_parameter,
)
from loam.services.sqs.md5 import attributes_md5, body_md5
from loam.services.sqs.models import NewMessage, Queue
from loam.services.sqs.sending import attributes_size, prepare

__all__ = ["MessageOperations"]

MAX_BATCH_BYTES = 1_048_576
MAX_VISIBILITY = 43_200


class MessageOperations:
    def __init__(self, directory: Directory) -> None:
        self.d = directory

    def handlers(self) -> dict[str, Handler]:
        return {
            "SendMessage": self.send_message,
            "SendMessageBatch": self.send_message_batch,
            "DeleteMessage": self.delete_message,
            "DeleteMessageBatch": self.delete_message_batch,
            "ChangeMessageVisibility": self.change_message_visibility,
            "ChangeMessageVisibilityBatch": self.change_message_visibility_batch,
        }

    # -- sending --------------------------------------------------------------

    async def store(self, queue: Queue, messages: Sequence[NewMessage]) -> list[tuple[str, int]]:
        """Store checked messages in one transaction and wake this node's receivers."""
        stored = await self.d.call(self.d.store.insert_messages, queue, messages,
                                   self.d.clock.time(), self.d.account_id)
        self.d.counters.sent += len(messages)
        self.d.wakeups.wake(queue.name)
        return stored

    async def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        message = prepare(queue, params)
        [(message_id, seq)] = await self.store(queue, [message])
        return _sent(queue, message, message_id, seq)

    async def send_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        entries: list[Mapping[str, Any]] = params.get("Entries") or []
        check_entries(entries, "SendMessageBatchRequestEntry")
        total = sum(len(str(e.get("MessageBody") or "").encode("utf-8"))
                    + attributes_size(e.get("MessageAttributes") or {}) for e in entries)
        if total > MAX_BATCH_BYTES:
            raise BatchRequestTooLong(f"Batch requests cannot be longer than {MAX_BATCH_BYTES} "
                                      f"bytes. You have sent {total} bytes.")
        accepted: list[tuple[str, NewMessage]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                accepted.append((entry["Id"], prepare(queue, entry)))
            except ServiceError as exc:
                failed.append(failure(entry["Id"], exc))
        stored = await self.store(queue, [m for _, m in accepted]) if accepted else []
        successful = [{"Id": entry_id, **_sent(queue, message, message_id, seq)}
                      for (entry_id, message), (message_id, seq) in zip(accepted, stored,
                                                                        strict=True)]
        return {"Successful": successful, "Failed": failed}

    # -- deleting -------------------------------------------------------------

    async def delete_message(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        receipt = _receipt(queue, params["ReceiptHandle"])
        await self.d.call(self.d.store.delete_messages, queue.name, [receipt.message_id])
        self.d.counters.deleted += 1
        return {}

    async def delete_message_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        entries: list[Mapping[str, Any]] = params.get("Entries") or []
        check_entries(entries, "DeleteMessageBatchRequestEntry")
        ids: list[str] = []
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for entry in entries:
            try:
                ids.append(_receipt(queue, entry.get("ReceiptHandle") or "").message_id)
                successful.append({"Id": entry["Id"]})
            except ServiceError as exc:
                failed.append(failure(entry["Id"], exc))
        if ids:
            await self.d.call(self.d.store.delete_messages, queue.name, ids)
            self.d.counters.deleted += len(ids)
        return {"Successful": successful, "Failed": failed}

    # -- visibility -----------------------------------------------------------

    async def change_message_visibility(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        [outcome] = await self._change_all(queue, [params])
        if outcome is not None:
            raise outcome
        return {}

    async def change_message_visibility_batch(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        entries: list[Mapping[str, Any]] = params.get("Entries") or []
        check_entries(entries, "ChangeMessageVisibilityBatchRequestEntry")
        outcomes = await self._change_all(queue, entries)
        successful = [{"Id": e["Id"]} for e, o in zip(entries, outcomes, strict=True) if o is None]
        failed = [failure(e["Id"], o) for e, o in zip(entries, outcomes, strict=True)
                  if o is not None]
        return {"Successful": successful, "Failed": failed}

    async def _change_all(self, queue: Queue,
                          entries: Sequence[Mapping[str, Any]]) -> list[ServiceError | None]:
        outcomes, revealed = await self.d.call(self._change, queue, entries)
        if revealed:  # a message made visible again: receivers waiting here may take it
            self.d.wakeups.wake(queue.name)
        return outcomes

    def _change(self, queue: Queue, entries: Sequence[Mapping[str, Any]]
                ) -> tuple[list[ServiceError | None], bool]:
        """Check each change, apply the valid ones together; None for a change made."""
        now = self.d.clock.time()
        outcomes: list[ServiceError | None] = []
        changes: list[tuple[str, str, float]] = []
        for entry in entries:
            try:
                changes.append(self._checked_change(queue, entry, now))
                outcomes.append(None)
            except ServiceError as exc:
                outcomes.append(exc)
        if changes:
            self.d.store.set_visible_at(queue.name, changes)
        return outcomes, any(at <= now for _, _, at in changes)

    def _checked_change(self, queue: Queue, entry: Mapping[str, Any],
                        now: float) -> tuple[str, str, float]:
        timeout = entry.get("VisibilityTimeout")
        if timeout is None:
            raise MissingParameter.named("VisibilityTimeout")
        if not 0 <= timeout <= MAX_VISIBILITY:
            raise invalid_parameter("VisibilityTimeout", timeout,
                                    f"Must be between 0 and {MAX_VISIBILITY}, if provided.")
        handle = str(entry.get("ReceiptHandle") or "")
        receipt = _receipt(queue, handle)
        state = self.d.store.visibility_state(queue.name, receipt.message_id)
        if state is None or state[0] != receipt.nonce:
            raise InvalidParameterValue(
                f"Value {handle} for parameter ReceiptHandle is invalid. Reason: Message does "
                "not exist or is not available for visibility timeout change.")
        _, visible_at, received_at = state
        if visible_at <= now:
            raise MessageNotInflight("The message referred to isn't in flight.")
        if received_at is not None and now + timeout - received_at > MAX_VISIBILITY:
            raise invalid_parameter("VisibilityTimeout", timeout, "Total VisibilityTimeout for "
                                    f"the message is beyond the limit [{MAX_VISIBILITY} seconds]")
        return receipt.message_id, receipt.nonce, now + timeout


def _receipt(queue: Queue, handle: str) -> Receipt:
    receipt = Receipt.parse(handle)
    if receipt is None or receipt.queue != queue.name:
        raise ReceiptHandleIsInvalid.of(handle)
    return receipt


def _sent(queue: Queue, message: NewMessage, message_id: str, seq: int) -> dict[str, Any]:
    result: dict[str, Any] = {"MessageId": message_id, "MD5OfMessageBody": body_md5(message.body)}
    attributes = attributes_md5(message.attributes)
    if attributes:
        result["MD5OfMessageAttributes"] = attributes
    system = attributes_md5(message.system_attributes)
    if system:
        result["MD5OfMessageSystemAttributes"] = system
    if queue.fifo:
        result["SequenceNumber"] = sequence_number(seq)
    return result


def sequence_number(seq: int) -> str:
    """FIFO sequence numbers: 20 digits, growing per queue."""
    return f"{seq:020d}"
