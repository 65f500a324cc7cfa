"""From a Lambda integration's answer to the HTTP response an HTTP API sends.

Format 1.0 requires the proxy shape (``statusCode`` and optionally
``headers``, ``multiValueHeaders``, ``body``, ``isBase64Encoded``); anything
else is malformed and answers 500. Format 2.0 takes that shape (with
``cookies``) when there is a ``statusCode``; otherwise the whole answer is a
200 JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["HttpAnswer", "MalformedResponse", "error_answer", "response_v1", "response_v2"]

_V1_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
_V2_KEYS = _V1_KEYS | {"cookies"}


class MalformedResponse(Exception):
    """The integration's answer is not a response API Gateway can send."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def error_answer(status: int, message: str) -> HttpAnswer:
    """API Gateway's own answers: ``{"message":"Not Found"}`` and its kin."""
    body = json.dumps({"message": message}, separators=(",", ":")).encode()
    return HttpAnswer(status, (("content-type", "application/json"),), body)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedResponse(f"header value {value!r} is not a string")


def _status(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
        if isinstance(value, str) and value.isdigit() and 100 <= int(value) <= 599:
            return int(value)
        raise MalformedResponse(f"statusCode {value!r} is not an HTTP status")
    return value


def _body(doc: dict[str, Any]) -> bytes:
    body = doc.get("body")
    encoded = doc.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise MalformedResponse("isBase64Encoded is not a boolean")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body is not a string")
    if not encoded:
        return body.encode()
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedResponse("body is not base64") from exc


def _headers(doc: dict[str, Any], *, multi: bool) -> list[tuple[str, str]]:
    headers: dict[str, list[str]] = {}
    if multi and doc.get("multiValueHeaders") is not None:
        values = doc["multiValueHeaders"]
        if not isinstance(values, dict):
            raise MalformedResponse("multiValueHeaders is not an object")
        for name, items in values.items():
            if not isinstance(items, list):
                raise MalformedResponse(f"multiValueHeaders[{name}] is not a list")
            headers[name.lower()] = [_scalar(v) for v in items]
    single = doc.get("headers")
    if single is not None:
        if not isinstance(single, dict):
            raise MalformedResponse("headers is not an object")
        for name, value in single.items():
            headers[name.lower()] = [_scalar(value)]
    return [(name, value) for name, values in headers.items() for value in values]


def response_v1(payload: bytes) -> HttpAnswer:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponse("the answer is not JSON") from exc
    if not isinstance(doc, dict) or "statusCode" not in doc or set(doc) - _V1_KEYS:
        raise MalformedResponse("the answer is not the proxy response shape")
    return HttpAnswer(_status(doc["statusCode"]), tuple(_headers(doc, multi=True)), _body(doc))


def response_v2(payload: bytes) -> HttpAnswer:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedResponse("the answer is not JSON") from exc
    json_type = (("content-type", "application/json"),)
    if not isinstance(doc, dict) or "statusCode" not in doc:
        body = doc.encode() if isinstance(doc, str) else payload
        return HttpAnswer(200, json_type, body)
    headers = _headers({k: v for k, v in doc.items() if k in _V2_KEYS}, multi=False)
    cookies = doc.get("cookies") or []
    if not isinstance(cookies, list):
        raise MalformedResponse("cookies is not a list")
    headers.extend(("set-cookie", _scalar(c)) for c in cookies)
    if not any(name == "content-type" for name, _ in headers):
        headers.insert(0, json_type[0])
    return HttpAnswer(_status(doc["statusCode"]), tuple(headers), _body(doc))
