"""HTTP APIs (API Gateway v2): ``<api-id>.execute-api.<region>.localhost`` and a path prefix.

A request is this front's when its Host is ``<api-id>.execute-api.<region>.localhost``
(any port) or its path starts ``/_loam/api/<api-id>/``; the rest of the path is
what API Gateway would see. The front selects the stage and route
(``apigw_routing``) from the API's definition and route tables, both kept in
memory while the API is unchanged (no store read per request), runs the
route's Lambda authorizer (``apigw_authorizers``),
checks the function's resource policy for ``apigateway.amazonaws.com``,
invokes the integration synchronously with payload 1.0 or 2.0
(``apigw_payloads``) and maps the answer (``apigw_responses``). API Gateway's
own answers are JSON ``{"message": …}``: 404 Not Found, 401 Unauthorized,
403 Forbidden, 413 Request Entity Too Large, 500 Internal Server Error.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from typing import TYPE_CHECKING
from urllib.parse import unquote

from loam.http.apigw_authorizers import (
    AuthorizerFailed,
    Forbidden,
    LambdaAuthorizers,
    Unauthorized,
    authorizer_context,
)
from loam.http.apigw_invoke import IntegrationFailed, LambdaIntegrations
from loam.http.apigw_request import ApiRequest, RequestFacts
from loam.http.apigw_responses import HttpAnswer, error_answer
from loam.http.apigw_routing import RouteTable, select_stage
from loam.http.front import Receive, Scope, Send
from loam.services.apigateway.models import ApiDefinition, Deployed

if TYPE_CHECKING:
    from loam.node import Node

__all__ = ["ExecuteApiFront"]

log = logging.getLogger("loam.apigateway")

PATH_PREFIX = "/_loam/api/"
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit
_TABLE_LIMIT = 4096
_HOST = re.compile(r"^([a-z0-9]+)\.execute-api\.([a-z0-9-]+)\.localhost(?::\d+)?$")
_PREFIXED = re.compile(r"^/_loam/api/([a-z0-9]+)(/.*)?$")


class _TooLarge(Exception):
    pass


class ExecuteApiFront:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.integrations = LambdaIntegrations(node)
        self.authorizers = LambdaAuthorizers(node.clock, self.integrations.run_authorizer)
        # Per API: the definition its tables were compiled from, and a table per
        # deployed routes (by identity: a new definition compiles afresh).
        self._tables: dict[str, tuple[ApiDefinition, dict[int, RouteTable]]] = {}

    def _route_table(self, definition: ApiDefinition, deployed: Deployed) -> RouteTable:
        api_id = definition.api.api_id
        entry = self._tables.get(api_id)
        if entry is None or entry[0] is not definition:
            if entry is None and len(self._tables) >= _TABLE_LIMIT:
                self._tables.clear()
            entry = self._tables[api_id] = (definition, {})
        table = entry[1].get(id(deployed))
        if table is None:
            table = entry[1][id(deployed)] = RouteTable(deployed.routes)
        return table

    def wants(self, path: str, host: bytes) -> bool:
        return b".execute-api." in host or path.startswith(PATH_PREFIX)

    def _target(self, scope: Scope) -> tuple[str, str] | None:
        """(api id, raw path as API Gateway sees it) if the request is an HTTP API's."""
        raw = scope.get("raw_path") or scope["path"].encode()
        raw_path = raw.decode("latin-1").split("?")[0]
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        by_host = _HOST.match(host.lower())
        if by_host and by_host.group(2) == self.node.settings.region:
            return by_host.group(1), raw_path
        prefixed = _PREFIXED.match(raw_path)
        if prefixed:
            return prefixed.group(1), prefixed.group(2) or "/"
        return None

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        target = self._target(scope)
        if target is None:
            return False
        api_id, raw_path = target
        request_id = base64.b64encode(secrets.token_bytes(11)).decode()
        try:
            body = await _read_body(receive)
        except _TooLarge:
            answer = error_answer(413, "Request Entity Too Large")
        else:
            request = _request(scope, raw_path, body)
            try:
                answer = await self._serve(api_id, request, request_id)
            except Exception:  # the boundary: log it, answer as API Gateway does
                log.exception("HTTP API %s: request %s failed", api_id, request_id)
                answer = error_answer(500, "Internal Server Error")
        await _send(send, answer, request_id)
        return True

    async def _serve(self, api_id: str, request: ApiRequest, request_id: str) -> HttpAnswer:
        definition = await self.node.apigateway.definition(api_id)
        if definition is None:
            self._tables.pop(api_id, None)
            return error_answer(404, "Not Found")
        if definition.api.disable_execute_api_endpoint:
            return error_answer(403, "Forbidden")
        return await self._route(definition, request, request_id)

    async def _route(self, definition: ApiDefinition, request: ApiRequest,
                     request_id: str) -> HttpAnswer:
        stage_match = select_stage(definition.stages, unquote(request.raw_path))
        deployed = definition.served(stage_match.stage) if stage_match is not None else None
        if stage_match is None or deployed is None:
            return error_answer(404, "Not Found")
        matched = self._route_table(definition, deployed).match(request.method,
                                                                stage_match.path)
        if matched is None or matched.route.integration_id is None:
            return error_answer(404, "Not Found")
        integration = deployed.integrations.get(matched.route.integration_id)
        if integration is None:
            return error_answer(404, "Not Found")
        settings = self.node.settings
        facts = RequestFacts(
            settings.account_id, settings.region, definition.api.api_id,
            stage_match.stage.name, matched.route.route_key, matched.resource_path,
            request_id, self.node.clock.time(), matched.path_parameters,
            stage_match.stage.variables)
        authorizer_doc = None
        if matched.route.authorization_type == "CUSTOM":
            authorizer = deployed.authorizers.get(matched.route.authorizer_id or "")
            if authorizer is None:
                return error_answer(500, "Internal Server Error")
            route_arn = facts.route_arn(request.method, stage_match.path)
            try:
                decision = await self.authorizers.authorize(authorizer, request, facts,
                                                            route_arn)
            except Unauthorized:
                return error_answer(401, "Unauthorized")
            except Forbidden:
                return error_answer(403, "Forbidden")
            except AuthorizerFailed as exc:
                log.warning("HTTP API %s: authorizer %s failed: %s", facts.api_id,
                            authorizer.authorizer_id, exc)
                return error_answer(500, "Internal Server Error")
            authorizer_doc = authorizer_context(decision, integration.payload_format_version)
        try:
            return await self.integrations.run(integration, request, facts, request.method,
                                               authorizer_doc)
        except IntegrationFailed as exc:
            log.warning("HTTP API %s: integration %s failed: %s", facts.api_id,
                        integration.integration_id, exc)
            return error_answer(500, "Internal Server Error")


def _request(scope: Scope, raw_path: str, body: bytes) -> ApiRequest:
    headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1"))
                    for k, v in scope["headers"])
    client = scope.get("client") or ("127.0.0.1", 0)
    version = scope.get("http_version", "1.1")
    return ApiRequest(scope["method"], raw_path,
                      scope.get("query_string", b"").decode("latin-1"), headers, body,
                      str(client[0]), f"HTTP/{version}")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, answer: HttpAnswer, request_id: str) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers
               if k not in ("content-length", "transfer-encoding", "connection")]
    headers.append((b"apigw-requestid", request_id.encode()))
    headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})

