"""The Smithy RPC v2 CBOR protocol: ``POST /service/<target>/operation/<Operation>``.

boto3's ``cloudwatch`` client (botocore 1.40 on) speaks it: the body is the
input shape as a CBOR map (timestamps as tag 1, epoch seconds; blobs as byte
strings), the answer the output shape the same way, with
``smithy-protocol: rpc-v2-cbor``. An error is a CBOR map with ``__type`` and
``message``; a service that was once awsQuery (CloudWatch) also names its
query code in ``x-amzn-query-error``, which botocore reports as the Code.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import cbor2
from botocore.model import OperationModel, ServiceModel, Shape

from loam.errors import InvalidRequestContentException, LoamError
from loam.services.base import ServiceError

__all__ = ["CONTENT_TYPE", "error_response", "headers", "parse_path", "parse_request",
           "serialize_response"]

CONTENT_TYPE = "application/cbor"
_PATH = re.compile(r"/service/([A-Za-z0-9_.]+)/operation/([A-Za-z0-9_]+)")


def parse_path(path: str) -> tuple[str, str] | None:
    """(target, operation) of an RPC v2 path, or None."""
    m = _PATH.fullmatch(path)
    return (m.group(1), m.group(2)) if m else None


def headers() -> dict[str, str]:
    return {"Content-Type": CONTENT_TYPE, "smithy-protocol": "rpc-v2-cbor"}


def parse_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    try:
        doc = cbor2.loads(body) if body else {}
    except (cbor2.CBORDecodeError, ValueError) as exc:
        raise InvalidRequestContentException(f"The request body is not valid CBOR: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidRequestContentException("Start of structure or map found where not expected.")
    if op.input_shape is None:
        return {}
    params: dict[str, Any] = _decode(op.input_shape, doc)
    return params


def serialize_response(op: OperationModel, output: Mapping[str, Any]) -> bytes:
    shape = op.output_shape
    doc = {} if shape is None else _encode(shape, dict(output))
    return bytes(cbor2.dumps(doc))


def error_response(error: LoamError, model: ServiceModel) -> tuple[int, dict[str, str], bytes]:
    answer = headers()
    if "awsQueryCompatible" in model.metadata:
        fault = "Sender" if getattr(error, "sender_fault", error.status < 500) else "Receiver"
        code = error.wire_query_code if isinstance(error, ServiceError) else error.code
        answer["x-amzn-query-error"] = f"{code};{fault}"
    doc = {"__type": error.code, "message": error.message}
    return error.status, answer, bytes(cbor2.dumps(doc))


def _decode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise InvalidRequestContentException(f"{shape.name} must be a map.")
        members = shape.members  # type: ignore[attr-defined, unused-ignore]
        return {k: _decode(members[k], v) for k, v in value.items()
                if k in members and v is not None}
    if kind == "list":
        if not isinstance(value, list):
            raise InvalidRequestContentException(f"{shape.name} must be an array.")
        return [_decode(shape.member, v) for v in value]  # type: ignore[attr-defined, unused-ignore]
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidRequestContentException(f"{shape.name} must be a map.")
        return {k: _decode(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined, unused-ignore]
    if kind == "timestamp":
        return _timestamp(value)
    return value


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        value = value.value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, tz=UTC)
    raise InvalidRequestContentException(f"Invalid timestamp: {value!r}")


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members  # type: ignore[attr-defined, unused-ignore]
        return {name: _encode(member, value[name]) for name, member in members.items()
                if value.get(name) is not None}
    if kind == "list":
        return [_encode(shape.member, v) for v in value]  # type: ignore[attr-defined, unused-ignore]
    if kind == "map":
        return {k: _encode(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined, unused-ignore]
    if kind == "timestamp":
        epoch = value.timestamp() if isinstance(value, datetime) else float(value)
        return cbor2.CBORTag(1, epoch)
    if kind in ("double", "float"):
        return float(value)
    return value
