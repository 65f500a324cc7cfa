"""The contract between the API layer and an embedded service.

An embedded service (``sqs``, ``events``) is named by its botocore service
name and offers one handler per operation. The API layer finds the
operation (``X-Amz-Target`` for the JSON protocols, ``Action`` for the query
protocol), parses the request into the botocore input shape's Python form,
validates it against the model, calls the handler and serialises what it
returns by the output shape. Handlers never see the wire:

- inputs and outputs are plain dicts keyed by the model's member names;
  strings ``str``, integers ``int``, booleans ``bool``, blobs ``bytes``,
  timestamps ``datetime`` (UTC) on input and ``datetime`` or epoch seconds on
  output, lists and maps as ``list`` / ``dict``;
- a refusal is a ``ServiceError`` subclass whose ``code`` is the model's error
  shape name (``QueueDoesNotExist``) or AWS's documented code
  (``InvalidParameterValue``); ``query_code`` is the awsQuery code when it
  differs (``AWS.SimpleQueueService.NonExistentQueue``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol

from loam.errors import LoamError

__all__ = ["EmbeddedService", "Handler", "ServiceError"]

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ServiceError(LoamError):
    """A client error of an embedded service (400, the sender's fault, by default)."""

    status = 400
    error_type = "Sender"
    message_key = "message"
    query_code: ClassVar[str | None] = None
    sender_fault: ClassVar[bool] = True

    @property
    def wire_query_code(self) -> str:
        return self.query_code or self.code


class EmbeddedService(Protocol):
    service_name: str  # botocore's name for the service: "sqs", "events"

    @property
    def operations(self) -> Mapping[str, Handler]: ...

    async def start(self) -> None:
        """Start background work (owned by the node's lifespan)."""

    async def stop(self) -> None: ...
