"""Running an HTTP API's Lambda functions: integrations and authorizers.

Before each invocation the function's resource policy must let
``apigateway.amazonaws.com`` invoke it from the route's source ARN
(``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}/{route path}``,
``…/{stage}/$default`` for the default route, ``…/authorizers/{id}`` for an
authorizer); API Gateway answers 500 when it may not. An integration or authorizer
with a credentials role is invoked with that role (not checked against the
resource policy; loam does not evaluate roles). The invocation is
synchronous (``RequestResponse``); a function error is a failure too.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from loam.errors import LoamError
from loam.http.apigw_authorizers import AuthorizerFailed
from loam.http.apigw_payloads import event_v1, event_v2
from loam.http.apigw_request import ApiRequest, RequestFacts
from loam.http.apigw_responses import HttpAnswer, MalformedResponse, response_v1, response_v2
from loam.services.apigateway.models import Authorizer, Integration

if TYPE_CHECKING:
    from loam.node import Node

__all__ = ["IntegrationFailed", "LambdaIntegrations", "integration_source_arn"]

PRINCIPAL = "apigateway.amazonaws.com"


class IntegrationFailed(Exception):
    """The integration could not run, failed, or answered nonsense: 500."""


def _name_and_qualifier(function_arn: str) -> tuple[str, str | None]:
    parts = function_arn.split(":")
    if len(parts) >= 7 and parts[5] == "function":
        return parts[6], parts[7] if len(parts) > 7 else None
    return function_arn, None


def integration_source_arn(facts: RequestFacts, method: str) -> str:
    prefix = f"arn:aws:execute-api:{facts.region}:{facts.account_id}:{facts.api_id}/{facts.stage}"
    if facts.route_key == "$default":
        return f"{prefix}/$default"
    return f"{prefix}/{method}/{facts.resource_path.lstrip('/')}"


class LambdaIntegrations:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def _invoke(self, function_arn: str, source_arn: str | None, payload: bytes) -> bytes:
        """The function's answer; raises ``LoamError`` or ``PermissionError``. No
        ``source_arn``: invoked with a role's credentials, not by the resource policy."""
        name, qualifier = _name_and_qualifier(function_arn)
        allowed = source_arn is None or await asyncio.to_thread(
            self.node.permissions.allows, name, qualifier, PRINCIPAL, source_arn=source_arn)
        if not allowed:
            raise PermissionError(f"{PRINCIPAL} may not invoke {function_arn} from {source_arn}")
        result = await self.node.invoker.invoke(function_arn, None, "RequestResponse", "None",
                                                payload)
        if result.function_error is not None:
            raise RuntimeError(f"{function_arn} failed ({result.function_error}): "
                               f"{result.payload[:300]!r}")
        return result.payload

    async def run(self, integration: Integration, request: ApiRequest, facts: RequestFacts,
                  method: str, authorizer: dict[str, Any] | None) -> HttpAnswer:
        version = integration.payload_format_version
        build = event_v2 if version == "2.0" else event_v1
        payload = json.dumps(build(request, facts, authorizer)).encode()
        try:
            source = None if integration.credentials_arn else integration_source_arn(facts,
                                                                                     method)
            answer = await self._invoke(integration.uri, source, payload)
            return response_v2(answer) if version == "2.0" else response_v1(answer)
        except (LoamError, PermissionError, RuntimeError, MalformedResponse) as exc:
            raise IntegrationFailed(str(exc)) from exc

    async def run_authorizer(self, authorizer: Authorizer, api_id: str, payload: bytes) -> bytes:
        settings = self.node.settings
        source = (f"arn:aws:execute-api:{settings.region}:{settings.account_id}:{api_id}/"
                  f"authorizers/{authorizer.authorizer_id}")
        try:
            return await self._invoke(authorizer.function_arn,
                                      None if authorizer.credentials_arn else source, payload)
        except (LoamError, PermissionError, RuntimeError) as exc:
            raise AuthorizerFailed(str(exc)) from exc
