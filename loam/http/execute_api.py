"""HTTP APIs (API Gateway v2): ``<api-id>.execute-api.<region>.localhost`` and a path prefix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loam.http.front import Receive, Scope, Send

if TYPE_CHECKING:
    from loam.node import Node

__all__ = ["ExecuteApiFront"]


class ExecuteApiFront:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        return False
