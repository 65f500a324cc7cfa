"""What the data plane needs of an HTTP API, as frozen models read from the documents.

``ApiDefinition`` is one API's routes, integrations, stages and authorizers at
one moment, with the snapshots its stages' deployments froze. The service
keeps it in memory until an apigatewayv2 write changes the API
(``DefinitionCache``), so a control-plane change shows on the next request
and an unchanged API costs no store read.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ApiDefinition",
    "Authorizer",
    "Deployed",
    "HttpApi",
    "Integration",
    "Route",
    "Stage",
    "function_of_authorizer_uri",
    "new_id",
]

_ALPHABET = string.ascii_lowercase + string.digits
_AUTHORIZER_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/2015-03-31/functions/(.+)/invocations$")


def new_id(length: int) -> str:
    """API Gateway's identifiers: lower-case letters and digits (10 for an API)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def function_of_authorizer_uri(uri: str) -> str | None:
    """The function ARN inside ``arn:aws:apigateway:{region}:lambda:path/…/invocations``."""
    matched = _AUTHORIZER_URI.match(uri)
    return matched.group(1) if matched else None


@dataclass(frozen=True)
class HttpApi:
    api_id: str
    name: str
    disable_execute_api_endpoint: bool = False


@dataclass(frozen=True)
class Route:
    route_id: str
    route_key: str
    integration_id: str | None
    authorization_type: str = "NONE"
    authorizer_id: str | None = None

    @staticmethod
    def of(doc: Mapping[str, Any]) -> Route:
        target = str(doc.get("Target") or "")
        return Route(doc["RouteId"], doc["RouteKey"],
                     target.removeprefix("integrations/") if target else None,
                     doc.get("AuthorizationType", "NONE"), doc.get("AuthorizerId"))


@dataclass(frozen=True)
class Integration:
    integration_id: str
    integration_type: str
    uri: str
    payload_format_version: str
    # A role API Gateway assumes to invoke: the function's resource policy is not asked.
    credentials_arn: str | None = None

    @staticmethod
    def of(doc: Mapping[str, Any]) -> Integration:
        return Integration(doc["IntegrationId"], doc["IntegrationType"],
                           doc.get("IntegrationUri", ""), doc.get("PayloadFormatVersion", "2.0"),
                           doc.get("CredentialsArn"))


@dataclass(frozen=True)
class Stage:
    name: str
    auto_deploy: bool
    deployed: bool
    variables: Mapping[str, str] = field(default_factory=dict)
    deployment_id: str | None = None

    @staticmethod
    def of(doc: Mapping[str, Any]) -> Stage:
        return Stage(doc["StageName"], bool(doc.get("AutoDeploy")),
                     bool(doc.get("DeploymentId")) or bool(doc.get("AutoDeploy")),
                     dict(doc.get("StageVariables") or {}), doc.get("DeploymentId"))


@dataclass(frozen=True)
class Authorizer:
    authorizer_id: str
    name: str
    function_arn: str
    payload_format_version: str
    simple_responses: bool
    identity_source: tuple[str, ...]
    ttl_seconds: int
    credentials_arn: str | None = None

    @staticmethod
    def of(doc: Mapping[str, Any]) -> Authorizer:
        return Authorizer(
            doc["AuthorizerId"], doc["Name"],
            function_of_authorizer_uri(doc.get("AuthorizerUri", "")) or "",
            doc.get("AuthorizerPayloadFormatVersion", "2.0"),
            bool(doc.get("EnableSimpleResponses")), tuple(doc.get("IdentitySource") or ()),
            int(doc.get("AuthorizerResultTtlInSeconds", 0)), doc.get("AuthorizerCredentialsArn"))


@dataclass(frozen=True)
class Deployed:
    """Routes and the integrations and authorizers they name: what a stage serves."""

    routes: tuple[Route, ...]
    integrations: Mapping[str, Integration]
    authorizers: Mapping[str, Authorizer]

    @staticmethod
    def of(routes: Iterable[Mapping[str, Any]], integrations: Iterable[Mapping[str, Any]],
           authorizers: Iterable[Mapping[str, Any]]) -> Deployed:
        return Deployed(tuple(Route.of(d) for d in routes),
                        {i.integration_id: i for i in map(Integration.of, integrations)},
                        {a.authorizer_id: a for a in map(Authorizer.of, authorizers)})


@dataclass(frozen=True)
class ApiDefinition:
    api: HttpApi
    current: Deployed
    stages: Mapping[str, Stage]
    # By deployment id: what each deployment a stage points at froze.
    snapshots: Mapping[str, Deployed] = field(default_factory=dict)

    @property
    def routes(self) -> tuple[Route, ...]:
        return self.current.routes

    @property
    def integrations(self) -> Mapping[str, Integration]:
        return self.current.integrations

    @property
    def authorizers(self) -> Mapping[str, Authorizer]:
        return self.current.authorizers

    def served(self, stage: Stage) -> Deployed | None:
        """What ``stage`` serves, as API Gateway does: an auto-deploying stage the API as
        it is now, another stage what its deployment froze (None: never deployed).
        A deployment made before snapshots were kept serves the API as it is now."""
        if stage.auto_deploy:
            return self.current
        if stage.deployment_id is None:
            return None
        return self.snapshots.get(stage.deployment_id, self.current)
