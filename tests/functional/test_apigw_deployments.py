"""Deployments and stages as API Gateway has them, over boto3 and real HTTP: an
auto-deploying stage serves the latest routes and integrations, a stage without
auto-deploy serves what its last CreateDeployment froze, and can be pointed back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.support import deploy, function_arn, unique_name
from tests.functional.test_apigw_http import allow_api_gateway, request
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

NAMED = """\
import os

def handler(event, context):
    return {"function": os.environ["AWS_LAMBDA_FUNCTION_NAME"], "route": event["routeKey"]}
"""


def _answer(server: Server, host: str, path: str) -> tuple[int, Any]:
    status, _, body = request(server, host, path)
    return status, json.loads(body) if status == 200 else status


def test_a_stage_serves_its_deployment(server: Server) -> None:
    lam, apigw = client(server), client(server, "apigatewayv2")
    one, two = unique_name("one"), unique_name("two")
    api_id = apigw.create_api(Name=unique_name("dep"), ProtocolType="HTTP")["ApiId"]
    for name in (one, two):
        deploy(lam, name, {"index.py": NAMED})
        allow_api_gateway(lam, name, api_id)
    host = f"{api_id}.execute-api.us-east-1.localhost:{server.port}"
    integration = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                           IntegrationUri=function_arn(one),
                                           PayloadFormatVersion="2.0")["IntegrationId"]
    apigw.create_route(ApiId=api_id, RouteKey="GET /hello",
                       Target=f"integrations/{integration}")
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    apigw.create_stage(ApiId=api_id, StageName="v1")
    assert _answer(server, host, "/v1/hello")[0] == 404  # not deployed yet

    first = apigw.create_deployment(ApiId=api_id, StageName="v1", Description="first")
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (first["DeploymentStatus"], first["AutoDeployed"], first["Description"]) == (
        "DEPLOYED", False, "first")
    fetched = apigw.get_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    assert fetched["DeploymentId"] == first["DeploymentId"]
    assert fetched["CreatedDate"] == first["CreatedDate"]
    assert apigw.get_stage(ApiId=api_id, StageName="v1")["DeploymentId"] == \
        first["DeploymentId"]
    assert _answer(server, host, "/v1/hello")[1]["function"] == one

    apigw.update_integration(ApiId=api_id, IntegrationId=integration,
                             IntegrationUri=function_arn(two))
    apigw.create_route(ApiId=api_id, RouteKey="GET /new", Target=f"integrations/{integration}")
    assert _answer(server, host, "/hello")[1]["function"] == two  # auto-deploy: latest
    assert _answer(server, host, "/v1/hello")[1]["function"] == one  # what was deployed
    assert _answer(server, host, "/v1/new")[0] == 404

    second = apigw.create_deployment(ApiId=api_id)  # deployed, but no stage points at it
    listed = apigw.get_deployments(ApiId=api_id)["Items"]
    assert {first["DeploymentId"], second["DeploymentId"]} <= {d["DeploymentId"]
                                                               for d in listed}
    assert _answer(server, host, "/v1/hello")[1]["function"] == one
    apigw.update_stage(ApiId=api_id, StageName="v1", DeploymentId=second["DeploymentId"])
    assert _answer(server, host, "/v1/hello")[1]["function"] == two
    assert _answer(server, host, "/v1/new")[1]["route"] == "GET /new"

    with pytest.raises(ClientError) as refused:
        apigw.delete_deployment(ApiId=api_id, DeploymentId=second["DeploymentId"])
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    apigw.delete_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    with pytest.raises(ClientError) as gone:
        apigw.get_deployment(ApiId=api_id, DeploymentId=first["DeploymentId"])
    assert gone.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_api(ApiId=api_id)
    assert _answer(server, host, "/v1/hello")[0] == 404
