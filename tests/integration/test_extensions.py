"""Lambda extensions in real sandboxes: an external extension from a layer
(``extensions/my-ext``) registers, sees one INVOKE event per invocation,
subscribes to the Telemetry API and receives the function's log lines, gets
SHUTDOWN with AWS's reason when its environment is destroyed; a crashing or
failing extension fails Init with AWS's ``Extension.*`` error. Run against
Python, Node.js and a custom runtime.
"""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest

from loam.clock import FakeClock
from loam.runtimes.registry import RuntimeRegistry
from loam.sandbox.environment import EnvironmentSpec, ExecutionEnvironment, InvocationRequest
from loam.sandbox.host import HostCapabilities
from loam.sandbox.pool import EnvironmentPool
from tests.helpers import ROLE, client, make_zip, start_server
from tests.integration.sandbox_support import invoke, source, unique_name

pytestmark = pytest.mark.sandbox

# The extension: registers, writes what it sees under /tmp (the function reads it
# back) and to its log; with EXT_TELEMETRY set it also subscribes to the Telemetry
# API and appends every record it is sent to /tmp/telemetry.jsonl.
EXTENSION = source('''
    #!/usr/bin/env python3
    import json, os, socketserver, sys, threading, urllib.request
    from http.server import BaseHTTPRequestHandler, HTTPServer

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

    def call(method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(API + path, data=data, method=method,
                                         headers=headers or {})
        with urllib.request.urlopen(request) as answer:
            return answer.headers, json.loads(answer.read() or b"null")

    class Listener(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with open("/tmp/telemetry.jsonl", "a") as fh:
                for record in json.loads(body):
                    fh.write(json.dumps(record) + "\\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    class LineListener(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                with open("/tmp/telemetry.jsonl", "a") as fh:
                    fh.write(line.decode())

    headers, registered = call("POST", "/2020-01-01/extension/register",
                               {"events": ["INVOKE", "SHUTDOWN"]},
                               {"Lambda-Extension-Name": "my-ext"})
    me = {"Lambda-Extension-Identifier": headers["Lambda-Extension-Identifier"]}
    with open("/tmp/ext-register.json", "w") as fh:
        json.dump(registered, fh)
    protocol = os.environ.get("EXT_TELEMETRY")
    if protocol:
        if protocol == "TCP":
            server = socketserver.ThreadingTCPServer(("127.0.0.1", 4243), LineListener)
            destination = {"protocol": "TCP", "port": 4243}
        else:
            server = HTTPServer(("127.0.0.1", 4243), Listener)
            destination = {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"}
        threading.Thread(target=server.serve_forever, daemon=True).start()
        call("PUT", "/2022-07-01/telemetry", {
            "schemaVersion": "2022-07-01", "types": ["platform", "function"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": destination,
        }, me)
    while True:
        _, event = call("GET", "/2020-01-01/extension/event/next", headers=me)
        with open("/tmp/ext-events.jsonl", "a") as fh:
            fh.write(json.dumps(event) + "\\n")
        print("my-ext saw", event["eventType"], event.get("requestId", ""), flush=True)
        if event["eventType"] == "SHUTDOWN":
            left = event["deadlineMs"] / 1000 - __import__("time").time()
            print("my-ext shutdown", event["shutdownReason"], f"{left:.2f}", flush=True)
            sys.exit(0)
''')

PYTHON = source('''
    import os
    import time

    def read(path):
        try:
            with open(path) as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    def handler(event, context):
        print("function-marker", event.get("n"))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        if event.get("exit"):
            os._exit(event["exit"])
        return {"register": read("/tmp/ext-register.json"), "events": read("/tmp/ext-events.jsonl"),
                "telemetry": read("/tmp/telemetry.jsonl"), "id": context.aws_request_id}
''')

NODE = source('''
    const fs = require("node:fs");
    const read = (p) => { try { return fs.readFileSync(p, "utf8"); } catch { return ""; } };
    exports.handler = async (event, context) => {
      console.log("function-marker", event.n);
      return { register: read("/tmp/ext-register.json"), events: read("/tmp/ext-events.jsonl"),
               telemetry: read("/tmp/telemetry.jsonl"), id: context.awsRequestId };
    };
''')

