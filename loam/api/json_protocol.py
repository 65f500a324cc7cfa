"""The AWS JSON protocols (1.0 and 1.1): one POST per call, named by ``X-Amz-Target``.

boto3's ``sqs`` client speaks JSON 1.0 (``AmazonSQS.SendMessage``), ``events``
JSON 1.1 (``AWSEvents.PutRule``). The body is the input shape as JSON
(timestamps as epoch seconds, blobs base64); the answer is the output shape
the same way. An error is ``{"__type": code, "message": …}``; a service that
was once awsQuery (SQS) also names its query code in ``x-amzn-query-error``,
which botocore reports as the error's ``Code``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from loam.api.rest_json import from_json, json_members, load_json
from loam.errors import InvalidRequestContentException, LoamError
from loam.services.base import ServiceError

__all__ = ["content_type", "error_response", "parse_request", "serialize_response"]


def content_type(model: ServiceModel) -> str:
    return f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}"


def parse_request(op: OperationModel, body: bytes) -> dict[str, Any]:
    doc = load_json(body) if body.strip() else {}
    if not isinstance(doc, dict):
        raise InvalidRequestContentException("Start of structure or map found where not expected.")
    if op.input_shape is None:
        return {}
    params: dict[str, Any] = from_json(op.input_shape, doc, "")
    return params


def serialize_response(op: OperationModel, output: Mapping[str, Any]) -> bytes:
    shape = op.output_shape
    doc = {} if shape is None else _encode(shape, dict(output))
    return json.dumps(doc, separators=(",", ":")).encode()


def error_response(error: LoamError, model: ServiceModel) -> tuple[int, dict[str, str], bytes]:
    headers = {"Content-Type": content_type(model), "x-amzn-ErrorType": error.code}
    if "awsQueryCompatible" in model.metadata:
        fault = "Sender" if getattr(error, "sender_fault", error.status < 500) else "Receiver"
        code = error.wire_query_code if isinstance(error, ServiceError) else error.code
        headers["x-amzn-query-error"] = f"{code};{fault}"
    doc = {"__type": error.code, "message": error.message}
    return error.status, headers, json.dumps(doc).encode()


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {key: _encode(member, value[name])
                for name, key, member in json_members(shape) if value.get(name) is not None}
    if kind == "list":
        return [_encode(shape.member, v) for v in value]  # type: ignore[attr-defined, unused-ignore]
    if kind == "map":
        return {k: _encode(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined, unused-ignore]
    if kind == "timestamp":
        return value.timestamp() if isinstance(value, datetime) else float(value)
    if kind == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
