"""Which stage and route of an HTTP API a request is for, as API Gateway chooses.

Stages: a named stage is the path's first segment (``/prod/items``); any
other path belongs to the ``$default`` stage, which serves the API's root.

Routes, most specific first (API Gateway's documented priorities):

1. routes whose path matches without a greedy variable, the one with more
   literal segments first (``/items/new`` before ``/items/{id}``);
2. routes with a greedy ``{name+}`` variable, the longest literal prefix first;
3. within each, a route for the request's method before an ``ANY`` route;
4. the ``$default`` route last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from loam.services.apigateway.models import Route, Stage

__all__ = ["RouteMatch", "RouteTable", "StageMatch", "match_route", "route_path",
           "select_stage"]


@dataclass(frozen=True)
class StageMatch:
    stage: Stage
    path: str  # the path after the stage's segment ("/" at least)


@dataclass(frozen=True)
class RouteMatch:
    route: Route
    path_parameters: Mapping[str, str]

    @property
    def resource_path(self) -> str:
        """``/items/{id}``, or ``$default`` for the default route."""
        return route_path(self.route.route_key)


def route_path(route_key: str) -> str:
    return route_key.partition(" ")[2] if route_key != "$default" else "$default"


def select_stage(stages: Mapping[str, Stage], path: str) -> StageMatch | None:
    first, _, rest = path.lstrip("/").partition("/")
    named = stages.get(first) if first and first != "$default" else None
    if named is not None:
        return StageMatch(named, "/" + rest)
    default = stages.get("$default")
    return StageMatch(default, path or "/") if default is not None else None


def _segments(path: str) -> list[str]:
    trimmed = path.strip("/")
    return trimmed.split("/") if trimmed else []


def _match_path(template: Sequence[str], actual: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, part in enumerate(template):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[index:]
            if not rest:
                return None
            params[part[1:-2]] = "/".join(rest)
            return params
        if index >= len(actual):
            return None
        if part.startswith("{") and part.endswith("}"):
            if not actual[index]:
                return None
            params[part[1:-1]] = actual[index]
        elif part != actual[index]:
            return None
    return params if len(template) == len(actual) else None


def _rank(route: Route, template: Sequence[str]) -> tuple[int, int, int]:
    greedy = bool(template) and template[-1].endswith("+}")
    literals = sum(1 for part in template if not part.startswith("{"))
    is_any = route.route_key.startswith("ANY ")
    return (1 if greedy else 0, -literals, 1 if is_any else 0)


@dataclass(frozen=True)
class _Compiled:
    route: Route
    template: tuple[str, ...]


class RouteTable:
    """Routes compiled once: per method, the candidates in precedence order, so a
    request takes the first that matches (ties keep creation order)."""

    def __init__(self, routes: Iterable[Route]) -> None:
        ranked: list[tuple[tuple[int, int, int], int, str, _Compiled]] = []
        self._default: Route | None = None
        for index, route in enumerate(routes):
            if route.route_key == "$default":
                self._default = route
                continue
            method, _, template_path = route.route_key.partition(" ")
            template = _segments(template_path)
            ranked.append((_rank(route, template), index, method,
                           _Compiled(route, tuple(template))))
        ranked.sort(key=lambda entry: (entry[0], entry[1]))
        self._any = tuple(c for _, _, method, c in ranked if method == "ANY")
        methods = {method for _, _, method, _ in ranked if method != "ANY"}
        self._by_method = {m: tuple(c for _, _, method, c in ranked if method in (m, "ANY"))
                           for m in methods}

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The route serving ``method path`` (path without the stage), or None (404)."""
        actual = _segments(path)
        for compiled in self._by_method.get(method, self._any):
            params = _match_path(compiled.template, actual)
            if params is not None:
                return RouteMatch(compiled.route, params)
        return RouteMatch(self._default, {}) if self._default is not None else None


def match_route(routes: Iterable[Route], method: str, path: str) -> RouteMatch | None:
    """The route serving ``method path`` (path without the stage), or None (404)."""
    return RouteTable(routes).match(method, path)
