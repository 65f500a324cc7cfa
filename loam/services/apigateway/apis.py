"""HTTP APIs themselves: create (with quick create), read, list, update, delete.

Quick create (``Target`` and optionally ``RouteKey``) makes, as AWS does, an
``AWS_PROXY`` integration with payload format 2.0, the route (``$default``
unless ``RouteKey`` says otherwise) and the auto-deploying ``$default`` stage,
all marked ``ApiGatewayManaged``, in the one transaction that stores the API.
"""

from __future__ import annotations

from typing import Any

from loam.services.apigateway.context import ApiContext, page
from loam.services.apigateway.errors import BadRequestException
from loam.services.apigateway.models import new_id
from loam.services.apigateway.routes import (
    check_integration,
    check_route_key,
    integration_document,
    route_document,
)
from loam.services.apigateway.stages import deployment_document, stage_document
from loam.services.apigateway.store import Document
from loam.services.base import Handler

__all__ = ["ApiOperations"]

_UPDATABLE = ("Name", "Description", "Version", "DisableExecuteApiEndpoint",
              "CorsConfiguration", "RouteSelectionExpression", "ApiKeySelectionExpression",
              "DisableSchemaValidation")


class ApiOperations:
    def __init__(self, context: ApiContext) -> None:
        self.ctx = context

    def handlers(self) -> dict[str, Handler]:
        return {"CreateApi": self.create_api, "GetApi": self.get_api, "GetApis": self.get_apis,
                "UpdateApi": self.update_api, "DeleteApi": self.delete_api}

    def _output(self, doc: Document) -> dict[str, Any]:
        return {**doc, "ApiEndpoint": self.ctx.endpoint(doc["ApiId"])}

    async def create_api(self, params: dict[str, Any]) -> dict[str, Any]:
        if params["ProtocolType"] != "HTTP":
            raise BadRequestException(f"Protocol type {params['ProtocolType']} is not available "
                                      "on loam; HTTP APIs only")
        if params.get("RouteKey") is not None and params.get("Target") is None:
            raise BadRequestException("RouteKey can only be specified together with Target "
                                      "(quick create)")
        api_id = new_id(10)
        now = self.ctx.now()
        doc: Document = {
            "ApiId": api_id,
            "ApiKeySelectionExpression": params.get("ApiKeySelectionExpression")
            or "$request.header.x-api-key",
            "CreatedDate": now,
            "DisableExecuteApiEndpoint": bool(params.get("DisableExecuteApiEndpoint", False)),
            "IpAddressType": params.get("IpAddressType") or "ipv4",
            "Name": params["Name"],
            "ProtocolType": "HTTP",
            "RouteSelectionExpression": params.get("RouteSelectionExpression")
            or "$request.method $request.path",
            "Tags": params.get("Tags") or {},
        }
        for member in ("Description", "Version", "CorsConfiguration"):
            if params.get(member) is not None:
                doc[member] = params[member]
        children = self._quick_create(params, now) if params.get("Target") else []
        await self.ctx.run(self.ctx.store.put_api, api_id, self.ctx.clock.time(), doc, children)
        return self._output(doc)

    def _quick_create(self, params: dict[str, Any],
                      now: str) -> list[tuple[str, str, str, Document]]:
        integration = {"IntegrationType": "AWS_PROXY", "IntegrationUri": params["Target"],
                       "PayloadFormatVersion": "2.0",
                       "CredentialsArn": params.get("CredentialsArn")}
        check_integration(integration)
        route_key = params.get("RouteKey") or "$default"
        check_route_key(route_key)
        integration_id, route_id, deployment_id = new_id(7), new_id(7), new_id(6)
        route = route_document(route_id, {"RouteKey": route_key,
                                          "Target": f"integrations/{integration_id}"}, True)
        stage = stage_document({"StageName": "$default", "AutoDeploy": True}, now,
                               deployment_id, managed=True)
        return [
            ("integration", integration_id, integration_id,
             integration_document(integration_id, integration, managed=True)),
            ("route", route_id, route_key, route),
            ("deployment", deployment_id, deployment_id,
             deployment_document(deployment_id, now, None, auto=True)),
            ("stage", "$default", "$default", stage),
        ]

    async def get_api(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._output(await self.ctx.api(params["ApiId"]))

    async def get_apis(self, params: dict[str, Any]) -> dict[str, Any]:
        docs = await self.ctx.run(self.ctx.store.apis)
        return page([self._output(doc) for doc in docs], params)

    async def update_api(self, params: dict[str, Any]) -> dict[str, Any]:
        current = await self.ctx.api(params["ApiId"])
        if params.get("Target") is not None or params.get("RouteKey") is not None:
            raise BadRequestException("Updating a quick-created API's Target or RouteKey is "
                                      "not available on loam; update its integration or route")
        changes = {m: params[m] for m in _UPDATABLE if params.get(m) is not None}
        doc = {**current, **changes}
        await self.ctx.run(self.ctx.store.put_api, doc["ApiId"], self.ctx.clock.time(), doc)
        return self._output(doc)

    async def delete_api(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        await self.ctx.run(self.ctx.store.delete_api, params["ApiId"])
        return {}
