"""One HTTP API request as the payload builders see it.

``ApiRequest`` is the client's request (method, paths, query, headers, body,
source); ``RequestFacts`` is what API Gateway decided about it (API, stage,
route, path parameters, request id, time). Both are plain frozen data, so the
payload builders are pure functions and unit-testable without a server.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

__all__ = ["ApiRequest", "RequestFacts", "body_text", "is_text"]

_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "graphql")


@dataclass(frozen=True)
class ApiRequest:
    method: str
    raw_path: str  # as sent (percent-encoded), stage segment included
    raw_query: str
    headers: tuple[tuple[str, str], ...]  # lower-case names, in the order sent
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None

    def header_lists(self) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        for name, value in self.headers:
            lists.setdefault(name, []).append(value)
        return lists

    def query_lists(self) -> dict[str, list[str]]:
        lists: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.raw_query, keep_blank_values=True):
            lists.setdefault(name, []).append(value)
        return lists

    def cookies(self) -> list[str]:
        return [c.strip() for _, v in self.headers if _ == "cookie" for c in v.split(";")
                if c.strip()]

    @property
    def user_agent(self) -> str:
        return self.header("user-agent") or ""


@dataclass(frozen=True)
class RequestFacts:
    account_id: str
    region: str
    api_id: str
    stage: str
    route_key: str
    resource_path: str  # "/items/{id}" or "$default"
    request_id: str
    epoch: float
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)

    @property
    def domain_name(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.localhost"

    @property
    def request_time(self) -> str:
        """``04/Mar/2020:19:15:17 +0000``."""
        return datetime.fromtimestamp(self.epoch, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")

    @property
    def epoch_ms(self) -> int:
        return int(self.epoch * 1000)

    def route_arn(self, method: str, path: str) -> str:
        """``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{METHOD}{path}`` (the
        ARN an authorizer's IAM policy allows or denies)."""
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:{self.api_id}/"
                f"{self.stage}/{method}{path}")


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith("text/") or any(t in kind for t in _TEXT_TYPES)


def body_text(request: ApiRequest) -> tuple[str | None, bool]:
    """The body as the event carries it: text, or base64 (True) unless the content type
    is textual or absent and the bytes are UTF-8; None when there is no body."""
    if not request.body:
        return None, False
    content_type = request.header("content-type")
    if is_text(content_type) or content_type is None:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True
