"""The AWS query protocol: form-encoded ``Action=…`` requests, XML answers.

Older SDKs and CLIs (the aws CLI v2 Debian ships, for one) still talk to SQS
this way. The shapes are botocore's current model; the wire names it no
longer carries (``Attribute.1.Name``, ``SendMessageBatchRequestEntry.1.Id``,
result wrappers) come from ``data/<service>-query.json``, the query-era
model's names. Parsing mirrors botocore's query serialiser; the XML mirrors
what its query parser reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

from loam.errors import LoamError
from loam.services.base import ServiceError

__all__ = ["QueryNames", "error_response", "parse_request", "serialize_response"]

_DATA = Path(__file__).parent / "data"


class QueryNames:
    """A service's query wire names, keyed by the model's shape names."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.namespace: str = doc.get("xmlNamespace", "")
        self._members: dict[str, dict[str, str]] = doc.get("members", {})
        self._lists: dict[str, dict[str, Any]] = doc.get("lists", {})
        self._maps: dict[str, dict[str, Any]] = doc.get("maps", {})
        self._wrappers: dict[str, str] = doc.get("resultWrappers", {})

    @staticmethod
    @cache
    def of(service: str) -> QueryNames:
        path = _DATA / f"{service}-query.json"
        return QueryNames(json.loads(path.read_text()) if path.exists() else {})

    def member(self, structure: Shape, name: str) -> str:
        member = structure.members[name]  # type: ignore[attr-defined, unused-ignore]
        declared = self._members.get(structure.name, {}).get(name)
        return declared or str(member.serialization.get("name", name))

    def list_traits(self, shape: Shape) -> tuple[str | None, bool]:
        traits = self._lists.get(shape.name)
        if traits is None:
            member = shape.member  # type: ignore[attr-defined, unused-ignore]
            return member.serialization.get("name"), bool(shape.serialization.get("flattened"))
        return traits.get("member"), bool(traits.get("flattened"))

    def map_traits(self, shape: Shape) -> tuple[str, str, bool]:
        traits = self._maps.get(shape.name)
        if traits is None:
            key = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined, unused-ignore]
            value = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined, unused-ignore]
            return key, value, bool(shape.serialization.get("flattened"))
        return traits["key"], traits["value"], bool(traits["flattened"])

    def wrapper(self, op: OperationModel) -> str | None:
        if op.output_shape is None or not op.output_shape.members:  # type: ignore[attr-defined, unused-ignore]
            return None
        return self._wrappers.get(op.name, f"{op.name}Result")


class BadQueryValue(ServiceError):
    code = "InvalidParameterValue"


# -- requests ------------------------------------------------------------------


def parse_request(op: OperationModel, form: Mapping[str, str],
                  names: QueryNames) -> dict[str, Any]:
    if op.input_shape is None:
        return {}
    parsed = _structure(op.input_shape, form, "", names)
    return parsed or {}


def _parse(shape: Shape, form: Mapping[str, str], prefix: str, names: QueryNames) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, form, prefix, names)
    if kind == "list":
        return _list(shape, form, prefix, names)
    if kind == "map":
        return _map(shape, form, prefix, names)
    raw = form.get(prefix)
    return None if raw is None else _scalar(shape, raw, prefix)


def _structure(shape: Shape, form: Mapping[str, str], prefix: str,
               names: QueryNames) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for name in shape.members:  # type: ignore[attr-defined, unused-ignore]
        member = shape.members[name]  # type: ignore[attr-defined, unused-ignore]
        wire = names.member(shape, name)
        value = _parse(member, form, f"{prefix}.{wire}" if prefix else wire, names)
        if value is not None:
            out[name] = value
    return out if out or not prefix or _present(form, prefix) else None


def _list(shape: Shape, form: Mapping[str, str], prefix: str,
          names: QueryNames) -> list[Any] | None:
    member_name, flattened = names.list_traits(shape)
    if flattened:
        base = ".".join([*prefix.split(".")[:-1], member_name]) if member_name else prefix
    else:
        base = f"{prefix}.{member_name or 'member'}"
    items: list[Any] = []
    index = 1
    while _present(form, f"{base}.{index}"):
        items.append(_parse(shape.member, form, f"{base}.{index}", names))  # type: ignore[attr-defined, unused-ignore]
        index += 1
    if not items:
        return [] if form.get(prefix) == "" else None
    return items


