"""Payload format 2.0 for function URLs: the event (validated by powertools'
LambdaFunctionUrlModel), response mapping, CORS, URL ids and the streaming prelude."""

from __future__ import annotations

import asyncio
import base64
import json

from aws_lambda_powertools.utilities.parser.models import LambdaFunctionUrlModel

from loam.control.function_urls import function_url, iso_time, url_id
from loam.http import cors
from loam.http.payload_v2 import UrlRequest, build_event, clf_time, is_text, map_response
from loam.http.url_ids import match_url
from loam.http.url_stream import StreamedResponse

UID = "a" * 32


def _request(body: bytes = b"", content_type: str | None = None,
             query: str = "") -> UrlRequest:
    headers = [("host", f"{UID}.lambda-url.us-east-1.localhost:9000"),
               ("user-agent", "curl/8"), ("x-multi", "one"), ("x-multi", "two"),
               ("cookie", "a=1; b=2")]
    if content_type:
        headers.append(("content-type", content_type))
    return UrlRequest(UID, f"{UID}.lambda-url.us-east-1.localhost", "POST", "/p/q", query,
                      headers, body, "10.0.0.1")


def test_event_shape_is_a_function_url_event() -> None:
    event = build_event(_request(b'{"x": 1}', "application/json", "a=1&a=2&b="), "rid",
                        1583348638.390, None)
    model = LambdaFunctionUrlModel(**event)
    assert model.requestContext.http.method == "POST"
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/p/q" and event["rawQueryString"] == "a=1&a=2&b="
    assert event["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-multi"] == "one,two" and "cookie" not in event["headers"]
    assert event["body"] == '{"x": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["accountId"] == "anonymous"
    assert context["apiId"] == context["domainPrefix"] == UID
    assert context["time"] == "04/Mar/2020:19:03:58 +0000"
    assert context["timeEpoch"] == 1583348638390
    assert context["http"] == {"method": "POST", "path": "/p/q", "protocol": "HTTP/1.1",
                               "sourceIp": "10.0.0.1", "userAgent": "curl/8"}
    assert context["stage"] == "$default" and context["requestId"] == "rid"


def test_binary_and_empty_bodies() -> None:
    data = bytes(range(256))
    event = build_event(_request(data, "application/octet-stream"), "r", 0.0, "123456789012")
    LambdaFunctionUrlModel(**event)
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == data
    assert event["requestContext"]["accountId"] == "123456789012"
    invalid_text = build_event(_request(b"\xff\xfe", "text/plain"), "r", 0.0, None)
    assert invalid_text["isBase64Encoded"] is True
    empty = build_event(_request(), "r", 0.0, None)
    assert "body" not in empty and empty["isBase64Encoded"] is False
    assert "queryStringParameters" not in empty
    assert is_text("application/vnd.api+json; charset=utf-8") and not is_text("image/png")


def test_response_documents() -> None:
    answer = map_response(json.dumps({"statusCode": 404, "headers": {"X-A": "b", "n": 1},
                                      "cookies": ["s=1", "t=2"], "body": "gone"}).encode())
    assert answer.status == 404 and answer.body == b"gone"
    assert ("x-a", "b") in answer.headers and ("n", "1") in answer.headers
    assert [v for k, v in answer.headers if k == "set-cookie"] == ["s=1", "t=2"]
    assert ("content-type", "application/json") in answer.headers
    binary = map_response(json.dumps({"statusCode": 200, "isBase64Encoded": True,
                                      "body": base64.b64encode(b"\x00\x01").decode()}).encode())
    assert binary.body == b"\x00\x01"
    assert map_response(b'{"statusCode": 204}').body == b""


def test_other_answers_are_json_bodies() -> None:
    plain = map_response(b'{"message": "hi"}')
    assert (plain.status, plain.body) == (200, b'{"message": "hi"}')
    assert plain.headers == [("content-type", "application/json")]
    assert map_response(b'"just text"').body == b"just text"
    assert map_response(b"[1, 2]").body == b"[1, 2]"
    assert map_response(b"null").body == b"null"


