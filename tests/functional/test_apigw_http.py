"""Real HTTP requests through HTTP APIs: by Host (urllib and curl) and by path prefix,
payloads 1.0 and 2.0 echoed by a function and checked with powertools' parser models,
path parameters, stages, 404s, and Lambda authorizers allowing, denying and failing."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)

from tests.functional.support import ACCOUNT, REGION, deploy, function_arn, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

ECHO = """\
import json

def handler(event, context):
    if event.get("version") == "1.0":
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "multiValueHeaders": {"x-echo": ["a", "b"]}, "body": json.dumps(event),
                "isBase64Encoded": False}
    if event.get("rawPath", "").endswith("/teapot"):
        return {"statusCode": 418, "headers": {"x-kind": "teapot"}, "body": "short and stout",
                "cookies": ["a=1", "b=2"]}
    if event.get("rawPath", "").endswith("/broken"):
        raise RuntimeError("broken on purpose")
    return event
"""

AUTHORIZER = """\
def handler(event, context):
    token = event["identitySource"][0] if isinstance(event["identitySource"], list) \\
        else event["identitySource"]
    if token == "boom":
        raise ValueError("authorizer failure")
    if token == "garbage":
        return {"hello": "world"}
    if event["version"] == "1.0":
        effect = "Allow" if token == "allow" else "Deny"
        return {"principalId": "user-1", "context": {"user": token},
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect,
                     "Resource": event["methodArn"]}]}}
    return {"isAuthorized": token == "allow", "context": {"user": token, "n": 7}}
"""


@pytest.fixture(scope="module")
def api(server: Server) -> dict[str, str]:
    lam = client(server)
    apigw = client(server, "apigatewayv2")
    echo, auth = unique_name("echo"), unique_name("auth")
    deploy(lam, echo, {"index.py": ECHO})
    deploy(lam, auth, {"index.py": AUTHORIZER})
    api_id = apigw.create_api(Name=unique_name("api"), ProtocolType="HTTP")["ApiId"]
    for function in (echo, auth):
        allow_api_gateway(lam, function, api_id)

    def integration(version: str) -> str:
        made = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                        IntegrationUri=function_arn(echo),
                                        PayloadFormatVersion=version)
        return f"integrations/{made['IntegrationId']}"

    def authorizer(version: str) -> str:
        uri = (f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/"
               f"{function_arn(auth)}/invocations")
        made = apigw.create_authorizer(
            ApiId=api_id, Name=f"auth{version[0]}", AuthorizerType="REQUEST",
            AuthorizerUri=uri, AuthorizerPayloadFormatVersion=version,
            EnableSimpleResponses=version == "2.0", AuthorizerResultTtlInSeconds=0,
            IdentitySource=["$request.header.Authorization"])
        return str(made["AuthorizerId"])

    v1, v2 = integration("1.0"), integration("2.0")
    for key, target in [("GET /items/{id}", v2), ("POST /items", v2), ("ANY /v1/{proxy+}", v1),
                        ("GET /teapot", v2), ("GET /broken", v2)]:
        apigw.create_route(ApiId=api_id, RouteKey=key, Target=target)
    apigw.create_route(ApiId=api_id, RouteKey="GET /secret", Target=v2,
                       AuthorizationType="CUSTOM", AuthorizerId=authorizer("2.0"))
    apigw.create_route(ApiId=api_id, RouteKey="GET /v1secret", Target=v1,
                       AuthorizationType="CUSTOM", AuthorizerId=authorizer("1.0"))
    apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    apigw.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True,
                       StageVariables={"env": "production"})
    return {"id": api_id, "host": f"{api_id}.execute-api.{REGION}.localhost:{server.port}"}


def allow_api_gateway(lam: Any, function: str, api_id: str) -> None:
    lam.add_permission(FunctionName=function, StatementId=f"apigw-{api_id}",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*")


def request(server: Server, host: str, path: str, method: str = "GET",
            body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request to 127.0.0.1 carrying the API's Host header (*.localhost may not resolve)."""
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=body,
                                 method=method, headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def test_payload_2_0_with_path_parameters(server: Server, api: dict[str, str]) -> None:
    status, headers, body = request(server, api["host"], "/items/42?color=red&color=blue&x=1",
                                    headers={"Cookie": "c1=v1; c2=v2", "X-Custom": "yes"})
    assert status == 200, body
    assert headers["content-type"] == "application/json" and headers["apigw-requestid"]
    event = json.loads(body)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "color=red&color=blue&x=1"
    assert event["queryStringParameters"] == {"color": "red,blue", "x": "1"}
    assert event["pathParameters"] == {"id": "42"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["x-custom"] == "yes" and "cookie" not in event["headers"]
    context = event["requestContext"]
    assert context["apiId"] == api["id"] and context["stage"] == "$default"
    assert context["http"]["method"] == "GET" and context["http"]["path"] == "/items/42"
    assert context["requestId"] == headers["apigw-requestid"]
    assert event["isBase64Encoded"] is False and "body" not in event


def test_post_body_and_named_stage(server: Server, api: dict[str, str]) -> None:
    status, _, body = request(server, api["host"], "/prod/items", "POST",
                              body=b'{"name": "widget"}',
                              headers={"Content-Type": "application/json"})
    assert status == 200, body
    event = json.loads(body)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["routeKey"] == "POST /items"
    assert event["rawPath"] == "/prod/items"
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"env": "production"}
    assert event["body"] == '{"name": "widget"}' and event["isBase64Encoded"] is False


