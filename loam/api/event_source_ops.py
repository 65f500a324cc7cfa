"""Lambda's event source mapping operations: plain functions over validated input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loam.node import Node

__all__ = ["EVENT_SOURCE_OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]

EVENT_SOURCE_OPERATIONS: dict[str, Handler] = {}
