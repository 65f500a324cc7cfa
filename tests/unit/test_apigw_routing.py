"""Stage and route selection as API Gateway HTTP APIs choose them."""

from __future__ import annotations

import pytest

from loam.http.apigw_routing import match_route, select_stage
from loam.services.apigateway.models import Route, Stage

ROUTES = tuple(Route(f"r{n}", key, "i1") for n, key in enumerate([
    "GET /items/{id}",
    "GET /items/new",
    "ANY /items/{id}",
    "POST /items",
    "ANY /{proxy+}",
    "GET /items/{proxy+}",
    "$default",
]))


@pytest.mark.parametrize(("method", "path", "key", "params"), [
    ("GET", "/items/new", "GET /items/new", {}),              # literal beats a variable
    ("GET", "/items/7", "GET /items/{id}", {"id": "7"}),     # method beats ANY
    ("DELETE", "/items/7", "ANY /items/{id}", {"id": "7"}),  # exact ANY beats greedy GET
    ("GET", "/items/7/parts", "GET /items/{proxy+}", {"proxy": "7/parts"}),  # longer prefix
    ("PUT", "/items/7/parts", "ANY /{proxy+}", {"proxy": "items/7/parts"}),
    ("POST", "/items", "POST /items", {}),
    ("POST", "/items/", "POST /items", {}),
    ("GET", "/", "$default", {}),                            # greedy needs a segment
])
def test_precedence(method: str, path: str, key: str, params: dict[str, str]) -> None:
    matched = match_route(ROUTES, method, path)
    assert matched is not None
    assert (matched.route.route_key, dict(matched.path_parameters)) == (key, params)


def test_no_route_and_no_default_is_none() -> None:
    routes = [Route("a", "GET /items/{id}", "i1")]
    assert match_route(routes, "GET", "/items") is None
    assert match_route(routes, "GET", "/items/1/2") is None
    assert match_route(routes, "POST", "/items/1") is None


def test_resource_path() -> None:
    matched = match_route(ROUTES, "GET", "/items/3")
    assert matched is not None and matched.resource_path == "/items/{id}"
    fallback = match_route(ROUTES, "GET", "/")
    assert fallback is not None and fallback.resource_path == "$default"


def test_stage_selection() -> None:
    stages = {"$default": Stage("$default", True, True), "prod": Stage("prod", True, True)}
    named = select_stage(stages, "/prod/items/1")
    assert named is not None and (named.stage.name, named.path) == ("prod", "/items/1")
    root = select_stage(stages, "/prod")
    assert root is not None and (root.stage.name, root.path) == ("prod", "/")
    default = select_stage(stages, "/production/items")
    assert default is not None and (default.stage.name, default.path) == (
        "$default", "/production/items")
    assert select_stage({"prod": Stage("prod", True, True)}, "/items") is None
