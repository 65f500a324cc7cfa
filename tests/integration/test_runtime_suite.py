"""One behavioural suite, run against every runtime family.

Python (managed), Node.js (managed) and a custom runtime (the official
awslambdaric behind loam's Runtime API) must behave the same way for: echo,
handler errors, timeouts, context fields, environment variables, logs, init
errors, and a layer's ``/opt/bin`` on the PATH.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.support import unique_name, wait_active
from tests.helpers import ROLE, make_zip
from tests.integration.test_runtimes import _awslambdaric_package

pytestmark = pytest.mark.sandbox

PYTHON = """
import os, subprocess, time

def handler(event, context):
    op = event.get("op")
    if op == "error":
        raise ValueError("boom")
    if op == "sleep":
        time.sleep(5)
    if op == "context":
        return {"name": context.function_name, "version": context.function_version,
                "arn": context.invoked_function_arn, "memory": int(context.memory_limit_in_mb),
                "id": context.aws_request_id, "left": context.get_remaining_time_in_millis()}
    if op == "env":
        return os.environ.get("GREETING")
    if op == "log":
        print("log-marker")
        return "logged"
    if op == "layer":
        return subprocess.run(["layertool"], capture_output=True, text=True).stdout.strip()
    return event
"""

NODE = """
const { execSync } = require("node:child_process");
exports.handler = async (event, context) => {
  const op = event.op;
  if (op === "error") throw new Error("boom");
  if (op === "sleep") await new Promise((r) => setTimeout(r, 5000));
  if (op === "context") return { name: context.functionName, version: context.functionVersion,
    arn: context.invokedFunctionArn, memory: Number(context.memoryLimitInMB),
    id: context.awsRequestId, left: context.getRemainingTimeInMillis() };
  if (op === "env") return process.env.GREETING;
  if (op === "log") { console.log("log-marker"); return "logged"; }
  if (op === "layer") return execSync("layertool").toString().trim();
  return event;
};
"""

ERROR_TYPE = {"python3.12": "ValueError", "nodejs20.x": "Error", "provided.al2023": "ValueError"}


def _package(runtime: str) -> bytes:
    if runtime == "nodejs20.x":
        return make_zip({"index.js": NODE})
    if runtime == "provided.al2023":
        return _awslambdaric_package(PYTHON)
    return make_zip({"index.py": PYTHON})


def _runtimes() -> list[Any]:
    node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
    return ["python3.12", pytest.param("nodejs20.x", marks=node), "provided.al2023"]


@pytest.fixture(scope="module")
def layer_arn(lam: Any) -> str:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        tool = zipfile.ZipInfo("bin/layertool")
        tool.external_attr = 0o755 << 16
        zf.writestr(tool, "#!/bin/sh\necho from-layer\n")
    out = lam.publish_layer_version(LayerName=unique_name("tools"),
                                    Content={"ZipFile": buf.getvalue()})
    return str(out["LayerVersionArn"])


@pytest.fixture(scope="module", params=_runtimes())
def function(request: pytest.FixtureRequest, lam: Any, layer_arn: str) -> Iterator[str]:
    runtime = request.param
    if runtime == "provided.al2023":
        pytest.importorskip("awslambdaric")
    name = unique_name("suite")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": _package(runtime)}, Timeout=1, MemorySize=256,
                        Environment={"Variables": {"GREETING": "hello"}}, Layers=[layer_arn])
    wait_active(lam, name)
    yield name
    lam.delete_function(FunctionName=name)


def _call(lam: Any, name: str, op: str | None = None) -> tuple[Any, dict[str, Any], str]:
    event = {"op": op} if op else {"echo": [1, "two", {"three": 3}]}
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return json.loads(resp["Payload"].read()), resp, base64.b64decode(resp["LogResult"]).decode()


def _runtime(lam: Any, name: str) -> str:
    return str(lam.get_function_configuration(FunctionName=name)["Runtime"])


def test_echo(lam: Any, function: str) -> None:
    payload, resp, _ = _call(lam, function)
    assert payload == {"echo": [1, "two", {"three": 3}]}
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"


def test_handler_error(lam: Any, function: str) -> None:
    payload, resp, _ = _call(lam, function, "error")
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorMessage"] == "boom"
    assert payload["errorType"] == ERROR_TYPE[_runtime(lam, function)]


def test_context_fields(lam: Any, function: str) -> None:
    payload, _, log = _call(lam, function, "context")
    assert payload["name"] == function
    assert payload["version"] == "$LATEST"
    assert payload["arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{function}"
    assert payload["memory"] == 256
    assert 0 < payload["left"] <= 1000
    assert f"REPORT RequestId: {payload['id']}" in log


def test_environment_variables(lam: Any, function: str) -> None:
    assert _call(lam, function, "env")[0] == "hello"


def test_logs_reach_the_tail(lam: Any, function: str) -> None:
    payload, _, log = _call(lam, function, "log")
    assert payload == "logged"
    assert "log-marker" in log
    assert log.index("START RequestId:") < log.index("log-marker") < log.index("END RequestId:")


def test_layer_bin_is_on_the_path(lam: Any, function: str) -> None:
    assert _call(lam, function, "layer")[0] == "from-layer"


def test_timeout(lam: Any, function: str) -> None:
    payload, resp, _ = _call(lam, function, "sleep")
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert _call(lam, function)[0] == {"echo": [1, "two", {"three": 3}]}


@pytest.mark.parametrize("runtime", _runtimes())
def test_init_error(lam: Any, runtime: str) -> None:
    if runtime == "provided.al2023":
        pytest.importorskip("awslambdaric")
    name = unique_name("initerr")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="missing.handler",
                        Code={"ZipFile": _package(runtime)})
    try:
        wait_active(lam, name)
        payload, resp, _ = _call(lam, name)
        assert resp["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ImportModuleError"
    finally:
        lam.delete_function(FunctionName=name)
