"""The execute-api front serves HTTP APIs from memory: an unchanged API costs no store
read, and every apigatewayv2 write (API, route, integration, stage, authorizer,
deployment) shows on the next request. Driven through the front itself, over a real
SQLite database that counts its reads, with a fake invoker standing in for functions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from loam.clock import FakeClock
from loam.http.execute_api import ExecuteApiFront
from loam.services.apigateway import ApiGatewayService
from loam.store.sql import Database, open_database

REGION, ACCOUNT = "us-east-1", "123456789012"
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
AUTH_URI = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{FN}auth/"
            "invocations")


class CountingDatabase:
    """The real database, counting every statement and transaction it is asked for."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._database, name)
        if name in ("execute", "rowcount", "transaction"):
            self.calls += 1
        return attr


@dataclass
class Result:
    payload: bytes
    function_error: str | None = None


class FakeInvoker:
    """Each function answers its own name and the event it got (the authorizer: deny)."""

    def __init__(self) -> None:
        self.invoked: list[str] = []

    async def invoke(self, arn: str, qualifier: str | None, kind: str, log: str,
                     payload: bytes) -> Result:
        name = arn.rsplit(":", 1)[-1]
        self.invoked.append(name)
        if name == "auth":
            return Result(json.dumps({"isAuthorized": False}).encode())
        event = json.loads(payload)
        return Result(json.dumps({"function": name, "route": event["routeKey"],
                                  "stage": event["requestContext"]["stage"],
                                  "vars": event.get("stageVariables")}).encode())


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.database = CountingDatabase(open_database("sqlite", tmp_path))
        self.clock = FakeClock()
        self.service = ApiGatewayService(self.database, self.clock, REGION,  # type: ignore[arg-type]
                                         ACCOUNT, "http://127.0.0.1:9000")
        self.invoker = FakeInvoker()
        node = SimpleNamespace(
            apigateway=self.service, clock=self.clock, invoker=self.invoker,
            settings=SimpleNamespace(region=REGION, account_id=ACCOUNT),
            permissions=SimpleNamespace(allows=lambda *a, **k: True))
        self.front = ExecuteApiFront(node)  # type: ignore[arg-type]
        self.loop = asyncio.new_event_loop()

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.loop.run_until_complete(self.service.operations[operation](params))

    def get(self, api_id: str, path: str) -> tuple[int, Any]:
        scope = {"type": "http", "method": "GET", "path": f"/_loam/api/{api_id}{path}",
                 "raw_path": f"/_loam/api/{api_id}{path}".encode(), "query_string": b"",
                 "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1)}
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        assert self.loop.run_until_complete(self.front.handle(scope, receive, send))
        body = sent[1]["body"]
        return sent[0]["status"], json.loads(body) if body else None

    def close(self) -> None:
        self.loop.close()
        self.database.close()


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.close()


def _integration(h: Harness, api_id: str, function: str) -> str:
    made = h("CreateIntegration", ApiId=api_id, IntegrationType="AWS_PROXY",
             IntegrationUri=FN + function, PayloadFormatVersion="2.0")
    return str(made["IntegrationId"])


def test_an_unchanged_api_is_served_without_reading_the_store(h: Harness) -> None:
    api_id = h("CreateApi", Name="hot", ProtocolType="HTTP", Target=FN + "a",
               RouteKey="GET /items/{id}")["ApiId"]
    assert h.get(api_id, "/items/1") == (200, {"function": "a", "route": "GET /items/{id}",
                                               "stage": "$default", "vars": None})
    before = h.database.calls
    for n in range(20):
        assert h.get(api_id, f"/items/{n}")[0] == 200
        assert h.get(api_id, "/nothing")[0] == 404
        assert h.get("unknown123", "/items/1")[0] == 404
    assert h.get("unknown123", "/")[0] == 404
    unknown_reads = h.database.calls - before
    assert unknown_reads <= 2  # the unknown id was read once, then remembered
    before = h.database.calls
    for n in range(20):
        assert h.get(api_id, f"/items/{n}")[0] == 200
    assert h.database.calls == before
    h("CreateRoute", ApiId=api_id, RouteKey="GET /new",
      Target=f"integrations/{_integration(h, api_id, 'b')}")
    before = h.database.calls
    assert h.get(api_id, "/new")[1]["function"] == "b"
    assert h.database.calls > before  # a write: read once more
    before = h.database.calls
    assert h.get(api_id, "/new")[0] == 200
    assert h.database.calls == before


def test_every_kind_of_write_shows_on_the_next_request(h: Harness) -> None:
    api_id = h("CreateApi", Name="w", ProtocolType="HTTP")["ApiId"]
    assert h.get(api_id, "/x")[0] == 404
    first = _integration(h, api_id, "a")
    route = h("CreateRoute", ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{first}")
    assert h.get(api_id, "/x")[0] == 404  # no stage yet
    h("CreateStage", ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert h.get(api_id, "/x")[1]["function"] == "a"
    h("UpdateIntegration", ApiId=api_id, IntegrationId=first, IntegrationUri=FN + "b")
    assert h.get(api_id, "/x")[1]["function"] == "b"
    second = _integration(h, api_id, "c")
    h("UpdateRoute", ApiId=api_id, RouteId=route["RouteId"], Target=f"integrations/{second}")
    assert h.get(api_id, "/x")[1]["function"] == "c"
    h("CreateStage", ApiId=api_id, StageName="prod", AutoDeploy=True,
      StageVariables={"env": "one"})
    assert h.get(api_id, "/prod/x")[1]["vars"] == {"env": "one"}
    h("UpdateStage", ApiId=api_id, StageName="prod", StageVariables={"env": "two"})
    assert h.get(api_id, "/prod/x")[1]["vars"] == {"env": "two"}
    h("DeleteStage", ApiId=api_id, StageName="prod")
    assert h.get(api_id, "/prod/x")[0] == 404
    authorizer = h("CreateAuthorizer", ApiId=api_id, Name="deny", AuthorizerType="REQUEST",
                   AuthorizerUri=AUTH_URI, AuthorizerPayloadFormatVersion="2.0",
                   EnableSimpleResponses=True, AuthorizerResultTtlInSeconds=0)
    secret = h("CreateRoute", ApiId=api_id, RouteKey="GET /secret",
               Target=f"integrations/{second}")
    assert h.get(api_id, "/secret")[0] == 200
    h("UpdateRoute", ApiId=api_id, RouteId=secret["RouteId"], AuthorizationType="CUSTOM",
      AuthorizerId=authorizer["AuthorizerId"])
    assert h.get(api_id, "/secret")[0] == 403 and h.invoker.invoked[-1] == "auth"
    h("DeleteRoute", ApiId=api_id, RouteId=secret["RouteId"])
    h("DeleteAuthorizer", ApiId=api_id, AuthorizerId=authorizer["AuthorizerId"])
    assert h.get(api_id, "/secret")[0] == 404
    h("DeleteRoute", ApiId=api_id, RouteId=route["RouteId"])
    assert h.get(api_id, "/x")[0] == 404
    h("UpdateApi", ApiId=api_id, DisableExecuteApiEndpoint=True)
    assert h.get(api_id, "/x")[0] == 403
    h("DeleteApi", ApiId=api_id)
    assert h.get(api_id, "/x")[0] == 404


def test_a_stage_without_auto_deploy_serves_its_deployment(h: Harness) -> None:
    api_id = h("CreateApi", Name="d", ProtocolType="HTTP")["ApiId"]
    old = _integration(h, api_id, "old")
    h("CreateRoute", ApiId=api_id, RouteKey="GET /x", Target=f"integrations/{old}")
    h("CreateStage", ApiId=api_id, StageName="live", AutoDeploy=True)
    h("CreateStage", ApiId=api_id, StageName="v1")
    assert h.get(api_id, "/v1/x")[0] == 404  # never deployed
    first = h("CreateDeployment", ApiId=api_id, StageName="v1", Description="first")
    assert first["AutoDeployed"] is False and first["DeploymentStatus"] == "DEPLOYED"
    assert h.get(api_id, "/v1/x")[1]["function"] == "old"
    h("UpdateIntegration", ApiId=api_id, IntegrationId=old, IntegrationUri=FN + "new")
    h("CreateRoute", ApiId=api_id, RouteKey="GET /y", Target=f"integrations/{old}")
    assert h.get(api_id, "/live/x")[1]["function"] == "new"  # auto-deploy: the latest
    assert h.get(api_id, "/v1/x")[1]["function"] == "old"  # the snapshot
    assert h.get(api_id, "/v1/y")[0] == 404
    h("CreateDeployment", ApiId=api_id, StageName="v1")
    assert h.get(api_id, "/v1/x")[1]["function"] == "new"
    assert h.get(api_id, "/v1/y")[0] == 200
    h("UpdateStage", ApiId=api_id, StageName="v1", DeploymentId=first["DeploymentId"])
    assert h.get(api_id, "/v1/x")[1]["function"] == "old"  # rolled back
    assert h.get(api_id, "/v1/y")[0] == 404
