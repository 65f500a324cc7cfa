"""Lambda operations: each a plain function from validated input to output.

Handlers hold no business rules: they call ``control`` or ``invoke`` and
return the output members named in the service model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from loam.api import eventstream
from loam.api.event_source_ops import EVENT_SOURCE_OPERATIONS
from loam.api.function_url_ops import FUNCTION_URL_OPERATIONS
from loam.api.permission_ops import PERMISSION_OPERATIONS
from loam.api.rest_json import load_json
from loam.errors import LoamError
from loam.invoke.service import SYNC_PAYLOAD_LIMIT, StreamEnd
from loam.node import Node

__all__ = ["OPERATIONS"]

Handler = Callable[[Node, dict[str, Any]], Awaitable[dict[str, Any]]]


async def create_function(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.functions.create_function, p)


async def get_function(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    fn = await asyncio.to_thread(node.functions.resolve, p["FunctionName"], p.get("Qualifier"))
    out = node.functions.describe(fn)
    out["Code"]["Location"] = node.code_url(fn.code_digest)
    return out


async def get_function_configuration(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    fn = await asyncio.to_thread(node.functions.resolve, p["FunctionName"], p.get("Qualifier"))
    return node.functions.configuration(fn)


async def list_functions(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.functions.list_functions, p.get("Marker"), p.get("MaxItems")
    )


async def update_function_code(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.functions.update_code, p)


async def update_function_configuration(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.functions.update_configuration, p)


async def delete_function(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.functions.delete_function, p["FunctionName"], p.get("Qualifier"))
    return {"StatusCode": 204}


async def get_account_settings(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.functions.account_settings)


def _invocation(p: dict[str, Any]) -> tuple[str, str | None, str, str, bytes, str | None]:
    """Invoke's and InvokeWithResponseStream's shared input, the payload checked as JSON."""
    payload: bytes = p.get("Payload", b"")
    _check_json(payload)
    return (p["FunctionName"], p.get("Qualifier"), p.get("InvocationType", "RequestResponse"),
            p.get("LogType", "None"), payload, p.get("ClientContext"))


async def invoke(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    result = await node.invoker.invoke(*_invocation(p))
    return {
        "StatusCode": result.status_code,
        "Payload": result.payload,
        "FunctionError": result.function_error,
        "LogResult": result.log_result,
        "ExecutedVersion": result.executed_version,
        "ResponseMetadata": {"RequestId": result.request_id},
    }


async def invoke_with_response_stream(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    stream = await node.invoker.invoke_with_response_stream(*_invocation(p))
    if stream is None:  # DryRun
        return {"StatusCode": 204}

    async def events(write: eventstream.Write) -> None:
        async def chunk(data: bytes) -> None:
            await write(eventstream.payload_chunk(data))

        try:
            end = await stream.run(chunk)
        except LoamError as exc:  # the status line is sent: the error ends the stream
            end = StreamEnd(exc.code, exc.message)
        await write(eventstream.invoke_complete(end.error_code, end.error_details,
                                                end.log_result))

    source: eventstream.EventSource = events
    return {
        "StatusCode": 200,
        "ExecutedVersion": stream.executed_version,
        "EventStream": source,
        "ResponseMetadata": {"RequestId": stream.request_id},
    }


def _check_json(payload: bytes) -> None:
    """AWS refuses an event that is not JSON before it looks any further.

    An empty payload is allowed; an oversized one is left to the invoke
    service, which rejects it for its size. orjson reads a subset of what the
    standard library reads (RFC 8259 in UTF-8), ten times as fast: what it
    refuses gets the standard library's answer (and its error message).
    """
    if payload and len(payload) <= SYNC_PAYLOAD_LIMIT:
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError:
            load_json(payload)


async def put_function_concurrency(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.concurrency.put, p["FunctionName"], p["ReservedConcurrentExecutions"]
    )


async def get_function_concurrency(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.concurrency.get, p["FunctionName"])


async def delete_function_concurrency(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.concurrency.delete, p["FunctionName"])
    return {}


async def put_provisioned_concurrency_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.provisioned.put, p["FunctionName"], p.get("Qualifier"),
        p["ProvisionedConcurrentExecutions"],
    )


async def get_provisioned_concurrency_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.provisioned.get, p["FunctionName"], p.get("Qualifier"))


async def delete_provisioned_concurrency_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.provisioned.delete, p["FunctionName"], p.get("Qualifier"))
    return {}


async def list_provisioned_concurrency_configs(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.provisioned.list, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
    )


async def put_function_event_invoke_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_invoke.put, p)


async def update_function_event_invoke_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_invoke.update, p)


async def get_function_event_invoke_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_invoke.get, p["FunctionName"], p.get("Qualifier"))


async def delete_function_event_invoke_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.event_invoke.delete, p["FunctionName"], p.get("Qualifier"))
    return {}


async def list_function_event_invoke_configs(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.event_invoke.list, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
    )


async def put_function_recursion_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.event_invoke.put_recursion, p["FunctionName"], p["RecursiveLoop"]
    )


async def get_function_recursion_config(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.event_invoke.get_recursion, p["FunctionName"])


async def publish_version(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.versions.publish, p)


async def list_versions_by_function(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.versions.list_versions, p["FunctionName"], p.get("Marker"), p.get("MaxItems")
    )


async def create_alias(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.aliases.create, p)


async def get_alias(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    alias = await asyncio.to_thread(node.aliases.get, p["FunctionName"], p["Name"])
    return node.aliases.describe(alias)


async def update_alias(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.aliases.update, p)


async def delete_alias(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.aliases.delete, p["FunctionName"], p["Name"])
    return {}


async def list_aliases(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.aliases.list_aliases, p["FunctionName"], p.get("FunctionVersion"), p.get("Marker"),
        p.get("MaxItems"),
    )


async def publish_layer_version(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    layer = await asyncio.to_thread(node.layers.publish, p)
    return node.layers.describe(layer, node.code_url(layer.code_digest))


async def get_layer_version(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    layer = await asyncio.to_thread(node.layers.get, p["LayerName"], p["VersionNumber"])
    return node.layers.describe(layer, node.code_url(layer.code_digest))


async def get_layer_version_by_arn(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    layer = await asyncio.to_thread(node.layers.get_by_arn, p["Arn"])
    return node.layers.describe(layer, node.code_url(layer.code_digest))


async def list_layers(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.layers.list_layers, p.get("CompatibleRuntime"), p.get("CompatibleArchitecture"),
        p.get("Marker"), p.get("MaxItems"),
    )


async def list_layer_versions(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(
        node.layers.list_versions, p["LayerName"], p.get("CompatibleRuntime"),
        p.get("CompatibleArchitecture"), p.get("Marker"), p.get("MaxItems"),
    )


async def delete_layer_version(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.layers.delete, p["LayerName"], p["VersionNumber"])
    return {}


async def add_layer_version_permission(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.layers.add_permission, p)


async def get_layer_version_policy(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(node.layers.get_policy, p["LayerName"], p["VersionNumber"])


async def remove_layer_version_permission(node: Node, p: dict[str, Any]) -> dict[str, Any]:
    await asyncio.to_thread(node.layers.remove_permission, p)
    return {}


OPERATIONS: dict[str, Handler] = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "ListFunctions": list_functions,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
    "DeleteFunction": delete_function,
    "GetAccountSettings": get_account_settings,
    "Invoke": invoke,
    "InvokeWithResponseStream": invoke_with_response_stream,
    "PutFunctionConcurrency": put_function_concurrency,
    "GetFunctionConcurrency": get_function_concurrency,
    "DeleteFunctionConcurrency": delete_function_concurrency,
    "PutProvisionedConcurrencyConfig": put_provisioned_concurrency_config,
    "GetProvisionedConcurrencyConfig": get_provisioned_concurrency_config,
    "DeleteProvisionedConcurrencyConfig": delete_provisioned_concurrency_config,
    "ListProvisionedConcurrencyConfigs": list_provisioned_concurrency_configs,
    "PutFunctionEventInvokeConfig": put_function_event_invoke_config,
    "UpdateFunctionEventInvokeConfig": update_function_event_invoke_config,
    "GetFunctionEventInvokeConfig": get_function_event_invoke_config,
    "DeleteFunctionEventInvokeConfig": delete_function_event_invoke_config,
    "ListFunctionEventInvokeConfigs": list_function_event_invoke_configs,
    "PutFunctionRecursionConfig": put_function_recursion_config,
    "GetFunctionRecursionConfig": get_function_recursion_config,
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions_by_function,
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "PublishLayerVersion": publish_layer_version,
    "GetLayerVersion": get_layer_version,
    "GetLayerVersionByArn": get_layer_version_by_arn,
    "ListLayers": list_layers,
    "ListLayerVersions": list_layer_versions,
    "DeleteLayerVersion": delete_layer_version,
    "AddLayerVersionPermission": add_layer_version_permission,
    "GetLayerVersionPolicy": get_layer_version_policy,
    "RemoveLayerVersionPermission": remove_layer_version_permission,
    **EVENT_SOURCE_OPERATIONS,
    **FUNCTION_URL_OPERATIONS,
    **PERMISSION_OPERATIONS,
}
