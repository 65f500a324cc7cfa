"""Payload format 2.0: an HTTP request as the event AWS gives a function URL's
function, and the function's answer as the HTTP response AWS makes of it.

The event (AWS's shape for function URLs):

- ``headers``: names lower-cased, a repeated header's values joined by commas;
  ``Cookie`` leaves the headers and becomes ``cookies`` (split on ``; ``);
- ``queryStringParameters``: a repeated key's values joined by commas;
  ``rawQueryString`` as sent (without ``?``);
- ``body``: text when the content type is textual (``text/*``, JSON, XML,
  JavaScript), else base64 with ``isBase64Encoded`` true; absent when empty;
- ``requestContext``: ``accountId`` is ``anonymous`` for AuthType NONE,
  ``apiId`` / ``domainPrefix`` the URL id, ``time`` in CLF
  (``12/Mar/2020:19:03:58 +0000``), ``timeEpoch`` in milliseconds.

The answer: a JSON object with ``statusCode`` is a response document
(``statusCode``, ``headers``, ``cookies`` → ``Set-Cookie``, ``body``,
``isBase64Encoded``); any other JSON value is the body of a 200
``application/json`` response (a JSON string: its text).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["HttpAnswer", "UrlRequest", "build_event", "is_text", "map_response"]

_TEXT_TYPES = ("application/json", "application/javascript", "application/xml",
               "application/x-javascript", "application/ld+json")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class UrlRequest:
    """One request to a function URL, as it arrived."""

    url_id: str
    domain: str  # the URL's host name, without the port
    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # names lower-cased, in order, repeats kept
    body: bytes
    source_ip: str
    protocol: str = "HTTP/1.1"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def is_text(content_type: str | None) -> bool:
    """Whether AWS passes a body of this type as text (otherwise base64)."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return (kind.startswith("text/") or kind in _TEXT_TYPES or kind.endswith("+json")
            or kind.endswith("+xml"))


def clf_time(epoch: float) -> str:
    """``12/Mar/2020:19:03:58 +0000``."""
    t = time.gmtime(epoch)
    return f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:" \
           f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"


def build_event(request: UrlRequest, request_id: str, epoch: float, account_id: str | None,
                authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The payload format 2.0 event; ``account_id`` None means AuthType NONE."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = _query_parameters(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": account_id or "anonymous",
        "apiId": request.url_id,
        "domainName": request.domain,
        "domainPrefix": request.url_id,
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": clf_time(epoch),
        "timeEpoch": int(epoch * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    encoded = bool(request.body) and not (is_text(headers.get("content-type"))
                                          and _utf8(request.body))
    if request.body:
        event["body"] = (base64.b64encode(request.body).decode() if encoded
                         else request.body.decode("utf-8"))
    event["isBase64Encoded"] = encoded
    return event


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


def map_response(payload: bytes) -> HttpAnswer:
    """The HTTP response AWS makes of a function's (successful) answer."""
    try:
        doc = json.loads(payload) if payload else None
    except ValueError:
        return HttpAnswer(200, [("content-type", "application/json")], payload)
    if isinstance(doc, dict) and "statusCode" in doc:
        return _document(doc)
    if isinstance(doc, str):
        return HttpAnswer(200, [("content-type", "application/json")], doc.encode())
    return HttpAnswer(200, [("content-type", "application/json")], payload)


def _document(doc: dict[str, Any]) -> HttpAnswer:
    headers = response_headers(doc.get("headers"), doc.get("cookies"))
    body = doc.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        data = json.dumps(body).encode()
    elif doc.get("isBase64Encoded"):
        data = base64.b64decode(body)
    else:
        data = body.encode()
    return HttpAnswer(int(doc["statusCode"]), headers, data)


def response_headers(headers: Any, cookies: Any) -> list[tuple[str, str]]:
    """A response document's (or streaming prelude's) headers, each cookie a
    ``Set-Cookie``; ``content-type`` is ``application/json`` unless set."""
    out: list[tuple[str, str]] = []
    if isinstance(headers, dict):
        out = [(str(k).lower(), _header_value(v)) for k, v in headers.items()]
    if isinstance(cookies, list):
        out += [("set-cookie", str(c)) for c in cookies]
    if not any(name == "content-type" for name, _ in out):
        out.append(("content-type", "application/json"))
    return out


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
