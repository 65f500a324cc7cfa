"""The apigatewayv2 control plane over SQLite and PostgreSQL: durable documents, quick
create's resources, the data plane's definition, AWS's refusals."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
import pytest

from loam.clock import FakeClock
from loam.services.apigateway import ApiGatewayService
from loam.services.apigateway.cache import SHARED_STORE_TTL_S
from loam.services.apigateway.errors import (
    BadRequestException,
    ConflictException,
    NotFoundException,
)
from loam.store.sql import Database, open_database

T = TypeVar("T")
FN = "arn:aws:lambda:us-east-1:123456789012:function:f"
PG_URL = os.environ.get("LOAM_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro
    return asyncio.run(main())


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield "sqlite"
        return
    schema = f"loam_apigw_{uuid.uuid4().hex}"
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        if os.environ.get("LOAM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in PG_URL else "?"
        yield f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}', safe='')}"
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Api:
    def __init__(self, url: str, tmp_path: Path) -> None:
        self.databases: list[Database] = []
        self.url, self.tmp_path = url, tmp_path
        self.clock = FakeClock()
        self.service = self.open()

    def open(self) -> ApiGatewayService:
        database = open_database(self.url, self.tmp_path)
        self.databases.append(database)
        return ApiGatewayService(database, self.clock, "us-east-1", "123456789012",
                                 "http://127.0.0.1:9000")

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return run(self.service.operations[operation](params))


@pytest.fixture
def api(database_url: str, tmp_path: Path) -> Iterator[Api]:
    made = Api(database_url, tmp_path)
    yield made
    for database in made.databases:
        database.close()


def test_quick_create_is_durable_and_defines_the_api(api: Api) -> None:
    created = api("CreateApi", Name="q", ProtocolType="HTTP", Target=FN,
                  RouteKey="ANY /{proxy+}")
    api_id = created["ApiId"]
    assert created["ApiEndpoint"] == f"http://{api_id}.execute-api.us-east-1.localhost:9000"
    assert created["CreatedDate"] == "2023-11-14T22:13:20Z"
    reopened = api.open()  # another node on the same database
    definition = run(reopened.definition(api_id))
    assert definition is not None
    assert [r.route_key for r in definition.routes] == ["ANY /{proxy+}"]
    (integration,) = definition.integrations.values()
    assert (integration.uri, integration.payload_format_version) == (FN, "2.0")
    assert definition.routes[0].integration_id == integration.integration_id
    assert definition.stages["$default"].auto_deploy and definition.stages["$default"].deployed


def test_delete_api_takes_its_resources(api: Api) -> None:
    api_id = api("CreateApi", Name="d", ProtocolType="HTTP", Target=FN)["ApiId"]
    api("DeleteApi", ApiId=api_id)
    assert run(api.service.definition(api_id)) is None
    assert run(api.service.context.run(api.service.store.list, api_id, "route")) == []
    with pytest.raises(NotFoundException, match=f"Invalid API identifier specified "
                                                f"123456789012:{api_id}"):
        api("GetApi", ApiId=api_id)


def test_refusals(api: Api) -> None:
    with pytest.raises(BadRequestException):
        api("CreateApi", Name="w", ProtocolType="WEBSOCKET")
    api_id = api("CreateApi", Name="r", ProtocolType="HTTP")["ApiId"]
    api("CreateRoute", ApiId=api_id, RouteKey="GET /a/{id}")
    with pytest.raises(ConflictException):
        api("CreateRoute", ApiId=api_id, RouteKey="GET /a/{id}")
    for key in ("GET a", "GET /{proxy+}/x", "BREW /pot"):
        with pytest.raises(BadRequestException):
            api("CreateRoute", ApiId=api_id, RouteKey=key)
    with pytest.raises(BadRequestException):
        api("CreateRoute", ApiId=api_id, RouteKey="GET /b", Target="integrations/nope123")
    with pytest.raises(BadRequestException):
        api("CreateAuthorizer", ApiId=api_id, Name="a", AuthorizerType="REQUEST",
            AuthorizerUri=FN, AuthorizerPayloadFormatVersion="2.0",
            IdentitySource=["$request.header.Authorization"])
    with pytest.raises(BadRequestException):
        api("CreateAuthorizer", ApiId=api_id, Name="a", AuthorizerType="REQUEST",
            AuthorizerUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                          f"{FN}/invocations",
            AuthorizerPayloadFormatVersion="1.0", EnableSimpleResponses=True,
            IdentitySource=["$request.header.Authorization"])
    with pytest.raises(NotFoundException, match="Invalid Stage identifier"):
        api("GetStage", ApiId=api_id, StageName="nope")


def test_paging(api: Api) -> None:
    api_id = api("CreateApi", Name="p", ProtocolType="HTTP")["ApiId"]
    for n in range(5):
        api("CreateRoute", ApiId=api_id, RouteKey=f"GET /r{n}")
        api.clock.advance(0.001)
    first = api("GetRoutes", ApiId=api_id, MaxResults="2")
    second = api("GetRoutes", ApiId=api_id, MaxResults="2", NextToken=first["NextToken"])
    third = api("GetRoutes", ApiId=api_id, MaxResults="2", NextToken=second["NextToken"])
    keys = [r["RouteKey"] for page in (first, second, third) for r in page["Items"]]
    assert keys == [f"GET /r{n}" for n in range(5)] and "NextToken" not in third


def test_another_nodes_write_shows_within_the_shared_store_ttl(api: Api) -> None:
    if api.url == "sqlite":
        pytest.skip("SQLite belongs to one node")
    api_id = api("CreateApi", Name="n", ProtocolType="HTTP", Target=FN)["ApiId"]
    first = run(api.service.definition(api_id))
    assert first is not None and [r.route_key for r in first.routes] == ["$default"]
    other = api.open()  # a second node on the same PostgreSQL
    run(other.operations["CreateRoute"]({"ApiId": api_id, "RouteKey": "GET /b"}))
    assert run(api.service.definition(api_id)) is first  # still trusted
    api.clock.advance(SHARED_STORE_TTL_S)
    again = run(api.service.definition(api_id))
    assert again is not None and {r.route_key for r in again.routes} == {"$default", "GET /b"}
