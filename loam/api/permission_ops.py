"""Lambda operations: plain functions over validated input."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loam.node import Node

__all__ = ["PERMISSION_OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]

PERMISSION_OPERATIONS: dict[str, Handler] = {}
