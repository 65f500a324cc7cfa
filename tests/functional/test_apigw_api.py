"""The apigatewayv2 API over boto3: APIs, quick create, routes, integrations, stages,
deployments and authorizers round trip, and API Gateway's refusals."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.support import ACCOUNT, REGION, function_arn, unique_name
from tests.helpers import Server, client

FN = function_arn("apigw-target")
AUTHORIZER_URI = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
                  f"{function_arn('apigw-authorizer')}/invocations")


@pytest.fixture(scope="module")
def apigw(server: Server) -> Any:
    return client(server, "apigatewayv2")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    error = exc.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_create_get_list_update_delete(apigw: Any, server: Server) -> None:
    name = unique_name("api")
    created = apigw.create_api(Name=name, ProtocolType="HTTP", Description="first")
    api_id = created["ApiId"]
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)
    assert created["ApiEndpoint"] == f"http://{api_id}.execute-api.{REGION}.localhost:{server.port}"
    assert created["ProtocolType"] == "HTTP"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert created["DisableExecuteApiEndpoint"] is False
    assert created["CreatedDate"].year >= 2024

    got = apigw.get_api(ApiId=api_id)
    assert {k: got[k] for k in ("ApiId", "Name", "Description", "ApiEndpoint")} == {
        "ApiId": api_id, "Name": name, "Description": "first",
        "ApiEndpoint": created["ApiEndpoint"]}
    assert api_id in [item["ApiId"] for item in apigw.get_apis()["Items"]]

    updated = apigw.update_api(ApiId=api_id, Description="second")
    assert updated["Description"] == "second" and updated["Name"] == name

    apigw.delete_api(ApiId=api_id)
    with pytest.raises(ClientError) as exc:
        apigw.get_api(ApiId=api_id)
    assert _code(exc) == ("NotFoundException", 404)
    assert exc.value.response["Error"]["Message"] == \
        f"Invalid API identifier specified {ACCOUNT}:{api_id}"


def test_quick_create_makes_integration_route_and_default_stage(apigw: Any) -> None:
    api = apigw.create_api(Name=unique_name("quick"), ProtocolType="HTTP", Target=FN,
                           RouteKey="GET /hello")
    api_id = api["ApiId"]
    integrations = apigw.get_integrations(ApiId=api_id)["Items"]
    assert len(integrations) == 1
    integration = integrations[0]
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == FN
    assert integration["PayloadFormatVersion"] == "2.0"
    assert integration["ApiGatewayManaged"] is True
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    assert [(r["RouteKey"], r["Target"]) for r in routes] == [
        ("GET /hello", f"integrations/{integration['IntegrationId']}")]
    stage = apigw.get_stage(ApiId=api_id, StageName="$default")
    assert stage["AutoDeploy"] is True and stage["ApiGatewayManaged"] is True
    assert stage["LastDeploymentStatusMessage"] == (
        f"Successfully deployed stage with deployment ID '{stage['DeploymentId']}'")

    default = apigw.create_api(Name=unique_name("quick"), ProtocolType="HTTP", Target=FN)
    keys = [r["RouteKey"] for r in apigw.get_routes(ApiId=default["ApiId"])["Items"]]
    assert keys == ["$default"]


def test_routes_integrations_stages_authorizers(apigw: Any) -> None:
    api_id = apigw.create_api(Name=unique_name("api"), ProtocolType="HTTP")["ApiId"]
    integration = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                           IntegrationUri=FN, PayloadFormatVersion="1.0")
    assert re.fullmatch(r"[a-z0-9]{7}", integration["IntegrationId"])
    assert integration["TimeoutInMillis"] == 30000
    assert apigw.get_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])[
        "PayloadFormatVersion"] == "1.0"
    authorizer = apigw.create_authorizer(
        ApiId=api_id, Name="auth", AuthorizerType="REQUEST", AuthorizerUri=AUTHORIZER_URI,
        AuthorizerPayloadFormatVersion="2.0", EnableSimpleResponses=True,
        IdentitySource=["$request.header.Authorization"])
    assert authorizer["AuthorizerResultTtlInSeconds"] == 300
    assert apigw.get_authorizers(ApiId=api_id)["Items"][0]["AuthorizerId"] == \
        authorizer["AuthorizerId"]
    target = f"integrations/{integration['IntegrationId']}"
    route = apigw.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=target,
                               AuthorizationType="CUSTOM",
                               AuthorizerId=authorizer["AuthorizerId"])
    assert apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])["AuthorizerId"] == \
        authorizer["AuthorizerId"]
    apigw.create_route(ApiId=api_id, RouteKey="ANY /{proxy+}", Target=target)
    assert len(apigw.get_routes(ApiId=api_id)["Items"]) == 2

    stage = apigw.create_stage(ApiId=api_id, StageName="prod", StageVariables={"env": "p"})
    assert stage["StageVariables"] == {"env": "p"} and "DeploymentId" not in stage
    deployment = apigw.create_deployment(ApiId=api_id, StageName="prod")
    assert deployment["DeploymentStatus"] == "DEPLOYED"
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == \
        deployment["DeploymentId"]
    assert [s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]] == ["prod"]

    apigw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    with pytest.raises(ClientError) as exc:
        apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])
    assert _code(exc) == ("NotFoundException", 404)


def test_refusals(apigw: Any) -> None:
    api_id = apigw.create_api(Name=unique_name("api"), ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as exc:
        apigw.create_route(ApiId=api_id, RouteKey="FETCH /x")
    assert _code(exc) == ("BadRequestException", 400)
    apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    with pytest.raises(ClientError) as exc:
        apigw.create_route(ApiId=api_id, RouteKey="GET /x")
    assert _code(exc) == ("ConflictException", 409)
    apigw.create_stage(ApiId=api_id, StageName="dev")
    with pytest.raises(ClientError) as exc:
        apigw.create_stage(ApiId=api_id, StageName="dev")
    assert _code(exc) == ("ConflictException", 409)
    with pytest.raises(ClientError) as exc:
        apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FN)
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        apigw.create_route(ApiId=api_id, RouteKey="GET /y", AuthorizationType="CUSTOM")
    assert _code(exc) == ("BadRequestException", 400)
    with pytest.raises(ClientError) as exc:
        apigw.get_routes(ApiId="nosuchapi0")
    assert _code(exc) == ("NotFoundException", 404)


AWS_CLI = Path("/usr/bin/aws")


@pytest.mark.skipif(not AWS_CLI.exists(), reason="/usr/bin/aws is not installed")
def test_aws_cli_flow(server: Server, tmp_path: Path) -> None:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_PAGER="")

    def aws(*args: str) -> Any:
        done = subprocess.run([str(AWS_CLI), "--endpoint-url", server.url, "--output", "json",
                               "apigatewayv2", *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    api = aws("create-api", "--name", unique_name("cli"), "--protocol-type", "HTTP",
              "--target", FN)
    api_id = api["ApiId"]
    assert api["ApiEndpoint"].startswith(f"http://{api_id}.execute-api.")
    integration = aws("create-integration", "--api-id", api_id, "--integration-type",
                      "AWS_PROXY", "--integration-uri", FN, "--payload-format-version", "1.0")
    aws("create-route", "--api-id", api_id, "--route-key", "GET /cli/{id}",
        "--target", f"integrations/{integration['IntegrationId']}")
    aws("create-stage", "--api-id", api_id, "--stage-name", "test")
    deployment = aws("create-deployment", "--api-id", api_id, "--stage-name", "test")
    stage = aws("get-stage", "--api-id", api_id, "--stage-name", "test")
    assert stage["DeploymentId"] == deployment["DeploymentId"]
    keys = sorted(r["RouteKey"] for r in aws("get-routes", "--api-id", api_id)["Items"])
    assert keys == ["$default", "GET /cli/{id}"]
    aws("delete-api", "--api-id", api_id)
    assert api_id not in [a["ApiId"] for a in aws("get-apis")["Items"]]