def _map(shape: Shape, form: Mapping[str, str], prefix: str,
         names: QueryNames) -> dict[str, Any] | None:
    key_name, value_name, flattened = names.map_traits(shape)
    base = prefix if flattened else f"{prefix}.entry"
    out: dict[str, Any] = {}
    index = 1
    while _present(form, f"{base}.{index}"):
        key = form.get(f"{base}.{index}.{key_name}")
        if key is not None:
            out[key] = _parse(shape.value, form, f"{base}.{index}.{value_name}", names)  # type: ignore[attr-defined, unused-ignore]
        index += 1
    return out or None


def _present(form: Mapping[str, str], prefix: str) -> bool:
    dotted = prefix + "."
    return prefix in form or any(k.startswith(dotted) for k in form)


def _scalar(shape: Shape, raw: str, name: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("double", "float"):
            return float(raw)
        if kind == "boolean":
            return raw.lower() == "true"
        if kind == "blob":
            return base64.b64decode(raw, validate=True)
        if kind == "timestamp":
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, binascii.Error):
        raise BadQueryValue(f"Value {raw} for parameter {name} is invalid. "
                            f"Reason: it is not a valid {kind}.") from None
    return raw


# -- responses -----------------------------------------------------------------


def serialize_response(op: OperationModel, output: Mapping[str, Any], names: QueryNames,
                       request_id: str) -> bytes:
    inner = ""
    wrapper = names.wrapper(op)
    if wrapper is not None and op.output_shape is not None:
        inner = f"<{wrapper}>{_xml_members(op.output_shape, output, names)}</{wrapper}>"
    tag = f"{op.name}Response"
    xmlns = f' xmlns="{names.namespace}"' if names.namespace else ""
    body = (f'<?xml version="1.0"?><{tag}{xmlns}>{inner}<ResponseMetadata>'
            f"<RequestId>{request_id}</RequestId></ResponseMetadata></{tag}>")
    return body.encode()


def error_response(error: LoamError, names: QueryNames,
                   request_id: str) -> tuple[int, dict[str, str], bytes]:
    code = error.wire_query_code if isinstance(error, ServiceError) else error.code
    fault = "Sender" if getattr(error, "sender_fault", error.status < 500) else "Receiver"
    xmlns = f' xmlns="{names.namespace}"' if names.namespace else ""
    body = (f'<?xml version="1.0"?><ErrorResponse{xmlns}><Error><Type>{fault}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(error.message)}</Message>"
            f"<Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
    return error.status, {"Content-Type": "text/xml"}, body.encode()


def _xml_members(shape: Shape, value: Mapping[str, Any], names: QueryNames) -> str:
    parts: list[str] = []
    members = shape.members  # type: ignore[attr-defined, unused-ignore]
    for name, member in members.items():
        item = value.get(name)
        if item is None:
            continue
        tag = names.member(shape, name)
        if member.type_name == "list":
            parts.append(_xml_list(member, item, tag, names))
        elif member.type_name == "map":
            parts.append(_xml_map(member, item, tag, names))
        else:
            parts.append(f"<{tag}>{_xml_value(member, item, names)}</{tag}>")
    return "".join(parts)


def _xml_list(shape: Shape, items: list[Any], tag: str, names: QueryNames) -> str:
    member_name, flattened = names.list_traits(shape)
    element = shape.member  # type: ignore[attr-defined, unused-ignore]
    if flattened:
        name = member_name or tag
        return "".join(f"<{name}>{_xml_value(element, v, names)}</{name}>" for v in items)
    name = member_name or "member"
    inner = "".join(f"<{name}>{_xml_value(element, v, names)}</{name}>" for v in items)
    return f"<{tag}>{inner}</{tag}>"


def _xml_map(shape: Shape, items: Mapping[str, Any], tag: str, names: QueryNames) -> str:
    key_name, value_name, flattened = names.map_traits(shape)
    value_shape = shape.value  # type: ignore[attr-defined, unused-ignore]
    entries = "".join(
        f"<{tag if flattened else 'entry'}><{key_name}>{escape(str(k))}</{key_name}>"
        f"<{value_name}>{_xml_value(value_shape, v, names)}</{value_name}>"
        f"</{tag if flattened else 'entry'}>"
        for k, v in items.items()
    )
    return entries if flattened else f"<{tag}>{entries}</{tag}>"


def _xml_value(shape: Shape, value: Any, names: QueryNames) -> str:
    kind = shape.type_name
    if kind == "structure":
        return _xml_members(shape, value, names)
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return base64.b64encode(value).decode() if isinstance(value, bytes) else escape(value)
    if kind == "timestamp":
        moment = value if isinstance(value, datetime) else datetime.fromtimestamp(
            float(value), tz=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return escape(str(value))
