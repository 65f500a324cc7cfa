"""The SQS-compatible service: queues and messages in the node's database.

The wire layer (``loam.api``) calls the handlers in ``operations`` for both
of SQS's protocols (JSON 1.0 from the SDKs, awsQuery from the aws CLI); they
take and return the botocore shapes' Python form. Other parts of loam use the
same service in process:

- ``queue_url_of(arn)`` → the queue's URL, or None when no such queue exists;
- ``await send(queue_arn, body, message_attributes=..., group_id=...,
  dedup_id=..., delay_seconds=...)`` → the new message's id, checked as
  SendMessage checks it (raises ``QueueDoesNotExist`` and SendMessage's other
  errors); used for function destinations and dead-letter queues;
- ``await operations["ReceiveMessage"]({...})`` and the other handlers, called
  directly with request dicts (the SQS event source polls this way);
- ``statistics()`` → a frozen ``SqsStatistics`` snapshot.

State lives in ``sqs_*`` tables (``store.py``) so a restart or another node
sharing PostgreSQL sees the same queues; the only in-memory state is the
long-poll wake-ups and counters. Time comes from the injected ``Clock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.sqs.directory import Directory, SqsStatistics
from loam.services.sqs.errors import QueueDoesNotExist
from loam.services.sqs.message_ops import MessageOperations
from loam.services.sqs.queue_ops import QueueOperations
from loam.services.sqs.receiving import Receiver
from loam.services.sqs.sending import prepare
from loam.services.sqs.store import QueueStore
from loam.store.sql import Database

__all__ = ["SqsService", "SqsStatistics"]

POLL_INTERVAL = 1.0


class SqsService:
    service_name = "sqs"

    def __init__(self, database: Database, clock: Clock, region: str, account_id: str,
                 base_url: str, *, poll_interval: float = POLL_INTERVAL) -> None:
        self.database = database
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.base_url = base_url
        self.store = QueueStore(database)
        self.directory = Directory(self.store, clock, region, account_id, base_url)
        self.messages = MessageOperations(self.directory)
        self.receiver = Receiver(self.directory, poll_interval)
        self._operations: dict[str, Handler] = {
            **QueueOperations(self.directory).handlers(),
            **self.messages.handlers(),
            "ReceiveMessage": self.receiver.receive_message,
        }
        self._schema_ready = False

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def start(self) -> None:
        await asyncio.to_thread(self.create_schema)

    def create_schema(self) -> None:
        if not self._schema_ready:
            self.store.create_schema()
            self._schema_ready = True

    async def stop(self) -> None:
        return None

    def queue_url_of(self, arn: str) -> str | None:
        """The URL of the queue with this ARN, None when there is none."""
        queue = self.store.queue_by_arn(arn)
        return None if queue is None else queue.url

    async def send(self, queue_arn: str, body: str, *,
                   message_attributes: dict[str, Any] | None = None,
                   group_id: str | None = None, dedup_id: str | None = None,
                   delay_seconds: int | None = None) -> str:
        """Send one message to the queue ``queue_arn``; its message id."""
        queue = await self.directory.call(self.store.queue_by_arn, queue_arn)
        if queue is None:
            raise QueueDoesNotExist()
        entry: dict[str, Any] = {"MessageBody": body, "MessageAttributes": message_attributes,
                                 "MessageGroupId": group_id, "MessageDeduplicationId": dedup_id,
                                 "DelaySeconds": delay_seconds}
        message = prepare(queue, {k: v for k, v in entry.items() if v is not None})
        [(message_id, _)] = await self.messages.store(queue, [message])
        return message_id

    async def lag(self) -> dict[str, tuple[int, float | None]]:
        """Queue name → (visible messages, when its oldest was sent): for metrics."""
        return await self.directory.call(self.store.lag, self.clock.time())

    def statistics(self) -> SqsStatistics:
        counters = self.directory.counters
        return SqsStatistics(
            queues=len(self.store.queue_names()),
            messages_sent=counters.sent,
            messages_received=counters.received,
            messages_deleted=counters.deleted,
            messages_dead_lettered=counters.dead_lettered,
        )
