"""Routes and shapes from the service models botocore ships.

Nothing about the wire format of an AWS operation is written by hand here:
method, URI template, parameter locations, types and constraints all come
from ``botocore``'s ``service-2`` model of the service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from urllib.parse import unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel

__all__ = ["Route", "RouteTable", "service_model"]

MATCH_CACHE_SIZE = 4096
_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


@dataclass(frozen=True)
class Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    query: tuple[tuple[str, str | None], ...]
    literal_length: int

    def match(self, method: str, path: str, query: dict[str, str]) -> dict[str, str] | None:
        if method != self.method:
            return None
        m = self.pattern.fullmatch(path)
        if m is None:
            return None
        for key, value in self.query:
            if key not in query or (value is not None and query[key] != value):
                return None
        return {k: unquote(v) for k, v in m.groupdict().items()}


def _compile(operation: OperationModel) -> Route:
    uri = operation.http["requestUri"]
    path, _, query_part = uri.partition("?")
    pieces: list[str] = []
    pos = 0
    for m in _LABEL.finditer(path):
        pieces.append(re.escape(path[pos : m.start()]))
        label, greedy = m.group(1), m.group(2)
        pieces.append(f"(?P<{label}>.+)" if greedy else f"(?P<{label}>[^/]+)")
        pos = m.end()
    pieces.append(re.escape(path[pos:]))
    literal = _LABEL.sub("", path)
    query: list[tuple[str, str | None]] = []
    for part in filter(None, query_part.split("&")):
        key, eq, value = part.partition("=")
        query.append((key, value if eq else None))
    return Route(
        operation=operation,
        method=operation.http["method"],
        pattern=re.compile("".join(pieces) + "/?"),
        query=tuple(query),
        literal_length=len(literal) + 100 * len(query),
    )


class RouteTable:
    """Matches a request to an operation; the most specific template wins."""

    def __init__(self, model: ServiceModel, operations: set[str] | None = None) -> None:
        names = operations if operations is not None else set(model.operation_names)
        routes = [_compile(model.operation_model(n)) for n in sorted(names)]
        self.routes = sorted(routes, key=lambda r: -r.literal_length)
        # Matching walks every route's pattern; a hot path (one function's
        # Invoke) repeats the same request line, so its answer is remembered.
        self._cached = lru_cache(maxsize=MATCH_CACHE_SIZE)(self._match)

    def match(
        self, method: str, raw_path: str, query: dict[str, str]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        found = self._cached(method, raw_path, tuple(sorted(query.items())))
        return None if found is None else (found[0], dict(found[1]))

    def _match(
        self, method: str, raw_path: str, query: tuple[tuple[str, str], ...]
    ) -> tuple[OperationModel, tuple[tuple[str, str], ...]] | None:
        flat = dict(query)
        for route in self.routes:
            params = route.match(method, raw_path, flat)
            if params is not None:
                return route.operation, tuple(params.items())
        return None

    def path_exists(self, raw_path: str) -> bool:
        return any(r.pattern.fullmatch(raw_path) for r in self.routes)
