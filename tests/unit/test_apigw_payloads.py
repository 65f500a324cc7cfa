"""The events HTTP APIs send (checked with powertools' parser models) and the mapping of
integration answers to HTTP responses."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventModel,
    APIGatewayProxyEventV2Model,
)
from aws_lambda_powertools.utilities.parser.models.apigw import ApiGatewayAuthorizerRequest
from aws_lambda_powertools.utilities.parser.models.apigwv2 import ApiGatewayAuthorizerRequestV2

from loam.http.apigw_payloads import (
    authorizer_event_v1,
    authorizer_event_v2,
    event_v1,
    event_v2,
)
from loam.http.apigw_request import ApiRequest, RequestFacts
from loam.http.apigw_responses import MalformedResponse, response_v1, response_v2

REQUEST = ApiRequest(
    "POST", "/prod/items/a%20b", "tag=x&tag=y&single=1",
    (("host", "abc.example"), ("user-agent", "curl/8"), ("x-multi", "1"), ("x-multi", "2"),
     ("cookie", "a=1; b=2"), ("content-type", "application/json")),
    b'{"k": 1}', "10.1.2.3")
FACTS = RequestFacts("123456789012", "us-east-1", "abcdef1234", "prod", "POST /items/{id}",
                     "/items/{id}", "req-1", 1_700_000_000.5, {"id": "a b"}, {"env": "p"})


def test_event_v2() -> None:
    event = event_v2(REQUEST, FACTS, {"lambda": {"user": "u"}})
    model = APIGatewayProxyEventV2Model.model_validate(event)
    assert model.requestContext.authorizer is not None
    assert model.requestContext.authorizer.lambda_value == {"user": "u"}
    assert event["rawPath"] == "/prod/items/a%20b"
    assert event["requestContext"]["http"]["path"] == "/prod/items/a b"
    assert event["headers"]["x-multi"] == "1,2" and "cookie" not in event["headers"]
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["queryStringParameters"] == {"tag": "x,y", "single": "1"}
    assert event["pathParameters"] == {"id": "a b"}
    assert event["stageVariables"] == {"env": "p"}
    assert event["requestContext"]["time"] == "14/Nov/2023:22:13:20 +0000"
    assert event["requestContext"]["timeEpoch"] == 1_700_000_000_500
    assert (event["body"], event["isBase64Encoded"]) == ('{"k": 1}', False)


def test_event_v1() -> None:
    event = event_v1(REQUEST, FACTS, {"principalId": "me", "user": "u"})
    APIGatewayProxyEventModel.model_validate(event)
    assert event["resource"] == "/items/{id}" and event["path"] == "/prod/items/a b"
    assert event["headers"]["x-multi"] == "2"
    assert event["multiValueHeaders"]["x-multi"] == ["1", "2"]
    assert event["queryStringParameters"] == {"tag": "y", "single": "1"}
    assert event["multiValueQueryStringParameters"] == {"tag": ["x", "y"], "single": ["1"]}
    context = event["requestContext"]
    assert context["identity"]["sourceIp"] == "10.1.2.3"
    assert context["requestTimeEpoch"] == 1_700_000_000_500
    assert context["authorizer"] == {"principalId": "me", "user": "u"}


def test_empty_and_binary_bodies() -> None:
    bare = ApiRequest("GET", "/", "", (("user-agent", "t"),))
    facts = RequestFacts("123456789012", "us-east-1", "abcdef1234", "$default", "$default",
                         "$default", "r", 1.0)
    v2, v1 = event_v2(bare, facts), event_v1(bare, facts)
    APIGatewayProxyEventV2Model.model_validate(v2)
    APIGatewayProxyEventModel.model_validate(v1)
    assert "body" not in v2 and "queryStringParameters" not in v2
    assert v1["body"] is None and v1["queryStringParameters"] is None
    assert v1["pathParameters"] is None and v1["stageVariables"] is None
    binary = ApiRequest("PUT", "/", "", (("content-type", "image/png"),), b"\x89PNG")
    assert (event_v2(binary, facts)["body"], event_v2(binary, facts)["isBase64Encoded"]) == (
        "iVBORw==", True)


def test_authorizer_events() -> None:
    v2 = authorizer_event_v2(REQUEST, FACTS, ["tok"])
    ApiGatewayAuthorizerRequestV2.model_validate(v2)
    assert v2["routeArn"] == \
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/POST/items/a b"
    assert v2["identitySource"] == ["tok"] and "body" not in v2
    v1 = authorizer_event_v1(REQUEST, FACTS, ["tok", "x"])
    ApiGatewayAuthorizerRequest.model_validate(v1)
    assert v1["identitySource"] == "tok,x" and v1["methodArn"] == v2["routeArn"]


def test_response_v2_shapes() -> None:
    plain = response_v2(json.dumps({"hello": "world"}).encode())
    assert (plain.status, plain.headers, plain.body) == (
        200, (("content-type", "application/json"),), b'{"hello": "world"}')
    assert response_v2(b'"text"').body == b"text"
    full = response_v2(json.dumps({"statusCode": 201, "headers": {"X-A": 1}, "body": "aGk=",
                                   "isBase64Encoded": True, "cookies": ["c=1"]}).encode())
    assert full.status == 201 and full.body == b"hi"
    assert full.headers == (("content-type", "application/json"), ("x-a", "1"),
                            ("set-cookie", "c=1"))


def test_response_v1_shapes() -> None:
    answer = response_v1(json.dumps({
        "statusCode": 200, "headers": {"content-type": "text/plain"},
        "multiValueHeaders": {"x-b": ["1", "2"]}, "body": "ok"}).encode())
    assert answer.status == 200 and answer.body == b"ok"
    assert answer.headers == (("x-b", "1"), ("x-b", "2"), ("content-type", "text/plain"))


@pytest.mark.parametrize("payload", [
    b'{"hello": "world"}',                       # no statusCode
    b'{"statusCode": 200, "extra": 1}',          # not the proxy shape
    b'{"statusCode": "abc"}',
    b'{"statusCode": 200, "body": {"a": 1}}',    # body must be a string
    b'{"statusCode": 200, "headers": []}',
    b'"just a string"',
    b"not json",
])
def test_malformed_v1(payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        response_v1(payload)


def test_malformed_v2() -> None:
    with pytest.raises(MalformedResponse):
        response_v2(b"{nope")
    with pytest.raises(MalformedResponse):
        response_v2(b'{"statusCode": 99}')
    with pytest.raises(MalformedResponse):
        response_v2(b'{"statusCode": 200, "body": "%%%", "isBase64Encoded": true}')
