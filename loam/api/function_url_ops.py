"""Function URL operations: plain functions over validated input.

Create / Get / Update / Delete / ListFunctionUrlConfig(s), handed to
``loam.control.function_urls``; the node's ``FunctionUrls`` is the one the
HTTP front serves the URLs from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from loam.http.function_urls import function_urls
from loam.node import Node

__all__ = ["FUNCTION_URL_OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]


async def create_function_url_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(function_urls(node).create, p)


async def get_function_url_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(function_urls(node).get, p["FunctionName"], p.get("Qualifier"))


async def update_function_url_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(function_urls(node).update, p)


async def delete_function_url_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(function_urls(node).delete, p["FunctionName"], p.get("Qualifier"))
    return {}


async def list_function_url_configs(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        function_urls(node).list, p["FunctionName"], p.get("Marker"), p.get("MaxItems"))


FUNCTION_URL_OPERATIONS: dict[str, Handler] = {
    "CreateFunctionUrlConfig": create_function_url_config,
    "GetFunctionUrlConfig": get_function_url_config,
    "UpdateFunctionUrlConfig": update_function_url_config,
    "DeleteFunctionUrlConfig": delete_function_url_config,
    "ListFunctionUrlConfigs": list_function_url_configs,
}