# A custom runtime: a bootstrap speaking the Runtime API on the port the
# Extensions API shares.
BOOTSTRAP = source('''
    #!/usr/bin/env python3
    import json, os, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"

    def read(path):
        try:
            with open(path) as fh:
                return fh.read()
        except FileNotFoundError:
            return ""

    while True:
        with urllib.request.urlopen(API + "next") as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(answer.read())
        print("function-marker", event.get("n"), flush=True)
        body = {"register": read("/tmp/ext-register.json"), "events": read("/tmp/ext-events.jsonl"),
                "telemetry": read("/tmp/telemetry.jsonl"), "id": request_id}
        urllib.request.urlopen(urllib.request.Request(
            API + request_id + "/response", data=json.dumps(body).encode(), method="POST")).read()
''')

CRASHING = "#!/bin/sh\necho bad-ext starting\nexit 3\n"
INIT_ERROR = source('''
    #!/usr/bin/env python3
    import json, os, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/"
    answer = urllib.request.urlopen(urllib.request.Request(
        API + "register", data=b'{"events": ["INVOKE"]}', method="POST",
        headers={"Lambda-Extension-Name": "bad-ext"}))
    me = answer.headers["Lambda-Extension-Identifier"]
    urllib.request.urlopen(urllib.request.Request(
        API + "init/error", data=b'{"errorMessage": "no config", "errorType": "Config"}',
        method="POST", headers={"Lambda-Extension-Identifier": me,
                                "Lambda-Extension-Function-Error-Type": "Extension.NoConfig"}))
    print("bad-ext reported an init error", flush=True)
''')

# Exits while its first invocation runs: AWS resets the environment (Extension.Crash).
CRASH_ON_INVOKE = source('''
    #!/usr/bin/env python3
    import os, sys, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension/"
    answer = urllib.request.urlopen(urllib.request.Request(
        API + "register", data=b'{"events": ["INVOKE"]}', method="POST",
        headers={"Lambda-Extension-Name": "bad-ext"}))
    me = {"Lambda-Extension-Identifier": answer.headers["Lambda-Extension-Identifier"]}
    urllib.request.urlopen(urllib.request.Request(API + "event/next", headers=me)).read()
    sys.exit(4)
''')
NEVER_REGISTERS = "#!/bin/sh\necho bad-ext waiting\nexec sleep 600\n"


def _executable_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            zf.writestr(info, text)
    return buf.getvalue()


def _layer(lam: Any, files: dict[str, str]) -> str:
    out = lam.publish_layer_version(LayerName=unique_name("ext"),
                                    Content={"ZipFile": _executable_zip(files)})
    return str(out["LayerVersionArn"])


@pytest.fixture(scope="module")
def ext_layer(lam: Any) -> str:
    return _layer(lam, {"extensions/my-ext": EXTENSION})


def _runtimes() -> list[Any]:
    node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
    return ["python3.12", pytest.param("nodejs20.x", marks=node), "provided.al2023"]


def _package(runtime: str) -> bytes:
    if runtime.startswith("nodejs"):
        return make_zip({"index.js": NODE})
    if runtime.startswith("provided"):
        return _executable_zip({"bootstrap": BOOTSTRAP})
    return make_zip({"index.py": PYTHON})


def _create(lam: Any, runtime: str, layers: list[str], **kwargs: Any) -> str:
    name = unique_name("ext")
    lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler="index.handler",
                        Code={"ZipFile": _package(runtime)}, Layers=layers, **kwargs)
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


