"""The contract between the ASGI app and an HTTP trigger front.

A front looks at each HTTP request before the AWS APIs do (by its Host header
or a path prefix on the main port) and either answers it completely (True) or
leaves it alone without reading its body (False). ``wants`` comes first: a
cheap, synchronous test that lets the API's own requests (every Invoke) pass
the fronts without a coroutine each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Protocol

__all__ = ["HttpFront", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class HttpFront(Protocol):
    def wants(self, path: str, host: bytes) -> bool:
        """False when the request cannot be this front's (``path``: the decoded path;
        ``host``: the Host header, lowercased, ``b""`` without one); True when
        ``handle`` should look."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is this front's; False (body unread) otherwise."""
