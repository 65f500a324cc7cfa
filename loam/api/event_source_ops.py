"""Lambda's event source mapping operations: plain functions over validated input."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loam.node import Node

__all__ = ["EVENT_SOURCE_OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]


async def create_event_source_mapping(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_sources.create, p)


async def get_event_source_mapping(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_sources.get, p["UUID"])


async def update_event_source_mapping(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_sources.update, p)


async def delete_event_source_mapping(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_sources.delete, p["UUID"])


async def list_event_source_mappings(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.event_sources.list_mappings, p.get("EventSourceArn"), p.get("FunctionName"),
        p.get("Marker"), p.get("MaxItems"),
    )


EVENT_SOURCE_OPERATIONS: dict[str, Handler] = {
    "CreateEventSourceMapping": create_event_source_mapping,
    "GetEventSourceMapping": get_event_source_mapping,
    "UpdateEventSourceMapping": update_event_source_mapping,
    "DeleteEventSourceMapping": delete_event_source_mapping,
    "ListEventSourceMappings": list_event_source_mappings,
}
