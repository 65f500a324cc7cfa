"""Lambda's resource-policy operations: AddPermission, RemovePermission, GetPolicy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loam.node import Node

__all__ = ["PERMISSION_OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]


async def add_permission(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.permissions.add_permission, p)


async def remove_permission(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.permissions.remove_permission, p)
    return {}


async def get_policy(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.permissions.get_policy, p["FunctionName"],
                                   p.get("Qualifier"))


PERMISSION_OPERATIONS: dict[str, Handler] = {
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "GetPolicy": get_policy,
}
