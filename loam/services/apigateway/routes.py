"""Routes and integrations: ``GET /items/{id}`` → ``integrations/abc1234`` → a function.

A route key is ``$default`` or an HTTP method (or ``ANY``) and a path whose
segments may be ``{name}`` or, last, a greedy ``{name+}``. An HTTP API's
integration here is ``AWS_PROXY`` to a Lambda function (ARN or alias ARN)
with payload format ``1.0`` or ``2.0``.
"""

from __future__ import annotations

import re
from typing import Any

from loam.services.apigateway.context import ApiContext, page
from loam.services.apigateway.errors import BadRequestException, ConflictException
from loam.services.apigateway.models import new_id
from loam.services.apigateway.store import Document
from loam.services.base import Handler

__all__ = ["RouteOperations", "check_route_key", "integration_document", "route_document"]

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"})
_SEGMENT = re.compile(r"^(?:[^{}]+|\{[A-Za-z0-9._-]+\+?\})$")
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?$")
_ROUTE = "route"
_INTEGRATION = "integration"


def check_route_key(key: str) -> None:
    if key == "$default":
        return
    method, _, path = key.partition(" ")
    if method not in METHODS or not path.startswith("/"):
        raise BadRequestException(f"Invalid route key {key}. Route keys must be '$default' or "
                                  "an HTTP method (or ANY), a space and a path starting with '/'.")
    segments = path.strip("/").split("/") if path != "/" else []
    for index, segment in enumerate(segments):
        if not _SEGMENT.match(segment) or (segment.endswith("+}") and index < len(segments) - 1):
            raise BadRequestException(f"Invalid route key {key}. A greedy path variable must be "
                                      "the last segment; variables are {name} or {name+}.")


def route_document(route_id: str, params: dict[str, Any], managed: bool = False) -> Document:
    doc: Document = {
        "ApiKeyRequired": bool(params.get("ApiKeyRequired", False)),
        "AuthorizationType": params.get("AuthorizationType") or "NONE",
        "RouteId": route_id,
        "RouteKey": params["RouteKey"],
    }
    for member in ("AuthorizerId", "AuthorizationScopes", "OperationName", "Target",
                   "RequestParameters", "RequestModels"):
        if params.get(member) is not None:
            doc[member] = params[member]
    if managed:
        doc["ApiGatewayManaged"] = True
    return doc


def integration_document(integration_id: str, params: dict[str, Any],
                         managed: bool = False) -> Document:
    doc: Document = {
        "ConnectionType": params.get("ConnectionType") or "INTERNET",
        "IntegrationId": integration_id,
        "IntegrationMethod": params.get("IntegrationMethod") or "POST",
        "IntegrationType": params["IntegrationType"],
        "IntegrationUri": params["IntegrationUri"],
        "PayloadFormatVersion": params["PayloadFormatVersion"],
        "TimeoutInMillis": params.get("TimeoutInMillis") or 30000,
    }
    for member in ("Description", "RequestParameters", "ResponseParameters", "CredentialsArn"):
        if params.get(member) is not None:
            doc[member] = params[member]
    if managed:
        doc["ApiGatewayManaged"] = True
    return doc


def check_integration(params: dict[str, Any]) -> None:
    kind = params["IntegrationType"]
    if kind != "AWS_PROXY":
        raise BadRequestException(f"Unsupported integration type {kind}: loam's HTTP APIs "
                                  "integrate Lambda functions (AWS_PROXY).")
    uri = params.get("IntegrationUri")
    if not uri or not _FUNCTION_ARN.match(uri):
        raise BadRequestException("Invalid IntegrationUri specified: an AWS_PROXY integration "
                                  "takes a Lambda function ARN")
    version = params.get("PayloadFormatVersion")
    if version is None:
        raise BadRequestException("PayloadFormatVersion is required for an AWS_PROXY "
                                  "integration of an HTTP API")
    if version not in ("1.0", "2.0"):
        raise BadRequestException(f"Invalid PayloadFormatVersion {version}: must be 1.0 or 2.0")
    timeout = params.get("TimeoutInMillis")
    if timeout is not None and not 50 <= timeout <= 30000:
        raise BadRequestException("TimeoutInMillis must be between 50 and 30000 for HTTP APIs")