def test_cors_preflight_and_responses() -> None:
    config = {"AllowOrigins": ["https://a.example"], "AllowMethods": ["GET", "PUT"],
              "AllowHeaders": ["x-h"], "ExposeHeaders": ["x-e"], "MaxAge": 10,
              "AllowCredentials": True}
    assert cors.is_preflight("OPTIONS", {"origin": "o", "access-control-request-method": "GET"})
    assert not cors.is_preflight("OPTIONS", {"origin": "o"})
    pre = dict(cors.preflight_headers(config, "https://a.example"))
    assert pre["access-control-allow-origin"] == "https://a.example"
    assert pre["access-control-allow-methods"] == "GET,PUT"
    assert pre["access-control-allow-headers"] == "x-h"
    assert pre["access-control-max-age"] == "10"
    assert pre["access-control-allow-credentials"] == "true"
    assert cors.preflight_headers(config, "https://b.example") == []
    out = dict(cors.response_headers(config, "https://a.example",
                                     [("access-control-allow-origin", "*"), ("x", "y")]))
    assert out["access-control-allow-origin"] == "https://a.example"
    assert out["access-control-expose-headers"] == "x-e" and out["x"] == "y"
    assert cors.allowed_origin({"AllowOrigins": ["*"]}, "https://z") == "*"
    unconfigured = [("access-control-allow-origin", "*")]
    assert cors.response_headers(None, "https://z", unconfigured) == unconfigured


def test_url_ids_and_matching() -> None:
    uid = url_id("123456789012", "us-east-1", "fn", "$LATEST")
    assert len(uid) == 32 and uid.isalnum() and uid == uid.lower()
    assert uid == url_id("123456789012", "us-east-1", "fn", "$LATEST")
    assert uid != url_id("123456789012", "us-east-1", "fn", "live")
    assert function_url(uid, "us-east-1", 9000) == \
        f"http://{uid}.lambda-url.us-east-1.localhost:9000/"
    by_host = match_url(f"{uid}.lambda-url.us-east-1.localhost:9000", "/a/b", "us-east-1")
    assert by_host is not None and (by_host.url_id, by_host.raw_path) == (uid, "/a/b")
    by_path = match_url("127.0.0.1:9000", f"/_loam/url/{uid}/x%20y", "us-east-1")
    assert by_path is not None and by_path.raw_path == "/x%20y"
    assert by_path.domain == f"{uid}.lambda-url.us-east-1.localhost"
    bare = match_url(None, f"/_loam/url/{uid}", "us-east-1")
    assert bare is not None and bare.raw_path == "/"
    assert match_url("127.0.0.1:9000", "/2015-03-31/functions", "us-east-1") is None
    assert match_url("127.0.0.1", "/_loam/url/short/", "us-east-1") is None


def test_times() -> None:
    assert clf_time(1583348638.39) == "04/Mar/2020:19:03:58 +0000"
    assert iso_time(1635354687.143316) == "2021-10-27T17:11:27.143316Z"


def _stream(chunks: list[bytes]) -> tuple[list[tuple[int, list[tuple[str, str]]]], list[bytes]]:
    starts: list[tuple[int, list[tuple[str, str]]]] = []
    bodies: list[bytes] = []

    async def start(status: int, headers: list[tuple[str, str]]) -> None:
        starts.append((status, headers))

    async def body(data: bytes) -> None:
        assert starts, "the status line goes first"
        bodies.append(data)

    async def run() -> None:
        response = StreamedResponse(start, body)
        for chunk in chunks:
            await response.write(chunk)
        await response.finish()

    asyncio.run(run())
    return starts, bodies


def test_streaming_prelude() -> None:
    prelude = json.dumps({"statusCode": 201, "headers": {"content-type": "text/plain"},
                          "cookies": ["c=1"]}).encode()
    starts, bodies = _stream([prelude, b"\x00" * 8, b"one", b"two"])
    assert starts == [(201, [("content-type", "text/plain"), ("set-cookie", "c=1")])]
    assert bodies == [b"one", b"two"]
    starts, bodies = _stream([b"plain ", b"stream"])
    assert starts == [(200, [("content-type", "application/octet-stream")])]
    assert bodies == [b"plain ", b"stream"]
    starts, bodies = _stream([b'{"not": "a prelude"}'])
    assert starts[0][0] == 200 and b"".join(bodies) == b'{"not": "a prelude"}'
    starts, bodies = _stream([])
    assert starts == [(200, [("content-type", "application/octet-stream")])] and bodies == []
