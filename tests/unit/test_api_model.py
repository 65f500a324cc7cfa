from __future__ import annotations

import base64
import json

import pytest

from loam.api.model import RouteTable, service_model
from loam.api.rest_json import error_response, parse_request, serialize_response
from loam.api.validation import validate
from loam.errors import (
    InvalidRequestContentException,
    ResourceNotFoundException,
    TooManyRequestsException,
)

MODEL = service_model("lambda")
ROUTES = RouteTable(MODEL)


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("POST", "/2015-03-31/functions", "CreateFunction", {}),
        ("GET", "/2015-03-31/functions/", "ListFunctions", {}),
        ("GET", "/2015-03-31/functions/f1", "GetFunction", {"FunctionName": "f1"}),
        ("GET", "/2015-03-31/functions/f1/configuration", "GetFunctionConfiguration",
         {"FunctionName": "f1"}),
        ("POST", "/2015-03-31/functions/f1/invocations", "Invoke", {"FunctionName": "f1"}),
        ("PUT", "/2015-03-31/functions/f1/code", "UpdateFunctionCode", {"FunctionName": "f1"}),
        ("DELETE", "/2015-03-31/functions/f1", "DeleteFunction", {"FunctionName": "f1"}),
        ("GET", "/2016-08-19/account-settings", "GetAccountSettings", {}),
        ("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction"
         "%3Af1/invocations", "Invoke",
         {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f1"}),
    ],
)
def test_routes_come_from_the_model(method: str, path: str, operation: str,
                                    params: dict[str, str]) -> None:
    matched = ROUTES.match(method, path, {})
    assert matched is not None
    op, path_params = matched
    assert op.name == operation
    assert path_params == params


def test_unknown_route() -> None:
    assert ROUTES.match("GET", "/nope", {}) is None


def test_parse_invoke_reads_headers_query_and_raw_payload() -> None:
    op = MODEL.operation_model("Invoke")
    params = parse_request(
        op, {"FunctionName": "f"}, {"Qualifier": ["$LATEST"]},
        {"x-amz-invocation-type": "Event", "x-amz-log-type": "Tail"}, b'{"a": 1}',
    )
    assert params == {"FunctionName": "f", "InvocationType": "Event", "LogType": "Tail",
                      "Qualifier": "$LATEST", "Payload": b'{"a": 1}'}


def test_parse_json_body_decodes_blobs_and_checks_types() -> None:
    op = MODEL.operation_model("CreateFunction")
    body = json.dumps({"FunctionName": "f", "Code": {"ZipFile": base64.b64encode(b"PK").decode()},
                       "MemorySize": 256}).encode()
    params = parse_request(op, {}, {}, {}, body)
    assert params["Code"]["ZipFile"] == b"PK"
    assert params["MemorySize"] == 256
    with pytest.raises(InvalidRequestContentException):
        parse_request(op, {}, {}, {}, b'{"MemorySize": "abc"}')
    with pytest.raises(InvalidRequestContentException):
        parse_request(op, {}, {}, {}, b"{not json")
    with pytest.raises(InvalidRequestContentException):
        parse_request(op, {}, {}, {}, b"[1, 2]")


def test_validation_messages_match_aws() -> None:
    shape = MODEL.operation_model("CreateFunction").input_shape
    violations = validate(shape, {"FunctionName": "bad name!", "Role": "r", "Code": {},
                                  "MemorySize": 64})
    assert "Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must " \
        "satisfy regular expression pattern" in violations[0]
    assert any("at 'memorySize' failed to satisfy constraint: Member must have value greater "
               "than or equal to 128" in v for v in violations)
    assert any(v.startswith("Value 'r' at 'role'") for v in violations)


def test_validation_reports_missing_required_members() -> None:
    shape = MODEL.operation_model("CreateFunction").input_shape
    violations = validate(shape, {"FunctionName": "f", "Code": {}})
    expected = "Value null at 'role' failed to satisfy constraint: Member must not be null"
    assert expected in violations


def test_validation_checks_enums_and_nested_maps() -> None:
    shape = MODEL.operation_model("CreateFunction").input_shape
    violations = validate(shape, {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r",
                                  "Code": {}, "Runtime": "cobol",
                                  "Environment": {"Variables": {"1bad": "x"}}})
    assert any("at 'runtime' failed to satisfy constraint: Member must satisfy enum value set"
               in v for v in violations)
    assert any("'environment.variables.1bad.key'" in v for v in violations)


def test_serialize_invoke_puts_members_in_their_locations() -> None:
    op = MODEL.operation_model("Invoke")
    status, headers, body = serialize_response(op, {
        "StatusCode": 200, "Payload": b"{}", "FunctionError": "Unhandled",
        "LogResult": "abc", "ExecutedVersion": "$LATEST",
    })
    assert status == 200
    assert body == b"{}"
    assert headers == {"X-Amz-Function-Error": "Unhandled", "X-Amz-Log-Result": "abc",
                       "X-Amz-Executed-Version": "$LATEST"}


def test_serialize_json_output() -> None:
    op = MODEL.operation_model("GetAccountSettings")
    status, headers, body = serialize_response(op, {"AccountUsage": {"FunctionCount": 2}})
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"AccountUsage": {"FunctionCount": 2}}


def test_errors_carry_code_status_and_the_model_casing() -> None:
    status, headers, body = error_response(ResourceNotFoundException("Function not found: x"))
    assert status == 404
    assert headers["X-Amzn-ErrorType"] == "ResourceNotFoundException"
    assert json.loads(body) == {"Type": "User", "Message": "Function not found: x"}
    status, headers, body = error_response(
        TooManyRequestsException("Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded")
    )
    assert status == 429
    assert headers["Retry-After"] == "1"
    assert json.loads(body) == {"Type": "User", "message": "Rate Exceeded.",
                                "Reason": "ConcurrentInvocationLimitExceeded"}
