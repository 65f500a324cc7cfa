"""What every apigatewayv2 operation shares: the store, the clock, names and lookups."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from loam.clock import Clock
from loam.services.apigateway.errors import BadRequestException, not_found
from loam.services.apigateway.store import ApiStore, Document

__all__ = ["ApiContext", "page"]

T = TypeVar("T")


@dataclass(frozen=True)
class ApiContext:
    store: ApiStore
    clock: Clock
    region: str
    account_id: str
    base_url: str

    def now(self) -> str:
        """API Gateway's ISO 8601 timestamps, to the second, in UTC."""
        return datetime.fromtimestamp(self.clock.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def endpoint(self, api_id: str) -> str:
        """``http://<api-id>.execute-api.<region>.localhost:<port>``: a host name every
        resolver maps to this machine (RFC 6761), served by the execute-api front."""
        port = urlsplit(self.base_url).port
        suffix = f":{port}" if port else ""
        return f"http://{api_id}.execute-api.{self.region}.localhost{suffix}"

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        """A store call off the event loop (the schema created on first use)."""
        def guarded() -> T:
            self.store.create_schema()
            return call(*args)
        return await asyncio.to_thread(guarded)

    async def api(self, api_id: str) -> Document:
        doc = await self.run(self.store.api, api_id)
        if doc is None:
            raise not_found("API", self.account_id, api_id)
        return doc

    async def resource(self, api_id: str, kind: str, resource_id: str) -> Document:
        await self.api(api_id)
        doc = await self.run(self.store.get, api_id, kind, resource_id)
        if doc is None:
            raise not_found(kind.capitalize(), self.account_id, resource_id)
        return doc


def page(items: list[Document], params: dict[str, Any]) -> dict[str, Any]:
    """``MaxResults`` / ``NextToken`` (the offset) over a listing in creation order."""
    try:
        start = int(params.get("NextToken") or 0)
        size = int(params.get("MaxResults") or 0) or len(items) or 1
    except ValueError:
        raise BadRequestException("Invalid pagination token or MaxResults") from None
    if start < 0 or size < 1:
        raise BadRequestException("Invalid pagination token or MaxResults")
    chunk = items[start:start + size]
    answer: dict[str, Any] = {"Items": chunk}
    if start + size < len(items):
        answer["NextToken"] = str(start + size)
    return answer