class RouteOperations:
    def __init__(self, context: ApiContext) -> None:
        self.ctx = context

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateRoute": self.create_route, "GetRoute": self.get_route,
            "GetRoutes": self.get_routes, "UpdateRoute": self.update_route,
            "DeleteRoute": self.delete_route,
            "CreateIntegration": self.create_integration,
            "GetIntegration": self.get_integration, "GetIntegrations": self.get_integrations,
            "UpdateIntegration": self.update_integration,
            "DeleteIntegration": self.delete_integration,
        }

    async def _check_route(self, api_id: str, params: dict[str, Any]) -> None:
        check_route_key(params["RouteKey"])
        target = params.get("Target")
        if target is not None:
            integration_id = str(target).removeprefix("integrations/")
            if not str(target).startswith("integrations/") or await self.ctx.run(
                    self.ctx.store.get, api_id, _INTEGRATION, integration_id) is None:
                raise BadRequestException(f"Invalid target {target}: expected "
                                          "integrations/<an integration of this API>")
        kind = params.get("AuthorizationType") or "NONE"
        if kind not in ("NONE", "CUSTOM", "JWT", "AWS_IAM"):
            raise BadRequestException(f"Invalid authorization type {kind}")
        if kind in ("JWT", "AWS_IAM"):
            raise BadRequestException(f"Authorization type {kind} is not available on loam; "
                                      "use CUSTOM with a Lambda authorizer")
        authorizer = params.get("AuthorizerId")
        if kind == "CUSTOM" and not authorizer:
            raise BadRequestException("AuthorizerId is required for authorization type CUSTOM")
        if authorizer is not None:
            if kind != "CUSTOM":
                raise BadRequestException(
                    f"AuthorizerId cannot be used with authorization type {kind}")
            if await self.ctx.run(self.ctx.store.get, api_id, "authorizer", authorizer) is None:
                raise BadRequestException(f"Invalid authorizer identifier {authorizer}")

    async def create_route(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        await self.ctx.api(api_id)
        await self._check_route(api_id, params)
        doc = route_document(new_id(7), params)
        if not await self.ctx.run(self.ctx.store.insert, api_id, _ROUTE, doc["RouteId"],
                                  doc["RouteKey"], self.ctx.clock.time(), doc):
            raise ConflictException(f"Unable to create route. A route with key "
                                    f"{doc['RouteKey']} already exists for API {api_id}.")
        return doc

    async def get_route(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.ctx.resource(params["ApiId"], _ROUTE, params["RouteId"])

    async def get_routes(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        return page(await self.ctx.run(self.ctx.store.list, params["ApiId"], _ROUTE), params)

    async def update_route(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        current = await self.ctx.resource(api_id, _ROUTE, params["RouteId"])
        if params.get("RouteKey") not in (None, current["RouteKey"]):
            raise BadRequestException("Changing a route's key is not available on loam; "
                                      "create a route with the new key")
        merged = {**current, **{k: v for k, v in params.items() if k != "ApiId"}}
        await self._check_route(api_id, merged)
        doc = route_document(current["RouteId"], merged, bool(current.get("ApiGatewayManaged")))
        await self.ctx.run(self.ctx.store.replace, api_id, _ROUTE, doc["RouteId"], doc)
        return doc

    async def delete_route(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.resource(params["ApiId"], _ROUTE, params["RouteId"])
        await self.ctx.run(self.ctx.store.delete, params["ApiId"], _ROUTE, params["RouteId"])
        return {}

    async def create_integration(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        await self.ctx.api(api_id)
        check_integration(params)
        doc = integration_document(new_id(7), params)
        await self.ctx.run(self.ctx.store.insert, api_id, _INTEGRATION, doc["IntegrationId"],
                           doc["IntegrationId"], self.ctx.clock.time(), doc)
        return doc

    async def get_integration(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.ctx.resource(params["ApiId"], _INTEGRATION, params["IntegrationId"])

    async def get_integrations(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        return page(await self.ctx.run(self.ctx.store.list, params["ApiId"], _INTEGRATION),
                    params)

    async def update_integration(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        current = await self.ctx.resource(api_id, _INTEGRATION, params["IntegrationId"])
        merged = {**current, **{k: v for k, v in params.items() if k != "ApiId"}}
        check_integration(merged)
        doc = integration_document(current["IntegrationId"], merged,
                                   bool(current.get("ApiGatewayManaged")))
        await self.ctx.run(self.ctx.store.replace, api_id, _INTEGRATION, doc["IntegrationId"],
                           doc)
        return doc

    async def delete_integration(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id, integration_id = params["ApiId"], params["IntegrationId"]
        await self.ctx.resource(api_id, _INTEGRATION, integration_id)
        routes = await self.ctx.run(self.ctx.store.list, api_id, _ROUTE)
        if any(r.get("Target") == f"integrations/{integration_id}" for r in routes):
            raise ConflictException(f"Integration {integration_id} is used by a route; "
                                    "delete or retarget the route first")
        await self.ctx.run(self.ctx.store.delete, api_id, _INTEGRATION, integration_id)
        return {}
