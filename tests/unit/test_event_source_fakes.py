"""Test doubles for the event source tests: functions in memory, an in-memory SQLite
``Database``, a queue service with SQS's handler interface, an invoker."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loam.clock import FakeClock
from loam.control.code import CodeCache
from loam.control.event_sources import EventSourceMappings
from loam.control.functions import FunctionService
from loam.control.models import FunctionState
from loam.control.names import Arns
from loam.errors import TooManyRequestsException
from loam.invoke.service import InvokeResult
from loam.runtimes.registry import RuntimeRegistry
from loam.services.base import Handler
from loam.store import AliasRecord, FunctionRecord
from loam.store.blobs import BlobStore
from loam.store.sql import Database

ACCOUNT = "123456789012"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs"
FIFO_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:jobs.fifo"
FN_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"


def function_state(name: str = "f", **changes: object) -> FunctionState:
    fn = FunctionState(name=name, runtime="python3.12", role="arn:aws:iam::1:role/r",
                       handler="index.handler", code_digest="d", code_sha256="s", code_size=1,
                       unzipped_size=1, revision_id="r1", state="Active")
    return fn.evolve(**changes)


class MemoryStore:
    """The function store calls the read path makes, over dictionaries."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], FunctionRecord] = {}
        self.aliases: dict[tuple[str, str], AliasRecord] = {}

    def get_function(self, name: str, version: str = "$LATEST") -> FunctionRecord | None:
        return self.functions.get((name, version))

    def get_alias(self, function: str, name: str) -> AliasRecord | None:
        return self.aliases.get((function, name))

    def put(self, fn: FunctionState) -> None:
        self.functions[(fn.name, fn.version)] = fn.to_record()

    def remove(self, name: str) -> None:
        for key in [k for k in self.functions if k[0] == name]:
            del self.functions[key]


def memory_database() -> Database:
    return Database("sqlite", lambda: sqlite3.connect(":memory:", check_same_thread=False,
                                                      isolation_level=None))


@dataclass
class Message:
    id: str
    body: str
    attributes: dict[str, str]
    message_attributes: dict[str, Any] = field(default_factory=dict)
    receives: int = 0
    visible_at: float = 0.0
    receipt: str = ""


class FakeQueues:
    """Queues with SQS's in-process interface: ``queue_url_of`` and handlers called
    directly. An empty long poll moves the fake clock by its wait, as time would pass
    (so the visibility timeout is long: idle pollers make time fly)."""

    def __init__(self, clock: FakeClock, visibility_s: float = 3600.0) -> None:
        self.clock = clock
        self.visibility_s = visibility_s
        self.queues: dict[str, list[Message]] = {}
        self.deleted: list[str] = []  # message ids, in order
        self._ids = itertools.count(1)
        self._operations: dict[str, Handler] = {
            "ReceiveMessage": self._receive, "DeleteMessageBatch": self._delete_batch,
        }

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    def create(self, arn: str) -> None:
        self.queues[arn] = []

    def queue_url_of(self, arn: str) -> str | None:
        return f"http://sqs/{arn.rsplit(':', 1)[1]}" if arn in self.queues else None

    def send(self, arn: str, body: str, group: str | None = None,
             message_attributes: dict[str, Any] | None = None) -> str:
        n = next(self._ids)
        attributes = {"SentTimestamp": str(int(self.clock.time() * 1000)), "SenderId": ACCOUNT}
        if group is not None:
            attributes.update(MessageGroupId=group, MessageDeduplicationId=f"d{n}",
                              SequenceNumber=str(10**19 + n))
        message = Message(f"m{n}", body, attributes, message_attributes or {})
        self.queues[arn].append(message)
        return message.id

    def waiting(self, arn: str) -> list[str]:
        return [m.id for m in self.queues[arn]]

    def _queue(self, url: str) -> list[Message]:
        name = url.rsplit("/", 1)[1]
        return next(q for arn, q in self.queues.items() if arn.endswith(":" + name))

    async def _receive(self, p: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        now = self.clock.time()
        visible = [m for m in self._queue(p["QueueUrl"]) if m.visible_at <= now]
        chosen = visible[:p["MaxNumberOfMessages"]]
        if not chosen:
            self.clock.advance(p["WaitTimeSeconds"])
            return {}
        out = []
        for m in chosen:
            m.receives += 1
            m.visible_at = now + self.visibility_s
            m.receipt = f"{m.id}#{m.receives}"
            attributes = dict(m.attributes, ApproximateReceiveCount=str(m.receives),
                              ApproximateFirstReceiveTimestamp=str(int(now * 1000)))
            doc = {"MessageId": m.id, "ReceiptHandle": m.receipt, "Body": m.body,
                   "MD5OfBody": hashlib.md5(m.body.encode()).hexdigest(),
                   "Attributes": attributes}
            if m.message_attributes:
                doc["MessageAttributes"] = m.message_attributes
                doc["MD5OfMessageAttributes"] = "0" * 32
            out.append(doc)
        return {"Messages": out}

    async def _delete_batch(self, p: dict[str, Any]) -> dict[str, Any]:
        queue = self._queue(p["QueueUrl"])
        done = []
        for entry in p["Entries"]:
            for m in list(queue):
                if m.receipt == entry["ReceiptHandle"]:
                    queue.remove(m)
                    self.deleted.append(m.id)
                    done.append({"Id": entry["Id"]})
        return {"Successful": done, "Failed": []}


Answer = Callable[[dict[str, Any]], InvokeResult]


class FakeInvoker:
    """Records each event; answers with ``answer(event)`` (success by default)."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.targets: list[str] = []
        self.traces: list[str | None] = []
        self.answer: Answer = answer or (lambda event: InvokeResult(200, b"null"))

    async def invoke(self, function_name: str, qualifier: str | None, invocation_type: str,
                     log_type: str, payload: bytes,
                     client_context: str | None = None,
                     trace: str | None = None) -> InvokeResult:
        import json

        self.traces.append(trace)
        assert invocation_type == "RequestResponse"
        event = json.loads(payload)
        self.events.append(event)
        self.targets.append(function_name)
        await asyncio.sleep(0)
        return self.answer(event)


def throttled(event: dict[str, Any]) -> InvokeResult:
    raise TooManyRequestsException(
        "Rate Exceeded.", reason="ReservedFunctionConcurrentInvocationLimitExceeded"
    )


@dataclass
class ControlPlane:
    mappings: EventSourceMappings
    store: MemoryStore
    queues: FakeQueues
    clock: FakeClock


def control_plane(tmp_path: Path) -> ControlPlane:
    clock = FakeClock()
    store = MemoryStore()
    store.put(function_state("f"))
    blobs = BlobStore(tmp_path / "blobs")
    arns = Arns("us-east-1", ACCOUNT)
    functions = FunctionService(store, blobs, CodeCache(blobs, tmp_path / "code"),  # type: ignore[arg-type]
                                RuntimeRegistry(), arns, clock)
    queues = FakeQueues(clock)
    queues.create(QUEUE_ARN)
    queues.create(FIFO_ARN)
    mappings = EventSourceMappings(memory_database(), functions, clock, arns, queues)
    return ControlPlane(mappings, store, queues, clock)
