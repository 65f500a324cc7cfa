"""Function URLs over real HTTP (urllib and curl) against a real server: the event a
function receives, response mapping, binary both ways, limits, errors, CORS,
Host-based and path-prefix access, and streaming."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.functional.support import deploy, unique_name

pytestmark = pytest.mark.sandbox

ECHO_EVENT = """
import base64, json
def handler(event, context):
    if event["rawPath"] == "/fail":
        raise ValueError("boom")
    if event["rawPath"] == "/binary":
        data = base64.b64decode(event["body"]) if event["isBase64Encoded"] else b""
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(data[::-1]).decode(), "isBase64Encoded": True}
    if event["rawPath"] == "/size":
        return {"statusCode": 200, "body": str(len(event.get("body", "")))}
    if event["rawPath"] == "/plain":
        return ["not", "a", "document"]
    return {"statusCode": 201, "headers": {"x-echo": "yes"}, "cookies": ["a=1", "b=2"],
            "body": json.dumps(event)}
"""

NODE_STREAM = """
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream,
    { statusCode: 202, headers: { "content-type": "text/plain", "x-streamed": "1" } });
  stream.write("first;");
  await sleep(1500);
  stream.write("second;");
  stream.end();
});
"""


@pytest.fixture(scope="module")
def echo(lam: Any) -> dict[str, Any]:
    name = unique_name("url-echo")
    deploy(lam, name, {"index.py": ECHO_EVENT})
    config: dict[str, Any] = lam.create_function_url_config(
        FunctionName=name, AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
              "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-echo"], "MaxAge": 60})
    _allow_public(lam, name)
    return config


def _allow_public(lam: Any, name: str) -> None:
    """AWS's statement for a public URL: CreateFunctionUrlConfig adds none itself."""
    lam.add_permission(FunctionName=name, StatementId="public-url", Principal="*",
                       Action="lambda:InvokeFunctionUrl", FunctionUrlAuthType="NONE")


def _url_id(function_url: str) -> str:
    return (urlsplit(function_url).hostname or "").split(".")[0]


def _prefixed(server: Any, function_url: str, path: str) -> str:
    return f"{server.url}/_loam/url/{_url_id(function_url)}{path}"


def _call(url: str, method: str = "GET", body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, err.read()


def test_get_with_query_and_cookies(server: Any, echo: dict[str, Any]) -> None:
    from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel

    url = _prefixed(server, echo["FunctionUrl"], "/some/path?a=1&a=2&b=x%20y")
    status, headers, body = _call(url, headers={"Cookie": "c1=v1; c2=v2", "X-Multi": "one"})
    assert status == 201
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["x-echo"] == "yes"
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-RequestId"] and headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert headers["Date"]
    event = json.loads(body)
    LambdaFunctionUrlModel(**event)  # powertools accepts it as a function URL event
    assert event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"] and event["headers"]["x-multi"] == "one"
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == context["domainPrefix"] == _url_id(echo["FunctionUrl"])
    assert context["http"]["method"] == "GET" and context["http"]["sourceIp"] == "127.0.0.1"
    assert context["requestId"] == headers["x-amzn-RequestId"]
    assert "body" not in event and event["isBase64Encoded"] is False


def test_post_json_through_the_host_name(server: Any, echo: dict[str, Any]) -> None:
    host = urlsplit(echo["FunctionUrl"]).hostname or ""
    status, _, body = _call(f"{server.url}/items", "POST", b'{"k": 1}',
                            {"Host": f"{host}:{server.port}", "Content-Type": "application/json"})
    assert status == 201
    event = json.loads(body)
    assert event["body"] == '{"k": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["domainName"] == host
    assert event["rawPath"] == "/items"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_resolves_the_function_url(echo: dict[str, Any]) -> None:
    out = subprocess.run(["curl", "-s", "-i", echo["FunctionUrl"] + "hello?x=1"],
                         capture_output=True, timeout=60, check=True).stdout
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201")
    assert json.loads(body)["rawPath"] == "/hello"


def test_binary_round_trip_and_a_1_mb_body(server: Any, echo: dict[str, Any]) -> None:
    data = bytes(range(256)) * 16
    status, headers, body = _call(_prefixed(server, echo["FunctionUrl"], "/binary"), "POST",
                                  data, {"Content-Type": "application/octet-stream"})
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    assert body == data[::-1]
    big = b"x" * (1 << 20)
    status, _, body = _call(_prefixed(server, echo["FunctionUrl"], "/size"), "POST", big,
                            {"Content-Type": "text/plain"})
    assert (status, body) == (200, str(1 << 20).encode())


def test_limits_and_errors(server: Any, echo: dict[str, Any]) -> None:
    url = echo["FunctionUrl"]
    status, _, body = _call(_prefixed(server, url, "/size"), "POST", b"x" * 6_291_457,
                            {"Content-Type": "text/plain"})
    assert status == 413
    assert json.loads(body) == {"Message": "Request must be smaller than 6291456 bytes for "
                                           "the InvokeFunction operation"}
    status, _, body = _call(_prefixed(server, url, "/fail"))
    assert (status, body) == (502, b"Internal Server Error")
    status, headers, body = _call(_prefixed(server, url, "/plain"))
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == ["not", "a", "document"]
    status, _, body = _call(f"{server.url}/_loam/url/{'0' * 32}/")
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})


def test_cors(server: Any, echo: dict[str, Any]) -> None:
    url = _prefixed(server, echo["FunctionUrl"], "/")
    status, headers, _ = _call(url, "OPTIONS", headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 200
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert headers["Access-Control-Allow-Headers"] == "x-custom"
    assert headers["Access-Control-Max-Age"] == "60"
    status, headers, _ = _call(url, "OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert status == 200 and "Access-Control-Allow-Origin" not in headers
    status, headers, _ = _call(url, headers={"Origin": "https://app.example"})
    assert status == 201
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Expose-Headers"] == "x-echo"


def test_a_url_without_a_policy_statement_is_forbidden(lam: Any, server: Any) -> None:
    name = unique_name("url-private")
    deploy(lam, name)
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    status, _, body = _call(_prefixed(server, config["FunctionUrl"], "/"))
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})
    _allow_public(lam, name)
    status, _, _ = _call(_prefixed(server, config["FunctionUrl"], "/"))
    assert status == 200


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_streaming_first_chunk_before_the_end(lam: Any, server: Any) -> None:
    name = unique_name("url-stream")
    deploy(lam, name, {"index.mjs": NODE_STREAM}, Runtime="nodejs20.x")
    _allow_public(lam, name)
    config = lam.create_function_url_config(FunctionName=name, AuthType="NONE",
                                            InvokeMode="RESPONSE_STREAM")
    uid = _url_id(config["FunctionUrl"])
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        started = time.monotonic()
        sock.sendall(f"GET /_loam/url/{uid}/ HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        received = b""
        while b"first;" not in received:
            received += sock.recv(65536)
        first_at = time.monotonic() - started
        while not received.endswith(b"0\r\n\r\n"):
            received += sock.recv(65536)
        total = time.monotonic() - started
    head = received.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head.startswith("http/1.1 202")
    assert "transfer-encoding: chunked" in head and "x-streamed: 1" in head
    assert "content-type: text/plain" in head
    assert b"second;" in received
    assert total - first_at > 1.0  # the first chunk came well before the function ended
