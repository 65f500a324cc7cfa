"""Calls to the embedded services (SQS, EventBridge) on loam's one endpoint.

A request is theirs when it names an operation the way their protocols do:
``X-Amz-Target: <targetPrefix>.<Operation>`` (JSON 1.0 / 1.1) or a form or
query string with ``Action=<Operation>`` (awsQuery, SQS only). Lambda's REST
paths never carry either. For a query request, the service is the one its
SigV4 credential scope names (``…/us-east-1/sqs/aws4_request``), SQS when
unsigned. Each call is parsed by the service's botocore model, validated,
handed to the service's handler and serialised back the same way.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from loam.api import json_protocol, query_protocol
from loam.api.model import service_model
from loam.api.validation import validate
from loam.errors import LoamError, ValidationException
from loam.services.base import EmbeddedService, ServiceError

__all__ = ["ServiceCalls"]

Response = tuple[int, dict[str, str], bytes]

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")
_QUERY_DEFAULT = "sqs"
# Names SQS checks itself, answering InvalidAttributeName ("Unknown Attribute X.").
_OPEN_ENUMS = {"sqs": frozenset({"QueueAttributeName", "MessageSystemAttributeName",
                                 "MessageSystemAttributeNameForSends"})}


class UnknownOperation(ServiceError):
    code = "UnknownOperationException"


class MissingParameter(ServiceError):
    code = "MissingParameter"


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValue"


class ServiceCalls:
    def __init__(self, services: Mapping[str, EmbeddedService]) -> None:
        self._services = dict(services)
        self._models = {name: service_model(name) for name in services}
        self._by_target = {str(m.metadata["targetPrefix"]): name
                           for name, m in self._models.items() if "targetPrefix" in m.metadata}

    def owns_target(self, target: str) -> bool:
        return target.partition(".")[0] in self._by_target

    async def json_call(self, target: str, body: bytes) -> Response:
        prefix, _, operation = target.partition(".")
        name = self._by_target[prefix]
        model = self._models[name]
        try:
            op = _operation(model, operation)
            params = json_protocol.parse_request(op, body)
            output = await self._call(name, op, params)
        except LoamError as exc:
            return json_protocol.error_response(exc, model)
        headers = {"Content-Type": json_protocol.content_type(model)}
        return 200, headers, json_protocol.serialize_response(op, output)

    async def query_call(self, form: Mapping[str, str], authorization: str) -> Response:
        scope = _SCOPE.search(authorization)
        name = scope.group(1) if scope and scope.group(1) in self._services else _QUERY_DEFAULT
        model = self._models[name]
        names = query_protocol.QueryNames.of(name)
        request_id = str(uuid.uuid4())
        try:
            op = _operation(model, form.get("Action", ""))
            params = query_protocol.parse_request(op, form, names)
            output = await self._call(name, op, params)
        except LoamError as exc:
            status, headers, body = query_protocol.error_response(exc, names, request_id)
        else:
            status, headers = 200, {"Content-Type": "text/xml"}
            body = query_protocol.serialize_response(op, output, names, request_id)
        headers["x-amzn-RequestId"] = request_id
        return status, headers, body

    async def _call(self, name: str, op: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
        handler = self._services[name].operations.get(op.name)
        if handler is None:
            raise UnknownOperation(f"loam's {name} does not implement {op.name} yet.")
        if op.input_shape is not None:
            violations = validate(op.input_shape, params, _OPEN_ENUMS.get(name, frozenset()))
            if violations:
                raise _invalid(name, op, params, violations)
        return await handler(params)


def _operation(model: ServiceModel, name: str) -> OperationModel:
    if name not in model.operation_names:
        raise UnknownOperation(f"The action {name or '(none)'} is not valid for this endpoint.")
    return model.operation_model(name)


def _invalid(service: str, op: OperationModel, params: dict[str, Any],
             violations: list[str]) -> LoamError:
    """SQS names a missing or bad parameter its query way; the others validate like Lambda."""
    if service != "sqs":
        return ValidationException.from_violations(violations)
    assert op.input_shape is not None
    for member in op.input_shape.required_members:  # type: ignore[attr-defined, unused-ignore]
        if params.get(member) is None:
            return MissingParameter(f"The request must contain the parameter {member}.")
    return InvalidParameterValue(violations[0])