@pytest.mark.parametrize("runtime", _runtimes())
def test_extension_registers_and_sees_each_invocation(lam: Any, ext_layer: str,
                                                      runtime: str) -> None:
    name = _create(lam, runtime, [ext_layer])
    first = invoke(lam, name, {"n": 1})
    second = invoke(lam, name, {"n": 2})
    body = second.ok()
    assert json.loads(body["register"]) == {
        "functionName": name, "functionVersion": "$LATEST", "handler": "index.handler"}
    events = [json.loads(line) for line in body["events"].splitlines()]
    assert events[0]["eventType"] == "INVOKE"
    assert events[0]["requestId"] == first.ok()["id"]
    assert events[0]["invokedFunctionArn"].endswith(f":function:{name}")
    assert events[0]["deadlineMs"] > time.time() * 1000 - 60_000
    assert events[0]["tracing"]["type"] == "X-Amzn-Trace-Id"
    # Init: the extension is listed ready; its output and the function's reach the log.
    assert "EXTENSION\tName: my-ext\tState: Ready\tEvents: [INVOKE,SHUTDOWN]" in first.log
    assert f"my-ext saw INVOKE {first.ok()['id']}" in first.log
    assert "function-marker 1" in first.log
    assert first.report.cold and not second.report.cold
    # The invoke phase ended only once the extension was back in event/next.
    assert f"my-ext saw INVOKE {second.ok()['id']}" in second.log
    lam.delete_function(FunctionName=name)


@pytest.mark.parametrize("protocol", ["HTTP", pytest.param("TCP", id="TCP")])
@pytest.mark.parametrize("runtime", _runtimes())
def test_telemetry_subscriber_receives_function_logs(lam: Any, ext_layer: str,
                                                     runtime: str, protocol: str) -> None:
    if protocol == "TCP" and runtime != "python3.12":
        pytest.skip("one runtime is enough for the TCP destination")
    name = _create(lam, runtime, [ext_layer],
                   Environment={"Variables": {"EXT_TELEMETRY": protocol}})
    first = invoke(lam, name, {"n": 7}).ok()
    records: list[dict[str, Any]] = []
    for _ in range(50):
        body = invoke(lam, name, {"n": 0}).ok()
        records = [json.loads(line) for line in body["telemetry"].splitlines()]
        if any(r["type"] == "platform.report" and r["record"]["requestId"] == first["id"]
               for r in records):
            break
        time.sleep(0.1)
    functions = [r["record"] for r in records if r["type"] == "function"]
    assert any("function-marker 7" in line for line in functions), records
    kinds = {(r["type"], r["record"].get("requestId")) for r in records
             if r["type"].startswith("platform.") and isinstance(r["record"], dict)}
    for kind in ("platform.start", "platform.runtimeDone", "platform.report"):
        assert (kind, first["id"]) in kinds, records
    assert any(r["type"] == "platform.initStart" for r in records)
    report = next(r["record"] for r in records
                  if r["type"] == "platform.report" and r["record"]["requestId"] == first["id"])
    assert report["status"] == "success"
    assert set(report["metrics"]) >= {"durationMs", "billedDurationMs", "memorySizeMB",
                                      "maxMemoryUsedMB", "initDurationMs"}
    assert all(r["time"].endswith("Z") for r in records)
    lam.delete_function(FunctionName=name)


@pytest.mark.parametrize(("script", "error_type", "message"), [
    (CRASHING, "Extension.Crash", "exit status 3"),
    (INIT_ERROR, "Extension.InitError", "Extension.NoConfig"),
])
@pytest.mark.parametrize("runtime", ["python3.12", "provided.al2023"])
def test_failing_extension_fails_init(lam: Any, runtime: str, script: str, error_type: str,
                                      message: str) -> None:
    name = _create(lam, runtime, [_layer(lam, {"extensions/bad-ext": script})])
    result = invoke(lam, name, {"n": 1})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == error_type
    assert message in result.payload["errorMessage"]
    assert "bad-ext" in result.log
    lam.delete_function(FunctionName=name)


# -- SHUTDOWN, straight on the environment pool -----------------------------------------


def _spec(tmp: Path, timeout_s: int = 3) -> EnvironmentSpec:
    code, opt = tmp / "code", tmp / "opt"
    (opt / "extensions").mkdir(parents=True)
    code.mkdir()
    (code / "index.py").write_text(PYTHON)
    ext = opt / "extensions" / "my-ext"
    ext.write_text(EXTENSION)
    for path in (tmp, code, opt, opt / "extensions", ext):
        path.chmod(0o755)
    (code / "index.py").chmod(0o644)
    return EnvironmentSpec(
        function_name="shutdown", version="$LATEST", memory_mb=256, timeout_s=timeout_s,
        ephemeral_mb=512, code_dir=code, runtime=RuntimeRegistry().resolve("python3.12"),
        handler="index.handler", environment={}, log_group="/aws/lambda/shutdown",
        region="us-east-1", key=uuid.uuid4().hex, opt_dir=opt)


