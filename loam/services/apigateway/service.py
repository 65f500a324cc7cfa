"""The ``apigatewayv2`` API: HTTP APIs, routes, integrations, stages, authorizers."""

from __future__ import annotations

from collections.abc import Mapping

from loam.clock import Clock
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
        self._operations: dict[str, Handler] = {}

    @property
    def operations(self) -> Mapping[str, Handler]:
        return self._operations

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
