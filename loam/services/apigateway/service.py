"""The ``apigatewayv2`` API: HTTP APIs, routes, integrations, stages, authorizers.

Components (each its own module): ``store.py`` (the ``apigw_*`` tables on the
node's database, SQLite or PostgreSQL), ``apis.py``, ``routes.py`` (routes and
integrations), ``stages.py`` (stages and deployments), ``authorizers.py``: the
operations boto3's ``apigatewayv2`` client calls (REST-JSON under ``/v2/``).
``definition(api_id)`` is the data plane's view of one API (``models.py``),
read by the execute-api front (``loam.http.execute_api``).
"""

from __future__ import annotations

from collections.abc import Mapping

from loam.clock import Clock
from loam.services.apigateway.apis import ApiOperations
from loam.services.apigateway.authorizers import AuthorizerOperations
from loam.services.apigateway.context import ApiContext
from loam.services.apigateway.models import (
    ApiDefinition,
    Authorizer,
    HttpApi,
    Integration,
    Route,
    Stage,
)
from loam.services.apigateway.routes import RouteOperations
from loam.services.apigateway.stages import StageOperations
from loam.services.apigateway.store import ApiStore
from loam.services.base import Handler
from loam.store.sql import Database

__all__ = ["ApiGatewayService"]


class ApiGatewayService:
    service_name = "apigatewayv2"

    def __init__(self, database: Database, clock: Clock, region: str, account_id: str,
                 base_url: str) -> None:
        self.database = database
        self.clock = clock
        self.region = region
        self.account_id = account_id
        self.base_url = base_url
        self.store = ApiStore(database)
        self.context = ApiContext(self.store, clock, region, account_id, base_url)
        self._operations: dict[str, Handler] = {
            **ApiOperations(self.context).handlers(),
            **RouteOperations(self.context).handlers(),
            **StageOperations(self.context).handlers(),
            **AuthorizerOperations(self.context).handlers(),
        }

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def start(self) -> None:
        await self.context.run(lambda: None)

    async def stop(self) -> None:
        return None

    def endpoint(self, api_id: str) -> str:
        return self.context.endpoint(api_id)

    async def definition(self, api_id: str) -> ApiDefinition | None:
        """One API's routes, integrations, stages and authorizers (None if no such API)."""
        return await self.context.run(self._read_definition, api_id)

    def _read_definition(self, api_id: str) -> ApiDefinition | None:
        doc = self.store.api(api_id)
        if doc is None:
            return None
        integrations = (Integration.of(d) for d in self.store.list(api_id, "integration"))
        stages = (Stage.of(d) for d in self.store.list(api_id, "stage"))
        authorizers = (Authorizer.of(d) for d in self.store.list(api_id, "authorizer"))
        return ApiDefinition(
            HttpApi(api_id, doc["Name"], bool(doc.get("DisableExecuteApiEndpoint"))),
            tuple(Route.of(d) for d in self.store.list(api_id, "route")),
            {i.integration_id: i for i in integrations},
            {s.name: s for s in stages},
            {a.authorizer_id: a for a in authorizers},
        )