def _request(payload: dict[str, Any]) -> InvocationRequest:
    return InvocationRequest(request_id=str(uuid.uuid4()), payload=json.dumps(payload).encode(),
                             invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:"
                                                  "function:shutdown")


@pytest.mark.parametrize(("path", "reason"), [("reap", "spindown"), ("retire", "spindown"),
                                               ("evict", "spindown"), ("close", "spindown"),
                                               ("timeout", "timeout")])
def test_shutdown_event_on_destroy(tmp_path: Path, path: str, reason: str) -> None:
    """Each way the pool ends an environment runs AWS's Shutdown phase first."""
    spec = _spec(tmp_path / "fn", timeout_s=1)
    clock = FakeClock()
    pool = EnvironmentPool(HostCapabilities.detect(), tmp_path / "data", clock, 600,
                           0 if path == "evict" else 4, templates=False)

    async def destroy(env: ExecutionEnvironment) -> None:
        if path == "reap":
            clock.advance(601)
            assert await pool.reap() == 1
        elif path == "retire":
            await pool.retire(spec.function_name)
        elif path == "close":
            await pool.close()
        elif path == "timeout":
            await env.destroy("timeout")  # what the invoke service does after a timeout

    async def scenario() -> tuple[str, str, float]:
        try:
            async with pool.environment(spec) as env:
                payload = {"sleep": 3} if path == "timeout" else {"n": 1}
                outcome = await env.invoke(_request(payload))
                started = time.monotonic()
                if path == "timeout":
                    await destroy(env)
            if path != "timeout":
                started = time.monotonic()
                await destroy(env)
            assert env.destroyed is not None
            return outcome.status, "".join(env.shutdown_logs), time.monotonic() - started
        finally:
            await pool.close()

    status, logs, took = asyncio.run(scenario())
    assert status == ("timeout" if path == "timeout" else "success")
    assert f"my-ext shutdown {reason}" in logs
    left = float(logs.split(f"my-ext shutdown {reason} ")[1].split()[0])
    assert 0 < left <= 2.0  # AWS's 2,000 ms with external extensions
    assert took < 2.5


def test_runtime_crash_and_timeout_with_extensions(lam: Any, ext_layer: str) -> None:
    name = _create(lam, "python3.12", [ext_layer], Timeout=1)
    crashed = invoke(lam, name, {"exit": 3})
    assert crashed.payload["errorType"] == "Runtime.ExitError"
    assert "Runtime exited with error: exit status 3" in crashed.payload["errorMessage"]
    timed_out = invoke(lam, name, {"sleep": 3})
    assert timed_out.payload["errorType"] == "Sandbox.Timedout", (timed_out.raw, timed_out.log)
    after = invoke(lam, name, {"n": 1})
    assert after.report.cold
    assert f"my-ext saw INVOKE {after.ok()['id']}" in after.log
    lam.delete_function(FunctionName=name)


def test_extension_crash_after_init_resets_the_environment(lam: Any) -> None:
    name = _create(lam, "python3.12", [_layer(lam, {"extensions/bad-ext": CRASH_ON_INVOKE})])
    crashed = invoke(lam, name, {"n": 1})
    assert crashed.function_error == "Unhandled"
    assert crashed.payload["errorType"] == "Extension.Crash"
    rid = crashed.report.request_id
    assert crashed.payload["errorMessage"] == f"RequestId: {rid} Error: exit status 4"
    assert f"RequestId: {rid} Error: exit status 4\nExtension.Crash" in crashed.log
    assert crashed.report.cold
    assert invoke(lam, name, {"n": 2}).report.cold  # a fresh environment
    lam.delete_function(FunctionName=name)


