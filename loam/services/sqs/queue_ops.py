"""The queue operations: create, find, list, delete, attributes, purge, tags."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from loam.services.base import Handler
from loam.services.sqs import attributes
from loam.services.sqs.directory import Directory
from loam.services.sqs.errors import (
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
    invalid_parameter,
)
from loam.services.sqs.models import Queue, valid_queue_name
from loam.store.protocol import RecordExists

__all__ = ["QueueOperations"]

DELETE_COOLDOWN = 60.0
PURGE_INTERVAL = 60.0
MAX_TAGS = 50
MAX_PAGE = 1000


class QueueOperations:
    def __init__(self, directory: Directory) -> None:
        self.d = directory

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateQueue": self.create_queue,
            "GetQueueUrl": self.get_queue_url,
            "ListQueues": self.list_queues,
            "DeleteQueue": self.delete_queue,
            "GetQueueAttributes": self.get_queue_attributes,
            "SetQueueAttributes": self.set_queue_attributes,
            "PurgeQueue": self.purge_queue,
            "TagQueue": self.tag_queue,
            "UntagQueue": self.untag_queue,
            "ListQueueTags": self.list_queue_tags,
            "ListDeadLetterSourceQueues": self.list_dead_letter_source_queues,
        }

    def _lookup(self, arn: str) -> tuple[bool, str | None] | None:
        queue = self.d.store.queue_by_arn(arn)
        return None if queue is None else (queue.fifo, queue.attributes.get("RedriveAllowPolicy"))

    async def create_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["QueueName"])
        given: Mapping[str, str] = params.get("Attributes") or {}
        fifo = str(given.get("FifoQueue", "")).lower() == "true"
        if not valid_queue_name(name, fifo):
            raise InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length." if fifo
                else "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length")
        tags = dict(params.get("tags") or {})
        if len(tags) > MAX_TAGS:
            raise InvalidParameterValue(f"Too many tags added for queue {name}.")
        return {"QueueUrl": await self.d.call(self._create, name, given, fifo, tags)}

    def _create(self, name: str, given: Mapping[str, str], fifo: bool,
                tags: dict[str, str]) -> str:
        now = self.d.clock.time()
        arn = self.d.arn(name)
        values = attributes.checked(given, fifo=fifo, creating=True, queue_arn=arn,
                                    lookup=self._lookup)
        existing = self.d.store.queue(name)
        if existing is None:
            if self.d.store.deleted_since(name, now - DELETE_COOLDOWN):
                raise QueueDeletedRecently("You must wait 60 seconds after deleting a queue "
                                           "before you can create another with the same name.")
            queue = Queue(name, arn, self.d.url(name), {**attributes.defaults(fifo), **values},
                          tags, now, now)
            try:
                self.d.store.insert_queue(queue)
                return queue.url
            except RecordExists:
                existing = self.d.store.queue(name)
                if existing is None:
                    raise
        for attribute, value in values.items():
            if existing.attributes.get(attribute, "") != value:
                raise QueueNameExists("A queue already exists with the same name and a "
                                      f"different value for attribute {attribute}")
        if fifo != existing.fifo:
            raise QueueNameExists("A queue already exists with the same name and a different "
                                  "value for attribute FifoQueue")
        return existing.url

    async def get_queue_url(self, params: dict[str, Any]) -> dict[str, Any]:
        owner = params.get("QueueOwnerAWSAccountId")
        if owner is not None and owner != self.d.account_id:
            raise QueueDoesNotExist()
        queue = await self.d.call(self.d.store.queue, str(params["QueueName"]))
        if queue is None:
            raise QueueDoesNotExist()
        return {"QueueUrl": queue.url}

    async def list_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        names = await self.d.call(self.d.store.queue_names, params.get("QueueNamePrefix") or "")
        urls, token = page([self.d.url(n) for n in names], params.get("MaxResults"),
                           params.get("NextToken"))
        result: dict[str, Any] = {"QueueUrls": urls} if urls else {}
        if token:
            result["NextToken"] = token
        return result

    async def delete_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        if not await self.d.call(self.d.store.delete_queue, queue.name, self.d.clock.time()):
            raise QueueDoesNotExist()
        self.d.wakeups.wake(queue.name)
        return {}

    async def get_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        names = attributes.requested_names(params.get("AttributeNames"))
        computed = {"QueueArn": queue.arn, "CreatedTimestamp": str(int(queue.created)),
                    "LastModifiedTimestamp": str(int(queue.modified))}
        if any(n.startswith("ApproximateNumberOfMessages") for n in names):
            visible, in_flight, delayed = await self.d.call(self.d.store.counts, queue,
                                                            self.d.clock.time())
            computed.update(ApproximateNumberOfMessages=str(visible),
                            ApproximateNumberOfMessagesNotVisible=str(in_flight),
                            ApproximateNumberOfMessagesDelayed=str(delayed))
        values = attributes.reported(names, queue.attributes, computed)
        return {"Attributes": values} if values else {}

    async def set_queue_attributes(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        await self.d.call(self._set_attributes, queue, params.get("Attributes") or {})
        return {}

    def _set_attributes(self, queue: Queue, given: Mapping[str, str]) -> None:
        values = attributes.checked(given, fifo=queue.fifo, creating=False,
                                    queue_arn=queue.arn, lookup=self._lookup)
        merged = {**queue.attributes, **values}
        for name, value in values.items():
            if value == "":
                merged.pop(name, None)
        self.d.store.update_queue(replace(queue, attributes=merged, modified=self.d.clock.time()))

    async def purge_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        if not await self.d.call(self.d.store.purge, queue.name, self.d.clock.time(),
                                 PURGE_INTERVAL):
            raise PurgeQueueInProgress(f"Only one PurgeQueue operation on {queue.name} is "
                                       "allowed every 60 seconds.")
        return {}

    async def tag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        tags = {**queue.tags, **params["Tags"]}
        if len(tags) > MAX_TAGS:
            raise InvalidParameterValue(f"Too many tags added for queue {queue.name}.")
        await self.d.call(self.d.store.update_queue, replace(queue, tags=tags))
        return {}

    async def untag_queue(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        removed = set(params["TagKeys"])
        tags = {k: v for k, v in queue.tags.items() if k not in removed}
        await self.d.call(self.d.store.update_queue, replace(queue, tags=tags))
        return {}

    async def list_queue_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        return {"Tags": dict(queue.tags)} if queue.tags else {}

    async def list_dead_letter_source_queues(self, params: dict[str, Any]) -> dict[str, Any]:
        queue = await self.d.queue(params["QueueUrl"])
        urls = await self.d.call(self.d.store.dead_letter_sources, queue.arn)
        found, token = page(urls, params.get("MaxResults"), params.get("NextToken"))
        result: dict[str, Any] = {"queueUrls": found}
        if token:
            result["NextToken"] = token
        return result


def page(items: Sequence[str], max_results: int | None,
         token: str | None) -> tuple[list[str], str | None]:
    """One page of sorted ``items``; the token names the last item handed out."""
    if max_results is not None and not 1 <= max_results <= MAX_PAGE:
        raise invalid_parameter("MaxResults", max_results,
                                f"MaxResults must be an integer between 1 and {MAX_PAGE}.")
    rest = list(items)
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            raise InvalidParameterValue("Invalid NextToken value.") from None
        rest = [item for item in rest if item > after]
    size = max_results or MAX_PAGE
    chunk = rest[:size]
    if max_results is None or len(rest) <= size:
        return chunk, None
    return chunk, base64.urlsafe_b64encode(chunk[-1].encode("utf-8")).decode("ascii")
