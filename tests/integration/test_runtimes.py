"""Node.js and custom runtimes, and layers at /opt, in real environments."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import unique_name, wait_active
from tests.helpers import ROLE, make_zip

pytestmark = pytest.mark.sandbox
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def _create(lam: Any, runtime: str, handler: str, package: bytes, **kwargs: Any) -> str:
    name = unique_name("rt")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                        Code={"ZipFile": package}, **kwargs)
    wait_active(lam, name)
    return name


def _invoke(lam: Any, name: str, event: Any) -> tuple[Any, dict[str, Any], str]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    log = base64.b64decode(resp["LogResult"]).decode()
    return json.loads(resp["Payload"].read()), resp, log


@needs_node
def test_node_esm_async_handler(lam: Any) -> None:
    code = ("export const handler = async (event, context) => {\n"
            "  console.log('hello', event.a);\n"
            "  return { a: event.a, id: context.awsRequestId, fn: context.functionName };\n"
            "};\n")
    name = _create(lam, "nodejs20.x", "index.handler", make_zip({"index.mjs": code}))
    payload, resp, log = _invoke(lam, name, {"a": 5})
    assert payload["a"] == 5 and payload["fn"] == name
    assert resp["ExecutedVersion"] == "$LATEST"
    assert f"\t{payload['id']}\tINFO\thello 5" in log
    assert "REPORT RequestId: " + payload["id"] in log


@needs_node
def test_node_commonjs_callback_and_errors(lam: Any) -> None:
    code = ("exports.handler = function (event, context, callback) {\n"
            "  if (event.fail) { callback(new TypeError('nope')); return; }\n"
            "  callback(null, { ok: true });\n"
            "};\n")
    name = _create(lam, "nodejs22.x", "app.handler", make_zip({"app.js": code}))
    assert _invoke(lam, name, {})[0] == {"ok": True}
    payload, resp, _ = _invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "TypeError"
    assert payload["errorMessage"] == "nope"
    assert payload["trace"][0] == "TypeError: nope"


@needs_node
def test_node_init_errors(lam: Any) -> None:
    name = _create(lam, "nodejs20.x", "missing.handler", make_zip({"index.js": "x=1\n"}))
    payload, resp, _ = _invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find module 'missing'" in payload["errorMessage"]


def _awslambdaric_package(handler_code: str) -> bytes:
    """A custom-runtime package: the official Python runtime interface client + a bootstrap."""
    import awslambdaric
    import simplejson

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for module in (awslambdaric, simplejson):  # as `pip install -t` would package them
            root = Path(module.__file__ or "").parent
            for path in root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, f"{root.name}/{path.relative_to(root)}")
        native = importlib.util.find_spec("runtime_client")  # the client's C extension
        assert native is not None and native.origin is not None
        zf.write(native.origin, Path(native.origin).name)
        zf.writestr("index.py", handler_code)
        bootstrap = zipfile.ZipInfo("bootstrap")
        bootstrap.external_attr = 0o755 << 16
        python = Path(sys.executable).resolve()
        zf.writestr(bootstrap, f"#!/bin/sh\nexec {python} -m awslambdaric $_HANDLER\n")
    return buf.getvalue()


def test_custom_runtime_with_the_official_runtime_interface_client(lam: Any) -> None:
    pytest.importorskip("awslambdaric")
    code = ("def handler(event, context):\n"
            "    print('via the Runtime API', event)\n"
            "    if event.get('fail'):\n"
            "        raise KeyError('missing')\n"
            "    return {'echo': event, 'id': context.aws_request_id}\n")
    name = _create(lam, "provided.al2023", "index.handler", _awslambdaric_package(code))
    payload, resp, log = _invoke(lam, name, {"x": 1})
    assert payload["echo"] == {"x": 1}
    assert "via the Runtime API" in log
    assert f"REPORT RequestId: {payload['id']}" in log
    payload, resp, _ = _invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "KeyError"


def test_custom_runtime_without_bootstrap(lam: Any) -> None:
    name = _create(lam, "provided.al2", "x", make_zip({"README": "no bootstrap"}))
    payload, resp, _ = _invoke(lam, name, {})
    assert resp["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.InvalidEntrypoint"


def test_layers_are_mounted_at_opt_in_order(lam: Any) -> None:
    first = lam.publish_layer_version(LayerName=unique_name("lyr"), Content={"ZipFile": make_zip({
        "python/shared.py": "WHO = 'first'\n", "bin/tool": "#!/bin/sh\necho one\n"})})
    second = lam.publish_layer_version(LayerName=unique_name("lyr"), Content={
        "ZipFile": make_zip({"python/shared.py": "WHO = 'second'\n"})})
    code = ("import os, shared\n"
            "def handler(event, context):\n"
            "    return [shared.WHO, sorted(os.listdir('/opt')), os.access('/opt', os.W_OK)]\n")
    name = _create(lam, "python3.12", "index.handler", make_zip({"index.py": code}),
                   Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    payload, _, _ = _invoke(lam, name, {})
    assert payload == ["second", ["bin", "python"], False]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_shell_script_bootstrap_speaking_the_runtime_api_with_curl(lam: Any) -> None:
    script = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "$API/next")
  ID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  echo "shell runtime handling $ID"
  if [ "$EVENT" = '{"fail": true}' ]; then
    curl -sS -X POST -H "Lambda-Runtime-Function-Error-Type: Unhandled" \\
      -d '{"errorMessage":"shell says no","errorType":"ShellError"}' "$API/$ID/error" >/dev/null
  else
    curl -sS -X POST -d "{\\"got\\": $EVENT}" "$API/$ID/response" >/dev/null
  fi
done
"""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        zf.writestr(info, script)
    name = _create(lam, "provided.al2023", "unused", buf.getvalue())
    payload, resp, log = _invoke(lam, name, {"a": 1})
    assert payload == {"got": {"a": 1}}
    assert "shell runtime handling" in log
    payload, resp, _ = _invoke(lam, name, {"fail": True})
    assert resp["FunctionError"] == "Unhandled"
    assert payload == {"errorMessage": "shell says no", "errorType": "ShellError"}


RIC = Path(__file__).resolve().parent.parent / "fixtures" / "node-ric" / "node_modules"


@needs_node
@pytest.mark.skipif(not (RIC / "aws-lambda-ric" / "dist" / "rapid-client.node").exists(),
                    reason="aws-lambda-ric was not built (scripts/setup --dev builds it)")
def test_custom_runtime_with_the_official_node_runtime_interface_client(lam: Any) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        package = RIC / "aws-lambda-ric"
        for sub in ("package.json", "bin", "dist"):
            for path in [package / sub] if (package / sub).is_file() else \
                    (package / sub).rglob("*"):
                if path.is_file():
                    zf.write(path, f"node_modules/aws-lambda-ric/{path.relative_to(package)}")
        zf.writestr("index.mjs", (
            "export const handler = async (event, context) =>\n"
            "  ({ via: 'aws-lambda-ric', event, id: context.awsRequestId });\n"))
        bootstrap = zipfile.ZipInfo("bootstrap")
        bootstrap.external_attr = 0o755 << 16
        node = shutil.which("node")
        zf.writestr(bootstrap, f"#!/bin/sh\nexec {node} "
                               "/var/task/node_modules/aws-lambda-ric/bin/index.mjs $_HANDLER\n")
    name = _create(lam, "provided.al2023", "index.handler", buf.getvalue())
    payload, _, log = _invoke(lam, name, {"n": 7})
    assert payload["via"] == "aws-lambda-ric"
    assert payload["event"] == {"n": 7}
    assert f"REPORT RequestId: {payload['id']}" in log
