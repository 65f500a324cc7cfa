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
from loam.services.apigateway.cache import SHARED_STORE_TTL_S, DefinitionCache
from loam.services.apigateway.context import ApiContext
from loam.services.apigateway.models import ApiDefinition, Deployed, HttpApi, Stage
from loam.services.apigateway.routes import RouteOperations
from loam.services.apigateway.stages import StageOperations
from loam.services.apigateway.store import SNAPSHOT, ApiStore
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
        # SQLite belongs to this node, which sees every write; PostgreSQL may be shared.
        self.cache = DefinitionCache(
            clock, None if database.dialect == "sqlite" else SHARED_STORE_TTL_S)
        self.store = ApiStore(database, on_change=self.cache.invalidate)
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
        """One API's routes, integrations, stages, authorizers and the snapshots its
        stages serve (None if no such API): from memory while the API is unchanged."""
        cached = self.cache.get(api_id)
        if cached is not None:
            return cached.definition
        token = self.cache.token()
        definition = await self.context.run(self._read_definition, api_id)
        self.cache.put(api_id, definition, token)
        return definition

    def _read_definition(self, api_id: str) -> ApiDefinition | None:
        doc = self.store.api(api_id)
        if doc is None:
            return None
        kinds = self.store.resources(api_id, ("route", "integration", "authorizer", "stage"))
        stages = {s.name: s for s in map(Stage.of, kinds["stage"])}
        snapshots: dict[str, Deployed] = {}
        for stage in stages.values():
            deployment = stage.deployment_id
            if stage.auto_deploy or deployment is None or deployment in snapshots:
                continue
            frozen = self.store.get(api_id, SNAPSHOT, deployment)
            if frozen is not None:
                snapshots[deployment] = Deployed.of(frozen["route"], frozen["integration"],
                                                    frozen["authorizer"])
        return ApiDefinition(
            HttpApi(api_id, doc["Name"], bool(doc.get("DisableExecuteApiEndpoint"))),
            Deployed.of(kinds["route"], kinds["integration"], kinds["authorizer"]),
            stages, snapshots)