def test_payload_1_0_through_the_path_prefix(server: Server, api: dict[str, str]) -> None:
    req = urllib.request.Request(
        f"{server.url}/_loam/api/{api['id']}/v1/a/b?q=1&q=2", data=b"\x00\x01binary",
        method="PUT", headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200
        assert resp.headers.get_all("x-echo") == ["a", "b"]
        event = json.loads(resp.read())
    APIGatewayProxyEventModel.model_validate(event)
    assert event["version"] == "1.0"
    assert event["resource"] == "/v1/{proxy+}" and event["path"] == "/v1/a/b"
    assert event["httpMethod"] == "PUT"
    assert event["pathParameters"] == {"proxy": "a/b"}
    assert event["queryStringParameters"] == {"q": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["isBase64Encoded"] is True and event["body"] == "AAFiaW5hcnk="
    assert event["requestContext"]["resourcePath"] == "/v1/{proxy+}"


def test_response_mapping_and_errors_with_curl(server: Server, api: dict[str, str]) -> None:
    out = subprocess.run(
        ["curl", "-s", "-i", "-H", f"Host: {api['host']}",
         f"http://127.0.0.1:{server.port}/teapot"],
        capture_output=True, check=True, timeout=60).stdout.decode()
    head, _, text = out.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 418")
    assert "x-kind: teapot" in head and "set-cookie: a=1" in head and "set-cookie: b=2" in head
    assert text == "short and stout"
    status, headers, body = request(server, api["host"], "/nothing/here")
    assert (status, headers["content-type"], body) == (
        404, "application/json", b'{"message":"Not Found"}')
    status, _, body = request(server, api["host"], "/broken")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')
    status, _, body = request(server, "nosuchapi0.execute-api.us-east-1.localhost", "/items/1")
    assert (status, body) == (404, b'{"message":"Not Found"}')


def test_simple_authorizer(server: Server, api: dict[str, str]) -> None:
    status, _, body = request(server, api["host"], "/secret", headers={"Authorization": "allow"})
    assert status == 200, body
    event = json.loads(body)
    APIGatewayProxyEventV2Model.model_validate(event)
    assert event["requestContext"]["authorizer"] == {"lambda": {"user": "allow", "n": 7}}
    assert request(server, api["host"], "/secret", headers={"Authorization": "deny"})[::2] == (
        403, b'{"message":"Forbidden"}')
    assert request(server, api["host"], "/secret")[::2] == (401, b'{"message":"Unauthorized"}')
    assert request(server, api["host"], "/secret", headers={"Authorization": "boom"})[::2] == (
        500, b'{"message":"Internal Server Error"}')
    assert request(server, api["host"], "/secret",
                   headers={"Authorization": "garbage"})[::2] == (
        500, b'{"message":"Internal Server Error"}')


def test_policy_authorizer_with_payload_1_0(server: Server, api: dict[str, str]) -> None:
    status, _, body = request(server, api["host"], "/v1secret",
                              headers={"Authorization": "allow"})
    assert status == 200, body
    event = json.loads(body)
    APIGatewayProxyEventModel.model_validate(event)
    assert event["requestContext"]["authorizer"]["user"] == "allow"
    assert event["requestContext"]["authorizer"]["principalId"] == "user-1"
    assert request(server, api["host"], "/v1secret", headers={"Authorization": "deny"})[::2] == (
        403, b'{"message":"Forbidden"}')


def test_quick_create_endpoint_serves_the_function(server: Server, api: dict[str, str]) -> None:
    apigw = client(server, "apigatewayv2")
    lam = client(server)
    name = unique_name("quick")
    deploy(lam, name, {"index.py": "def handler(event, context):\n"
                                   "    return {'hello': event['rawPath']}\n"})
    created: dict[str, Any] = apigw.create_api(Name=name, ProtocolType="HTTP",
                                               Target=function_arn(name))
    host = created["ApiEndpoint"].removeprefix("http://")
    status, _, body = request(server, host, "/any/path")
    assert (status, body) == (500, b'{"message":"Internal Server Error"}')  # no permission
    allow_api_gateway(lam, name, created["ApiId"])
    status, _, body = request(server, host, "/any/path")
    assert (status, json.loads(body)) == (200, {"hello": "/any/path"})
