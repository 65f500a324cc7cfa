"""Lambda REQUEST authorizers of HTTP APIs.

``AuthorizerUri`` names the function the way API Gateway does
(``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations``);
simple responses need payload format 2.0; results are cached for
``AuthorizerResultTtlInSeconds`` (default 300, at most 3600, 0 disables).
"""

from __future__ import annotations

import re
from typing import Any

from loam.services.apigateway.context import ApiContext, page
from loam.services.apigateway.errors import BadRequestException, ConflictException
from loam.services.apigateway.models import function_of_authorizer_uri, new_id
from loam.services.apigateway.store import Document
from loam.services.base import Handler

__all__ = ["DEFAULT_TTL_S", "AuthorizerOperations"]

DEFAULT_TTL_S = 300
MAX_TTL_S = 3600
_AUTHORIZER = "authorizer"
_IDENTITY = re.compile(r"^\$(request\.(header|querystring)\.[^\s.][^\s]*|context\.[A-Za-z0-9.]+"
                       r"|stageVariables\.[A-Za-z0-9_]+)$")


def check_authorizer(params: dict[str, Any]) -> None:
    if params["AuthorizerType"] != "REQUEST":
        raise BadRequestException(f"Authorizer type {params['AuthorizerType']} is not available "
                                  "on loam; use REQUEST (a Lambda authorizer)")
    uri = params.get("AuthorizerUri")
    if not uri or function_of_authorizer_uri(uri) is None:
        raise BadRequestException("AuthorizerUri must be arn:aws:apigateway:{region}:lambda:"
                                  "path/2015-03-31/functions/{function ARN}/invocations")
    version = params.get("AuthorizerPayloadFormatVersion")
    if version not in ("1.0", "2.0"):
        raise BadRequestException("AuthorizerPayloadFormatVersion is required for a REQUEST "
                                  "authorizer of an HTTP API and must be 1.0 or 2.0")
    if params.get("EnableSimpleResponses") and version != "2.0":
        raise BadRequestException("EnableSimpleResponses requires "
                                  "AuthorizerPayloadFormatVersion 2.0")
    ttl = params.get("AuthorizerResultTtlInSeconds", DEFAULT_TTL_S)
    if not 0 <= ttl <= MAX_TTL_S:
        raise BadRequestException(f"AuthorizerResultTtlInSeconds must be between 0 and "
                                  f"{MAX_TTL_S}")
    sources = params.get("IdentitySource") or []
    for source in sources:
        if not _IDENTITY.match(source):
            raise BadRequestException(f"Invalid identity source {source}: expected "
                                      "$request.header.<name>, $request.querystring.<name>, "
                                      "$context.<name> or $stageVariables.<name>")
    if ttl > 0 and not sources:
        raise BadRequestException("IdentitySource is required when authorizer caching is "
                                  "enabled")


def authorizer_document(authorizer_id: str, params: dict[str, Any]) -> Document:
    doc: Document = {
        "AuthorizerId": authorizer_id,
        "AuthorizerPayloadFormatVersion": params["AuthorizerPayloadFormatVersion"],
        "AuthorizerResultTtlInSeconds": params.get("AuthorizerResultTtlInSeconds",
                                                   DEFAULT_TTL_S),
        "AuthorizerType": params["AuthorizerType"],
        "AuthorizerUri": params["AuthorizerUri"],
        "EnableSimpleResponses": bool(params.get("EnableSimpleResponses", False)),
        "IdentitySource": list(params.get("IdentitySource") or []),
        "Name": params["Name"],
    }
    if params.get("AuthorizerCredentialsArn") is not None:
        doc["AuthorizerCredentialsArn"] = params["AuthorizerCredentialsArn"]
    return doc


class AuthorizerOperations:
    def __init__(self, context: ApiContext) -> None:
        self.ctx = context

    def handlers(self) -> dict[str, Handler]:
        return {"CreateAuthorizer": self.create, "GetAuthorizer": self.get,
                "GetAuthorizers": self.list, "UpdateAuthorizer": self.update,
                "DeleteAuthorizer": self.delete}

    async def create(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        await self.ctx.api(api_id)
        check_authorizer(params)
        doc = authorizer_document(new_id(6), params)
        await self.ctx.run(self.ctx.store.insert, api_id, _AUTHORIZER, doc["AuthorizerId"],
                           doc["AuthorizerId"], self.ctx.clock.time(), doc)
        return doc

    async def get(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.ctx.resource(params["ApiId"], _AUTHORIZER, params["AuthorizerId"])

    async def list(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        return page(await self.ctx.run(self.ctx.store.list, params["ApiId"], _AUTHORIZER),
                    params)

    async def update(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        current = await self.ctx.resource(api_id, _AUTHORIZER, params["AuthorizerId"])
        merged = {**current, **{k: v for k, v in params.items() if k != "ApiId"}}
        check_authorizer(merged)
        doc = authorizer_document(current["AuthorizerId"], merged)
        await self.ctx.run(self.ctx.store.replace, api_id, _AUTHORIZER, doc["AuthorizerId"], doc)
        return doc

    async def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id, authorizer_id = params["ApiId"], params["AuthorizerId"]
        await self.ctx.resource(api_id, _AUTHORIZER, authorizer_id)
        routes = await self.ctx.run(self.ctx.store.list, api_id, "route")
        if any(r.get("AuthorizerId") == authorizer_id for r in routes):
            raise ConflictException(f"Authorizer {authorizer_id} is used by a route")
        await self.ctx.run(self.ctx.store.delete, api_id, _AUTHORIZER, authorizer_id)
        return {}
