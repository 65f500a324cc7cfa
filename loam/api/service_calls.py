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
from collections.abc import Callable, Mapping
from typing import Any

from botocore.model import OperationModel, ServiceModel

from loam.api import json_protocol, query_protocol, rest_json, rpcv2_cbor
from loam.api.model import RouteTable, service_model
from loam.api.validation import validate
from loam.auth import HttpRequest
from loam.errors import LoamError, ValidationException
from loam.services.base import EmbeddedService, ServiceError
from loam.services.cloudwatch import errors as cloudwatch_errors

__all__ = ["ServiceCalls"]

Response = tuple[int, dict[str, str], bytes]
# Checks a request's signature for a service; raises the AWS error it answers.
Authenticate = Callable[[HttpRequest, str], None]

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
    def __init__(self, services: Mapping[str, EmbeddedService],
                 authenticate: Authenticate = lambda request, service: None) -> None:
        self._services = dict(services)
        self._authenticate = authenticate
        self._models = {name: service_model(name) for name in services}
        self._by_target = {str(m.metadata["targetPrefix"]): name
                           for name, m in self._models.items() if "targetPrefix" in m.metadata}
        self._rest = {name: RouteTable(m) for name, m in self._models.items()
                      if m.protocol == "rest-json"}
        # SigV4 scopes name a service by its signing name (CloudWatch's is "monitoring").
        self._by_signing_name = {str(m.signing_name): name for name, m in self._models.items()}
        self._by_signing_name.update({name: name for name in self._models})

    def owns_target(self, target: str) -> bool:
        return target.partition(".")[0] in self._by_target

    async def json_call(self, target: str, request: HttpRequest) -> Response:
        prefix, _, operation = target.partition(".")
        name = self._by_target[prefix]
        model = self._models[name]
        body = request.body
        try:
            self._authenticate(request, name)
            op = _operation(model, operation)
            params = json_protocol.parse_request(op, body)
            output = await self._call(name, op, params)
        except LoamError as exc:
            return json_protocol.error_response(exc, model)
        headers = {"Content-Type": json_protocol.content_type(model)}
        return 200, headers, json_protocol.serialize_response(op, output)

    async def query_call(self, form: Mapping[str, str], request: HttpRequest) -> Response:
        scope = _SCOPE.search(request.headers.get("authorization", ""))
        name = self._by_signing_name.get(scope.group(1), _QUERY_DEFAULT) if scope \
            else _QUERY_DEFAULT
        model = self._models[name]
        names = query_protocol.QueryNames.of(name)
        request_id = str(uuid.uuid4())
        try:
            self._authenticate(request, name)
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

    async def rest_call(self, request: HttpRequest,
                        query: Mapping[str, list[str]]) -> Response | None:
        """A REST-JSON service's operation (API Gateway v2's ``/v2/apis``…) or a Smithy
        RPC v2 CBOR call (``/service/<target>/operation/<op>``); None when no service has
        a route for the request."""
        rpc = rpcv2_cbor.parse_path(request.raw_path) if request.method == "POST" else None
        if rpc is not None and rpc[0] in self._by_target:
            return await self.cbor_call(self._by_target[rpc[0]], rpc[1], request)
        flat = {k: v[0] for k, v in query.items()}
        for name, routes in self._rest.items():
            matched = routes.match(request.method, request.raw_path, flat)
            if matched is None:
                continue
            op, path_params = matched
            try:
                self._authenticate(request, name)
                params = rest_json.parse_request(op, path_params, query, request.headers,
                                                 request.body)
                output = await self._call(name, op, params)
            except LoamError as exc:
                return rest_json.error_response(exc)
            return rest_json.serialize_response(op, output)
        return None

    async def cbor_call(self, name: str, operation: str, request: HttpRequest) -> Response:
        model = self._models[name]
        try:
            self._authenticate(request, name)
            op = _operation(model, operation)
            params = rpcv2_cbor.parse_request(op, request.body)
            output = await self._call(name, op, params)
        except LoamError as exc:
            return rpcv2_cbor.error_response(exc, model)
        return 200, rpcv2_cbor.headers(), rpcv2_cbor.serialize_response(op, output)

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
    """SQS and CloudWatch name a missing or bad parameter their query way; the others
    validate like Lambda."""
    if service not in _QUERY_STYLE_ERRORS:
        return ValidationException.from_violations(violations)
    missing, invalid = _QUERY_STYLE_ERRORS[service]
    assert op.input_shape is not None
    for member in op.input_shape.required_members:  # type: ignore[attr-defined, unused-ignore]
        if params.get(member) is None:
            return missing(f"The request must contain the parameter {member}.")
    return invalid(violations[0])


_QUERY_STYLE_ERRORS: dict[str, tuple[type[ServiceError], type[ServiceError]]] = {
    "sqs": (MissingParameter, InvalidParameterValue),
    "cloudwatch": (cloudwatch_errors.MissingParameter, cloudwatch_errors.InvalidParameterValue),
}
