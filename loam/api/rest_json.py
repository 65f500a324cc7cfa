"""The AWS rest-json protocol: requests in, responses and errors out.

Parsing follows each member's ``location`` in the model (uri, querystring,
header, payload, or the JSON body) and checks JSON types; constraint checks
are ``validation.validate``'s job. Serialisation is the mirror image.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from botocore.model import OperationModel, Shape

from loam.errors import InvalidRequestContentException, LoamError, ValidationException

__all__ = ["error_response", "from_json", "json_members", "load_json", "parse_request",
           "serialize_response"]

_JSON_TYPES: dict[str, str] = {
    "string": "String",
    "integer": "Integer",
    "long": "Long",
    "boolean": "Boolean",
    "blob": "ByteBuffer",
    "structure": "Object",
    "map": "Map",
    "list": "List",
    "double": "Double",
    "float": "Float",
    "timestamp": "Date",
}

# Statuses that carry no body (RFC 9110); HTTP servers refuse to send one.
_NO_CONTENT = frozenset({204, 304})


class _BadContent(Exception):
    pass


def parse_request(
    op: OperationModel,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    payload_name = shape.serialization.get("payload")
    body_members: list[tuple[str, str, Shape]] = []
    for name, location, wire, header, member in _layout(shape):
        if location == "uri":
            if wire in path_params:
                params[name] = _scalar(member, path_params[wire], name)
        elif location == "querystring":
            values = query.get(wire)
            if values:
                if member.type_name == "list":
                    params[name] = [_scalar(member.member, v, name) for v in values]  # type: ignore[attr-defined, unused-ignore]
                else:
                    params[name] = _scalar(member, values[0], name)
        elif location == "header":
            if header in headers:
                params[name] = _scalar(member, headers[header], name)
        elif location in ("headers", "statusCode"):
            continue
        elif name == payload_name:
            if member.type_name == "blob":
                params[name] = body
            elif body:
                params[name] = from_json(member, load_json(body), name)
        else:
            body_members.append((name, wire, member))
    if body_members:
        doc = load_json(body) if body.strip() else {}
        if not isinstance(doc, dict):
            raise InvalidRequestContentException(
                "Could not parse request body into json: expected a JSON object"
            )
        for name, wire, member in body_members:
            if doc.get(wire) is not None:
                params[name] = from_json(member, doc[wire], name)
    return params


@cache  # once per shape (botocore shapes hash by identity): every request walks some
def _layout(shape: Shape) -> tuple[tuple[str, str | None, str, str, Shape], ...]:
    """A structure's members as (name, location, wire name, the wire name lowercased as
    request headers arrive, shape)."""
    members = []
    for name, member in shape.members.items():  # type: ignore[attr-defined, unused-ignore]
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        members.append((name, location, wire, wire.lower(), member))
    return tuple(members)


def load_json(body: bytes) -> Any:
    """Parse a JSON request document; ``InvalidRequestContentException`` if it is not one."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not parse payload into json: {exc}"
        ) from exc
    except RecursionError:
        raise InvalidRequestContentException(
            "Could not parse request body into json: Could not parse payload into json: "
            "the document is nested too deeply"
        ) from None


def _scalar(shape: Shape, raw: str, name: str) -> Any:
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(raw)
        except ValueError:
            raise ValidationException.from_violations(
                [f"Value '{raw}' at '{name[:1].lower() + name[1:]}' failed to satisfy "
                 "constraint: Member must be a number"]
            ) from None
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


def from_json(shape: Shape, value: Any, path: str) -> Any:
    """A JSON value as ``shape``'s Python form; ``InvalidRequestContentException`` if it is not."""
    try:
        return _convert(shape, value)
    except _BadContent as exc:
        raise InvalidRequestContentException(
            f"Could not parse request body into json: Could not deserialize value of type "
            f"`{_JSON_TYPES.get(shape.type_name, shape.type_name)}` at '{path}': {exc}"
        ) from None


def _convert(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        if not isinstance(value, dict):
            raise _BadContent("expected an object")
        return {
            name: _convert(member, value[key])
            for name, key, member in json_members(shape) if value.get(key) is not None
        }
    if kind == "list":
        if not isinstance(value, list):
            raise _BadContent("expected an array")
        return [_convert(shape.member, v) for v in value]  # type: ignore[attr-defined, unused-ignore]
    if kind == "map":
        if not isinstance(value, dict):
            raise _BadContent("expected an object")
        return {str(k): _convert(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined, unused-ignore]
    if kind == "string":
        if not isinstance(value, str):
            raise _BadContent(f"cannot deserialize {json.dumps(value)[:40]} as a string")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _BadContent(f"cannot deserialize {json.dumps(value)[:40]} as an integer")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _BadContent(f"cannot deserialize {json.dumps(value)[:40]} as a boolean")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            raise _BadContent("expected a base64 string")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _BadContent(f"invalid base64: {exc}") from None
    if kind in ("double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _BadContent("expected a number")
        return float(value)
    if kind == "timestamp":
        return _timestamp(value)
    return value


def _timestamp(value: Any) -> datetime:
    """Epoch seconds (what the JSON protocols send) or an ISO 8601 text, as UTC."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise _BadContent(f"timestamp out of range: {value}") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            shown = json.dumps(value)[:40]
            raise _BadContent(f"cannot deserialize {shown} as a timestamp") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise _BadContent("expected a timestamp")


def serialize_response(
    op: OperationModel, output: Mapping[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    status = int(op.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    shape = op.output_shape
    if shape is None:
        return status, headers, b""
    payload_name = shape.serialization.get("payload")
    doc: dict[str, Any] = {}
    body = b""
    for name, location, wire, _, member in _layout(shape):
        value = output.get(name)
        if value is None:
            continue
        if location == "header":
            headers[wire] = str(value).lower() if isinstance(value, bool) else str(value)
        elif location == "statusCode":
            status = int(value)
        elif name == payload_name and isinstance(value, bytes):
            body = value
        elif name == payload_name:
            body = json.dumps(_to_json(member, value)).encode()
        else:
            doc[wire] = _to_json(member, value)
    if status in _NO_CONTENT:
        return status, headers, b""
    if payload_name is None:
        body = json.dumps(doc).encode()
        headers["Content-Type"] = "application/json"
    return status, headers, body


def json_members(shape: Shape) -> list[tuple[str, str, Shape]]:
    """``(member name, JSON key, shape)`` of a structure: the key is the member's
    ``locationName`` where the model gives one (apigatewayv2's ``apiId``)."""
    members = shape.members  # type: ignore[attr-defined, unused-ignore]
    return [(name, member.serialization.get("name", name), member)
            for name, member in members.items()]


def _to_json(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {
            key: _to_json(member, value[name])
            for name, key, member in json_members(shape) if value.get(name) is not None
        }
    if kind == "list":
        return [_to_json(shape.member, v) for v in value]  # type: ignore[attr-defined, unused-ignore]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined, unused-ignore]
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def error_response(error: LoamError) -> tuple[int, dict[str, str], bytes]:
    headers = {"X-Amzn-ErrorType": error.code, "Content-Type": "application/json"}
    headers.update(error.headers())
    return error.status, headers, json.dumps(error.body()).encode()
