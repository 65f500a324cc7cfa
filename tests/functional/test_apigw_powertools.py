"""A real app behind an HTTP API: powertools' ``APIGatewayHttpResolver`` routes
``GET /items/<id>`` and ``POST /items`` from the 2.0 events the API sends."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.support import deploy, function_arn, powertools_zip, unique_name
from tests.functional.test_apigw_http import allow_api_gateway, request
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

APP = """\
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()


@app.get("/items/<item_id>")
def get_item(item_id):
    return {"id": item_id, "stage": app.current_event.request_context.stage}


@app.post("/items")
def create_item():
    body = app.current_event.json_body
    return {"created": body["name"]}, 201


def handler(event, context):
    return app.resolve(event, context)
"""


def resolver_package() -> bytes:
    return powertools_zip(APP)


def test_powertools_http_resolver_routes_behind_an_http_api(server: Server) -> None:
    lam, apigw = client(server), client(server, "apigatewayv2")
    name = unique_name("ptapp")
    deploy(lam, name, resolver_package(), Timeout=30)
    created: dict[str, Any] = apigw.create_api(Name=name, ProtocolType="HTTP",
                                               Target=function_arn(name))
    allow_api_gateway(lam, name, created["ApiId"])
    host = created["ApiEndpoint"].removeprefix("http://")

    status, headers, body = request(server, host, "/items/abc")
    assert status == 200, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"id": "abc", "stage": "$default"}

    status, _, body = request(server, host, "/items", "POST", body=b'{"name": "widget"}',
                              headers={"Content-Type": "application/json"})
    assert (status, json.loads(body)) == (201, {"created": "widget"})

    status, _, body = request(server, host, "/nowhere")
    assert status == 404  # the resolver's own not-found, through the $default route
    assert json.loads(body)["statusCode"] == 404
