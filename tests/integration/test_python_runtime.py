"""The Python runtime inside a real sandbox, as seen through boto3: the context
object, the environment, handler resolution, AWS's exact error documents and
log lines, and the REPORT line."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from typing import Any

import pytest

from tests.helpers import create_function
from tests.integration.sandbox_support import (
    LOG_STREAM_RE,
    deploy,
    invoke,
    source,
    unique_name,
)

pytestmark = pytest.mark.sandbox

CONTEXT_CODE = """
import os

def handler(event, context):
    identity = context.identity
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "identity": [identity.cognito_identity_id, identity.cognito_identity_pool_id],
        "client_context": None if cc is None else {
            "custom": cc.custom,
            "env": cc.env,
            "installation_id": cc.client.installation_id if cc.client else None,
        },
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "event": event,
    }
"""


@pytest.fixture(scope="module")
def context_fn(lam: Any) -> str:
    return deploy(lam, "ctx", CONTEXT_CODE, Timeout=5,
                  Environment={"Variables": {"MY_SETTING": "on", "WITH_EQUALS": "a=b c"}})


def test_context_object_fields(lam: Any, context_fn: str) -> None:
    arn = lam.get_function(FunctionName=context_fn)["Configuration"]["FunctionArn"]
    result = invoke(lam, context_fn, {"hello": "world"})
    body = result.ok()
    report = result.report

    assert result.status_code == 200
    assert body["event"] == {"hello": "world"}
    assert body["aws_request_id"] == report.request_id
    assert body["function_name"] == context_fn
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"] == arn
    assert body["memory_limit_in_mb"] == "128"
    assert body["log_group_name"] == f"/aws/lambda/{context_fn}"
    assert LOG_STREAM_RE.match(body["log_stream_name"]), body["log_stream_name"]
    assert 0 < body["remaining"] <= 5000
    assert body["identity"] == [None, None]
    assert body["client_context"] is None
    assert body["cwd"] == "/var/task"


def test_invoked_function_arn_is_the_arn_as_called(lam: Any, context_fn: str) -> None:
    arn = lam.get_function(FunctionName=context_fn)["Configuration"]["FunctionArn"]
    by_arn = invoke(lam, arn).ok()
    assert by_arn["invoked_function_arn"] == arn
    qualified = invoke(lam, context_fn, Qualifier="$LATEST").ok()
    assert qualified["invoked_function_arn"] == f"{arn}:$LATEST"
    assert qualified["function_version"] == "$LATEST"


def test_each_invocation_gets_a_new_request_id(lam: Any, context_fn: str) -> None:
    first = invoke(lam, context_fn).ok()["aws_request_id"]
    second = invoke(lam, context_fn).ok()["aws_request_id"]
    assert first != second


def test_client_context_from_boto3(lam: Any, context_fn: str) -> None:
    document = {
        "client": {"installation_id": "install-1", "app_title": "app"},
        "custom": {"tenant": "blue", "n": 3},
        "env": {"platform": "test"},
    }
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    body = invoke(lam, context_fn, ClientContext=encoded).ok()
    assert body["client_context"] == {
        "custom": {"tenant": "blue", "n": 3},
        "env": {"platform": "test"},
        "installation_id": "install-1",
    }


def test_environment_variables_set_by_aws_and_user(lam: Any, context_fn: str) -> None:
    body = invoke(lam, context_fn).ok()
    env = body["environ"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == context_fn
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "index.handler"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{context_fn}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == body["log_stream_name"]
    assert env["TZ"] == ":UTC"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["MY_SETTING"] == "on"
    assert env["WITH_EQUALS"] == "a=b c"
    # Nothing of the host's environment leaks in.
    assert "LOAM_DATA_DIR" not in env
    assert "VIRTUAL_ENV" not in env


@pytest.mark.parametrize("handler", ["pkg/mod.handler", "pkg.mod.handler"])
def test_handler_in_a_package(lam: Any, handler: str) -> None:
    files: dict[str, str | bytes] = {
        "pkg/__init__.py": "",
        "pkg/mod.py": source("""
            from pkg import helper

            def handler(event, context):
                return {"module": __name__, "value": helper.VALUE}
        """),
        "pkg/helper.py": "VALUE = 42\n",
    }
    name = deploy(lam, "pkg", files, Handler=handler)
    assert invoke(lam, name).ok() == {"module": "pkg.mod", "value": 42}


# -- errors --------------------------------------------------------------------

INIT_ERRORS = [
    pytest.param(
        {"index.py": "def handler(e, c):\n    return 1\n"}, "missing.handler",
        "Runtime.ImportModuleError", "Unable to import module 'missing': No module named 'missing'",
        id="import-module-error",
    ),
    pytest.param(
        {"index.py": "import not_installed_anywhere\n"}, "index.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'index': No module named 'not_installed_anywhere'",
        id="import-error-in-module",
    ),
    pytest.param(
        {"index.py": "def handler(e, c):\n    return 1\n"}, "index.nope",
        "Runtime.HandlerNotFound", "Handler 'nope' missing on module 'index'",
        id="handler-not-found",
    ),
    pytest.param(
        {"index.py": "def handler(e, c):\n    return 1\n"}, "index",
        "Runtime.MalformedHandlerName",
        "Bad handler 'index': not enough values to unpack (expected 2, got 1)",
        id="malformed-handler-name",
    ),
    pytest.param(
        {"index.py": "def handler(e, c)\n    return 1\n"}, "index.handler",
        "Runtime.UserCodeSyntaxError", "Syntax error in module 'index': ",
        id="syntax-error",
    ),
    pytest.param(
        {"index.py": "raise KeyError('config')\n"}, "index.handler",
        "KeyError", "'config'",
        id="exception-during-init",
    ),
]


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), INIT_ERRORS)
def test_init_errors_are_reported_like_aws(
    lam: Any, files: dict[str, str | bytes], handler: str, error_type: str, message: str
) -> None:
    name = unique_name("init")
    create_function(lam, name, files, handler=handler)
    for _ in range(2):  # a failed Init is retried in a fresh environment
        result = invoke(lam, name)
        assert result.status_code == 200
        assert result.function_error == "Unhandled"
        doc = result.payload
        assert doc["errorType"] == error_type
        if error_type == "Runtime.UserCodeSyntaxError":
            assert doc["errorMessage"].startswith(message)
            assert "index.py" in doc["errorMessage"]
        else:
            assert doc["errorMessage"] == message
        assert isinstance(doc["stackTrace"], list)
        logged = f"[ERROR] {error_type}: {doc['errorMessage']}\rTraceback (most recent call last):"
        assert logged in result.log
        assert result.report.cold


def test_syntax_error_trace_points_at_the_line(lam: Any) -> None:
    name = deploy(lam, "syntax", {"index.py": "x = 1\ndef handler(e, c)\n    return 1\n"})
    doc = invoke(lam, name).payload
    assert doc["stackTrace"] == ['  File "/var/task/index.py" Line 2\n    def handler(e, c)\n']


def test_handler_exception(lam: Any) -> None:
    name = deploy(lam, "raise", """
        class PaymentDeclined(Exception):
            pass

        def check(amount):
            raise PaymentDeclined(f"card declined for {amount}")

        def handler(event, context):
            check(event["amount"])
    """)
    result = invoke(lam, name, {"amount": 12})
    assert result.function_error == "Unhandled"
    doc = result.payload
    assert doc["errorType"] == "PaymentDeclined"
    assert doc["errorMessage"] == "card declined for 12"
    assert doc["requestId"] == result.report.request_id
    trace = doc["stackTrace"]
    assert isinstance(trace, list) and len(trace) == 2
    assert trace[0].startswith('  File "/var/task/index.py", line 8, in handler\n')
    assert trace[1].startswith('  File "/var/task/index.py", line 5, in check\n')
    assert "\n[ERROR] PaymentDeclined: card declined for 12\rTraceback (most recent call last):\r" \
        in result.log
    assert "\xa0\xa0File \"/var/task/index.py\", line 5, in check\r" in result.log
    # A handled error keeps the environment warm.
    again = invoke(lam, name, {"amount": 1})
    assert again.payload["errorMessage"] == "card declined for 1"
    assert not again.report.cold


def test_marshal_error(lam: Any) -> None:
    name = deploy(lam, "marshal", "def handler(event, context):\n    return {1, 2}\n")
    result = invoke(lam, name)
    assert result.function_error == "Unhandled"
    doc = result.payload
    assert doc["errorType"] == "Runtime.MarshalError"
    assert doc["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable")
    assert "[ERROR] Runtime.MarshalError: Unable to marshal response" in result.log


def test_responses_marshal_like_aws(lam: Any) -> None:
    name = deploy(lam, "marshal-ok", """
        import decimal

        def handler(event, context):
            if event.get("raw"):
                return b"\\x00raw bytes"
            return {"price": decimal.Decimal("1.10"), "count": decimal.Decimal(3),
                    "text": "z\\u00fcrich", "none": None}
    """)
    result = invoke(lam, name, {})
    assert result.raw == b'{"price": 1.10, "count": 3, "text": "z\xc3\xbcrich", "none": null}'
    assert invoke(lam, name, {"raw": True}).raw == b"\x00raw bytes"


# -- logs ----------------------------------------------------------------------

def test_print_stderr_and_logging_reach_the_tail_log(lam: Any) -> None:
    name = deploy(lam, "logs", """
        import logging
        import sys

        logger = logging.getLogger()
        logger.setLevel(logging.INFO)

        def handler(event, context):
            print("from print")
            sys.stderr.write("from stderr\\n")
            logger.info("from logging %s", 7)
            logger.debug("not shown")
            print("no newline", end="")
            return "ok"
    """)
    result = invoke(lam, name)
    assert result.ok() == "ok"
    rid = result.report.request_id
    lines = result.log.splitlines()
    assert lines[0] == f"START RequestId: {rid} Version: $LATEST"
    assert lines[1] == "from print"
    assert lines[2] == "from stderr"
    assert re.fullmatch(
        rf"\[INFO\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t{rid}\tfrom logging 7", lines[3]
    ), lines[3]
    assert lines[4] == "no newline"
    assert lines[5] == f"END RequestId: {rid}"
    assert lines[6].startswith(f"REPORT RequestId: {rid}\t")
    assert "not shown" not in result.log


def test_output_written_to_the_descriptors_is_logged(lam: Any) -> None:
    name = deploy(lam, "fdlogs", """
        import os
        import subprocess
        import sys

        def handler(event, context):
            subprocess.run(["echo", "from a child process"], check=True)
            os.write(1, b"straight to fd 1\\n")
            os.write(sys.stderr.fileno(), b"straight to fd 2\\n")
            sys.stdout.buffer.write(b"via stdout.buffer\\n")
            context.log("via context.log\\n")
            return "ok"
    """)
    for _ in range(3):  # every time, not by luck
        result = invoke(lam, name)
        assert result.ok() == "ok"
        body = result.log.split("\n", 1)[1].rsplit("END RequestId", 1)[0]
        assert sorted(body.splitlines()) == sorted([
            "from a child process", "straight to fd 1", "straight to fd 2",
            "via stdout.buffer", "via context.log"])


def test_output_between_invocations_waits_for_the_next(lam: Any) -> None:
    name = deploy(lam, "bglogs", """
        import threading
        import time

        def chatter():
            time.sleep(0.3)
            print("late line")

        def handler(event, context):
            threading.Thread(target=chatter).start()
            return "ok"
    """)
    first = invoke(lam, name)
    assert "late line" not in first.log
    time.sleep(0.5)
    second = invoke(lam, name)
    assert "late line" in second.log


def test_response_too_large(lam: Any) -> None:
    name = deploy(lam, "bigresponse", """
        def handler(event, context):
            return "x" * event["size"]
    """, MemorySize=256, Timeout=10)
    for size in (7_000_000, 20_000_000):
        result = invoke(lam, name, {"size": size})
        assert result.function_error == "Unhandled"
        assert result.payload == {
            "errorType": "Function.ResponseSizeTooLarge",
            "errorMessage": f"Response payload size ({size + 2} bytes) exceeded maximum "
                            "allowed payload size (6291556 bytes).",
        }
    # Just under the limit is fine, and the environment was never harmed.
    fits = invoke(lam, name, {"size": 6_291_554})
    assert len(fits.ok()) == 6_291_554
    assert not fits.report.cold


def test_tail_is_the_last_4_kb(lam: Any) -> None:
    name = deploy(lam, "tail", """
        def handler(event, context):
            for i in range(400):
                print(f"line {i:04d} " + "x" * 40)
    """)
    result = invoke(lam, name)
    assert len(result.log.encode()) == 4096
    assert "line 0399" in result.log
    assert "line 0000" not in result.log
    assert result.log.endswith("\n")
    assert result.report.request_id


def test_log_type_none_returns_no_log(lam: Any, context_fn: str) -> None:
    out = lam.invoke(FunctionName=context_fn)
    assert "LogResult" not in out
    assert json.loads(out["Payload"].read())["function_name"] == context_fn


# -- REPORT --------------------------------------------------------------------

def test_report_line_format_cold_then_warm(lam: Any) -> None:
    name = deploy(lam, "report", "def handler(event, context):\n    return 1\n")
    cold, warm = invoke(lam, name), invoke(lam, name)
    fields = r"REPORT RequestId: {}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms" \
             r"\tMemory Size: 128 MB\tMax Memory Used: \d+ MB"
    cold_line = cold.log.splitlines()[-1]
    warm_line = warm.log.splitlines()[-1]
    assert re.fullmatch(fields.format(cold.report.request_id) + r"\tInit Duration: \d+\.\d\d ms\t",
                        cold_line), cold_line
    assert re.fullmatch(fields.format(warm.report.request_id) + r"\t", warm_line), warm_line
    for report in (cold.report, warm.report):
        assert report.billed_ms in (max(1, math.ceil(report.duration_ms)),
                                    math.ceil(report.duration_ms) + 1)
        assert 0 < report.max_memory_mb <= 128
    assert cold.report.init_ms is not None and cold.report.init_ms > 0


def test_max_memory_used_is_measured(lam: Any) -> None:
    name = deploy(lam, "memory", """
        held = []

        def handler(event, context):
            held.append(b"x" * (event["mb"] << 20))
            return len(held)
    """, Timeout=10)
    baseline = invoke(lam, name, {"mb": 0})
    grown = invoke(lam, name, {"mb": 60})
    assert baseline.ok() == 1 and grown.ok() == 2
    assert baseline.report.max_memory_mb < 50
    assert grown.report.max_memory_mb >= 60
    assert grown.report.max_memory_mb >= baseline.report.max_memory_mb + 55
    assert grown.report.max_memory_mb <= 128
