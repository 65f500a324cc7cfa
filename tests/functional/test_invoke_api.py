"""Invoke through boto3: status codes, headers, payloads, logs, limits."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.support import deploy, function_arn, unique_name
from tests.helpers import Server

pytestmark = pytest.mark.sandbox

HANDLER = """\
def handler(event, context):
    if isinstance(event, str):
        return {"length": len(event)}
    print("hello from", context.function_name, event.get("marker", "-"))
    if event.get("boom"):
        raise ValueError("kaboom")
    return {
        "event": event,
        "function_name": context.function_name,
        "invoked_arn": context.invoked_function_arn,
        "request_id": context.aws_request_id,
    }
"""

SYNC_LIMIT = 6_291_456
EVENT_LIMIT = 262_144


@pytest.fixture(scope="module")
def fn(lam: Any) -> Iterator[str]:
    name = unique_name("invoke")
    deploy(lam, name, {"index.py": HANDLER})
    yield name
    lam.delete_function(FunctionName=name)


def _payload(resp: dict[str, Any]) -> Any:
    return json.loads(resp["Payload"].read())


def _string_event(total_size: int) -> bytes:
    """A JSON string event of exactly ``total_size`` bytes."""
    return b'"' + b"x" * (total_size - 2) + b'"'


def test_request_response(lam: Any, fn: str) -> None:
    resp = lam.invoke(FunctionName=fn, Payload=b'{"a": 1, "nested": {"b": [1, 2]}}')
    assert resp["StatusCode"] == 200
    assert resp["ExecutedVersion"] == "$LATEST"
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-executed-version"] == "$LATEST"
    assert "FunctionError" not in resp
    assert "LogResult" not in resp  # only with LogType=Tail
    body = _payload(resp)
    assert body["event"] == {"a": 1, "nested": {"b": [1, 2]}}
    assert body["function_name"] == fn
    assert body["invoked_arn"] == function_arn(fn)


def test_dry_run(lam: Any, fn: str) -> None:
    resp = lam.invoke(FunctionName=fn, InvocationType="DryRun", Payload=b"{}")
    assert resp["StatusCode"] == 204
    assert resp["Payload"].read() == b""
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=unique_name("missing"), InvocationType="DryRun")


def test_event_is_accepted_and_runs(lam: Any, fn: str, server: Server) -> None:
    marker = unique_name("event-marker")
    resp = lam.invoke(FunctionName=fn, InvocationType="Event",
                      Payload=json.dumps({"marker": marker}).encode())
    assert resp["StatusCode"] == 202
    assert resp["Payload"].read() == b""
    deadline = time.monotonic() + 15
    while f"hello from {fn} {marker}" not in server.log():
        assert time.monotonic() < deadline, "the Event invocation never ran"
        time.sleep(0.1)
    assert server.alive()


def test_log_type_tail(lam: Any, fn: str) -> None:
    marker = unique_name("tail")
    resp = lam.invoke(FunctionName=fn, LogType="Tail",
                      Payload=json.dumps({"marker": marker}).encode())
    assert resp["StatusCode"] == 200
    rid = _payload(resp)["request_id"]
    log = base64.b64decode(resp["LogResult"]).decode()
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert f"hello from {fn} {marker}" in log
    assert f"END RequestId: {rid}" in log
    report = re.search(rf"REPORT RequestId: {rid}\t(.*)", log)
    assert report is not None, log
    fields = report.group(1)
    for part in (r"Duration: \d+\.\d\d ms", r"Billed Duration: \d+ ms", r"Memory Size: 128 MB",
                 r"Max Memory Used: \d+ MB"):
        assert re.search(part, fields), fields
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("START"))
    end = next(i for i, line in enumerate(lines) if line.startswith("END"))
    assert start < end < next(i for i, line in enumerate(lines) if line.startswith("REPORT"))


def test_unhandled_error(lam: Any, fn: str) -> None:
    resp = lam.invoke(FunctionName=fn, Payload=b'{"boom": true}', LogType="Tail")
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    assert resp["ExecutedVersion"] == "$LATEST"
    body = _payload(resp)
    assert set(body) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert body["errorMessage"] == "kaboom"
    assert body["errorType"] == "ValueError"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert f"START RequestId: {body['requestId']}" in base64.b64decode(resp["LogResult"]).decode()
    # The environment survives a handled exception; the next call works.
    assert _payload(lam.invoke(FunctionName=fn, Payload=b'{"ok": 1}'))["event"] == {"ok": 1}


def test_qualifiers(lam: Any, fn: str) -> None:
    resp = lam.invoke(FunctionName=fn, Qualifier="$LATEST", Payload=b"{}")
    assert resp["StatusCode"] == 200 and resp["ExecutedVersion"] == "$LATEST"
    resp["Payload"].read()
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName=fn, Qualifier="7", Payload=b"{}")
    assert info.value.response["Error"]["Message"] == f"Function not found: {function_arn(fn)}:7"


@pytest.mark.parametrize("form", ["arn", "partial", "qualified"])
def test_invoke_by_arn(lam: Any, fn: str, form: str) -> None:
    ref = {
        "arn": function_arn(fn),
        "partial": f"123456789012:function:{fn}",
        "qualified": f"{function_arn(fn)}:$LATEST",
    }[form]
    resp = lam.invoke(FunctionName=ref, Payload=b'{"via": "arn"}')
    assert resp["StatusCode"] == 200
    assert _payload(resp)["event"] == {"via": "arn"}


def test_unknown_function(lam: Any) -> None:
    missing = unique_name("missing")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName=missing, Payload=b"{}")
    assert info.value.response["Error"]["Message"] == f"Function not found: {function_arn(missing)}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_payload_that_is_not_json_is_refused(lam: Any, fn: str) -> None:
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as info:
        lam.invoke(FunctionName=fn, Payload=b"not json")
    assert info.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: Could not parse payload into json"
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# AWS answers an oversized request with 413 RequestEntityTooLargeException
# ("Request must be smaller than 6291456 bytes for the InvokeFunction
# operation"), although the model names RequestTooLargeException.
TOO_LARGE = {"RequestEntityTooLargeException"}


def test_sync_payload_limit(lam: Any, fn: str) -> None:
    at_limit = lam.invoke(FunctionName=fn, Payload=_string_event(SYNC_LIMIT))
    assert _payload(at_limit) == {"length": SYNC_LIMIT - 2}
    with pytest.raises(lam.exceptions.ClientError) as info:
        lam.invoke(FunctionName=fn, Payload=_string_event(SYNC_LIMIT + 1))
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] in TOO_LARGE
    assert str(SYNC_LIMIT) in error["Error"]["Message"]


def test_event_payload_limit(lam: Any, fn: str) -> None:
    at_limit = lam.invoke(FunctionName=fn, InvocationType="Event",
                          Payload=_string_event(EVENT_LIMIT))
    assert at_limit["StatusCode"] == 202
    assert at_limit["Payload"].read() == b""
    with pytest.raises(lam.exceptions.ClientError) as info:
        lam.invoke(FunctionName=fn, InvocationType="Event",
                   Payload=_string_event(EVENT_LIMIT + 1))
    error = info.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] in TOO_LARGE
    assert str(EVENT_LIMIT) in error["Error"]["Message"]


def test_response_request_id_is_the_invocation_request_id(lam: Any, fn: str) -> None:
    resp = lam.invoke(FunctionName=fn, Payload=b"{}")
    assert resp["ResponseMetadata"]["RequestId"] == _payload(resp)["request_id"]