def test_extension_that_never_registers_times_init_out(lam: Any) -> None:
    name = _create(lam, "python3.12", [_layer(lam, {"extensions/bad-ext": NEVER_REGISTERS})])
    result = invoke(lam, name, {"n": 1})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert "extension bad-ext did not register" in result.payload["errorMessage"]
    assert "EXTENSION\tName: bad-ext\tState: Started\tEvents: []" in result.log
    lam.delete_function(FunctionName=name)


def test_extensions_start_fresh_environments_when_templates_are_on(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("ext-templates") / "data",
                          extra_env={"LOAM_TEMPLATES": "1"})
    try:
        lam = client(server)
        name = _create(lam, "python3.12", [_layer(lam, {"extensions/my-ext": EXTENSION})])
        first = invoke(lam, name, {"n": 1}).ok()
        events = [json.loads(line) for line in invoke(lam, name, {"n": 2}).ok()["events"]
                  .splitlines()]
        assert events[0]["requestId"] == first["id"]
    finally:
        server.stop()


# Calls the Extensions API from the function itself (after Init): AWS's refusals.
API_ERRORS = source('''
    import json, os, urllib.error, urllib.request

    API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]

    def call(method, path, body=None, headers=None):
        request = urllib.request.Request(API + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request) as answer:
                return [answer.status, json.loads(answer.read())]
        except urllib.error.HTTPError as exc:
            return [exc.code, json.loads(exc.read())]

    def handler(event, context):
        unknown = {"Lambda-Extension-Identifier": "4ce7b4a6-3c70-4a4c-8d68-d2e0b36b2b1c"}
        return {
            "next_without_id": call("GET", "/2020-01-01/extension/event/next"),
            "next_bad_id": call("GET", "/2020-01-01/extension/event/next",
                                headers={"Lambda-Extension-Identifier": "nope"}),
            "next_unknown": call("GET", "/2020-01-01/extension/event/next", headers=unknown),
            "register_nameless": call("POST", "/2020-01-01/extension/register", b"{}"),
            "register_malformed": call("POST", "/2020-01-01/extension/register", b"{nope",
                                       {"Lambda-Extension-Name": "late"}),
            "register_late": call("POST", "/2020-01-01/extension/register",
                                  b\'{"events": ["INVOKE"]}\',
                                  {"Lambda-Extension-Name": "late"}),
            "telemetry_unknown": call("PUT", "/2022-07-01/telemetry", b"{}", unknown),
            "init_error_unknown": call("POST", "/2020-01-01/extension/init/error", b"{}",
                                       dict(unknown, **{
                                           "Lambda-Extension-Function-Error-Type": "X.Y"})),
        }
''')


def test_extensions_api_errors(lam: Any, ext_layer: str) -> None:
    name = unique_name("ext-api")
    package = make_zip({"index.py": API_ERRORS})
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": package}, Layers=[ext_layer])
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    got = invoke(lam, name, {}).ok()
    expected = {
        "next_without_id": (403, "Extension.MissingExtensionIdentifier",
                            "Missing Lambda-Extension-Identifier header"),
        "next_bad_id": (403, "Extension.InvalidExtensionIdentifier",
                        "Invalid Lambda-Extension-Identifier"),
        "next_unknown": (403, "Extension.UnknownExtensionIdentifier",
                         "Unknown extension 4ce7b4a6-3c70-4a4c-8d68-d2e0b36b2b1c"),
        "register_nameless": (403, "Extension.InvalidExtensionName", "Empty extension name"),
        "register_malformed": (403, "InvalidRequestFormat", None),
        "register_late": (403, "Extension.RegistrationClosed",
                          "Extension registration closed already"),
        "telemetry_unknown": (403, "Extension.UnknownExtensionIdentifier", None),
        "init_error_unknown": (403, "Extension.UnknownExtensionIdentifier", None),
    }
    for key, (status, error_type, message) in expected.items():
        code, doc = got[key]
        assert (code, doc["errorType"]) == (status, error_type), (key, got[key])
        if message is not None:
            assert doc["errorMessage"] == message, (key, got[key])
    lam.delete_function(FunctionName=name)
