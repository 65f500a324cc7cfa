"""InvokeWithResponseStream through boto3: managed Python (buffered), Node.js
(``awslambda.streamifyResponse``) and a custom runtime streaming over the
Runtime API with chunked encoding and error trailers."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name

pytestmark = pytest.mark.sandbox

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

PYTHON = """
def handler(event, context):
    print("python-marker")
    if event.get("fail"):
        raise ValueError("no good")
    return {"echo": event}
"""

NODE = """
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  console.log("node-marker", context.awsRequestId);
  if (event.op === "http") {
    const stream = awslambda.HttpResponseStream.from(responseStream,
      { statusCode: 201, headers: { "x-custom": "yes" } });
    stream.write("hello");
    stream.end();
    return;
  }
  for (let i = 0; i < (event.chunks ?? 3); i++) {
    responseStream.write(`chunk${i};`);
    await sleep(event.delay ?? 0);
  }
  if (event.op === "fail") throw new Error("boom mid-stream");
  if (event.op === "hang") await sleep(60000);
  responseStream.end();
});
"""

# A custom runtime: the Runtime API loop by hand, the response streamed in chunks.
BOOTSTRAP = """#!{python} -S
import base64, json, os, socket, time, urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, PORT = API.split(":")
TRAILERS = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"

while True:
    with urllib.request.urlopen(f"http://{{API}}/2018-06-01/runtime/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    conn = socket.create_connection((HOST, int(PORT)))
    conn.sendall((f"POST /2018-06-01/runtime/invocation/{{rid}}/response HTTP/1.1\\r\\n"
                  f"Host: {{API}}\\r\\nLambda-Runtime-Function-Response-Mode: streaming\\r\\n"
                  f"Transfer-Encoding: chunked\\r\\nTrailer: {{TRAILERS}}\\r\\n"
                  "Content-Type: text/plain\\r\\n\\r\\n").encode())
    try:
        for i in range(event.get("chunks", 3)):
            data = event.get("size", 0) * b"x" or f"part{{i}};".encode()
            conn.sendall(b"%x\\r\\n%s\\r\\n" % (len(data), data))
            time.sleep(event.get("delay", 0))
        trailer = b""
        if event.get("fail"):
            doc = json.dumps({{"errorType": "StreamError", "errorMessage": "broke mid-stream"}})
            trailer = (b"Lambda-Runtime-Function-Error-Type: StreamError\\r\\n"
                       b"Lambda-Runtime-Function-Error-Body: "
                       + base64.b64encode(doc.encode()) + b"\\r\\n")
        conn.sendall(b"0\\r\\n" + trailer + b"\\r\\n")
    except OSError:
        pass
    try:
        status = conn.recv(4096).split(b"\\r\\n")[0].decode()
    except OSError as exc:
        status = repr(exc)
    print("runtime-api answered", status, flush=True)
    conn.close()
"""


@dataclass
class Streamed:
    response: dict[str, Any]
    chunks: list[bytes]
    arrivals: list[float]  # seconds after the call, one per chunk
    complete: dict[str, Any]
    finished: float

    @property
    def payload(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def log(self) -> str:
        return base64.b64decode(self.complete.get("LogResult", "")).decode()


def _stream(lam: Any, name: str, event: Any = None, **kwargs: Any) -> Streamed:
    started = time.monotonic()
    resp = lam.invoke_with_response_stream(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), **kwargs)
    chunks: list[bytes] = []
    arrivals: list[float] = []
    complete: dict[str, Any] | None = None
    for item in resp["EventStream"]:
        assert complete is None, "nothing may follow InvokeComplete"
        if "PayloadChunk" in item:
            chunks.append(item["PayloadChunk"]["Payload"])
            arrivals.append(time.monotonic() - started)
        else:
            complete = item["InvokeComplete"]
    assert complete is not None, "every stream ends in InvokeComplete"
    return Streamed(resp, chunks, arrivals, complete, time.monotonic() - started)


def _answers(lam: Any, name: str, out: Streamed) -> str:
    """What the runtime printed after its response: in that invocation's log, or the next's."""
    return out.log + _stream(lam, name, LogType="Tail").log


def _function(lam: Any, prefix: str, runtime: str, package: bytes, **kwargs: Any) -> Iterator[str]:
    name = unique_name(prefix)
    deploy(lam, name, package, Runtime=runtime, **kwargs)
    yield name
    lam.delete_function(FunctionName=name)


def _zip(files: dict[str, str], executable: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, content in files.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o755 if path in executable else 0o644) << 16
            zf.writestr(info, content)
    return buf.getvalue()


@pytest.fixture(scope="module")
def python_fn(lam: Any) -> Iterator[str]:
    yield from _function(lam, "stream-py", "python3.12", _zip({"index.py": PYTHON}))


@pytest.fixture(scope="module")
def node_fn(lam: Any) -> Iterator[str]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    yield from _function(lam, "stream-node", "nodejs20.x", _zip({"index.mjs": NODE}),
                         Timeout=3)


@pytest.fixture(scope="module")
def custom_fn(lam: Any) -> Iterator[str]:
    python = Path(sys.executable).resolve()
    package = _zip({"bootstrap": BOOTSTRAP.format(python=python)}, executable=("bootstrap",))
    yield from _function(lam, "stream-custom", "provided.al2023", package, Timeout=10)


# -- a function that does not stream ---------------------------------------------


def test_a_buffered_response_arrives_as_one_chunk(lam: Any, python_fn: str) -> None:
    out = _stream(lam, python_fn, {"a": [1, 2]})
    assert out.response["StatusCode"] == 200
    assert out.response["ExecutedVersion"] == "$LATEST"
    headers = out.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["x-amz-executed-version"] == "$LATEST"
    assert out.response["ResponseMetadata"]["RequestId"]
    assert [json.loads(c) for c in out.chunks] == [{"echo": {"a": [1, 2]}}]
    assert out.complete == {}


def test_log_type_tail_puts_the_log_in_invoke_complete(lam: Any, python_fn: str) -> None:
    out = _stream(lam, python_fn, {}, LogType="Tail")
    request_id = out.response["ResponseMetadata"]["RequestId"]
    assert set(out.complete) == {"LogResult"}
    assert out.log.startswith(f"START RequestId: {request_id} Version: $LATEST")
    assert "python-marker" in out.log
    assert f"END RequestId: {request_id}" in out.log
    assert f"REPORT RequestId: {request_id}" in out.log


def test_a_function_error_is_reported_in_invoke_complete(lam: Any, python_fn: str) -> None:
    out = _stream(lam, python_fn, {"fail": True})
    assert out.response["StatusCode"] == 200
    assert out.chunks == []
    assert out.complete == {"ErrorCode": "ValueError", "ErrorDetails": "no good"}


def test_a_qualifier_picks_the_version(lam: Any, python_fn: str) -> None:
    version = lam.publish_version(FunctionName=python_fn)["Version"]
    lam.create_alias(FunctionName=python_fn, Name="live", FunctionVersion=version)
    out = _stream(lam, python_fn, {"v": 1}, Qualifier="live")
    assert out.response["ExecutedVersion"] == version
    assert [json.loads(c) for c in out.chunks] == [{"echo": {"v": 1}}]


def test_dry_run_and_errors_before_the_stream(lam: Any, python_fn: str) -> None:
    resp = lam.invoke_with_response_stream(FunctionName=python_fn, InvocationType="DryRun")
    assert resp["StatusCode"] == 204
    assert list(resp["EventStream"]) == []
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName=unique_name("missing"))
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke_with_response_stream(FunctionName=python_fn, Payload=b"{not json")


def test_throttling_is_refused_before_the_stream(lam: Any, python_fn: str) -> None:
    lam.put_function_concurrency(FunctionName=python_fn, ReservedConcurrentExecutions=0)
    try:
        with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
            lam.invoke_with_response_stream(FunctionName=python_fn, Payload=b"{}")
        assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    finally:
        lam.delete_function_concurrency(FunctionName=python_fn)
    assert _stream(lam, python_fn, {"again": 1}).complete == {}


# -- Node.js: awslambda.streamifyResponse -------------------------------------------


@needs_node
def test_node_chunks_arrive_while_the_function_runs(lam: Any, node_fn: str) -> None:
    out = _stream(lam, node_fn, {"chunks": 3, "delay": 600}, LogType="Tail")
    assert out.chunks == [b"chunk0;", b"chunk1;", b"chunk2;"]
    # The function sleeps 0.6 s after each write: the first chunk is in the
    # caller's hands at least 1.2 s before the function has finished.
    assert out.finished - out.arrivals[0] >= 1.1, out.arrivals
    assert out.arrivals[1] - out.arrivals[0] >= 0.5, out.arrivals
    assert set(out.complete) == {"LogResult"}
    assert "node-marker" in out.log and "REPORT RequestId" in out.log


@needs_node
def test_node_error_mid_stream(lam: Any, node_fn: str) -> None:
    out = _stream(lam, node_fn, {"op": "fail", "chunks": 2}, LogType="Tail")
    assert out.chunks == [b"chunk0;", b"chunk1;"]
    assert out.complete["ErrorCode"] == "Error"
    assert out.complete["ErrorDetails"] == "boom mid-stream"
    assert "Invoke Error" in out.log


@needs_node
def test_node_timeout_mid_stream(lam: Any, node_fn: str) -> None:
    out = _stream(lam, node_fn, {"op": "hang", "chunks": 1})
    assert out.chunks == [b"chunk0;"]
    assert out.complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 3.00 seconds" in out.complete["ErrorDetails"]


@needs_node
def test_node_http_response_stream_prelude(lam: Any, node_fn: str) -> None:
    out = _stream(lam, node_fn, {"op": "http"})
    prelude, _, body = out.payload.partition(b"\x00" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-custom": "yes"}}
    assert body == b"hello"
    assert out.complete == {}


@needs_node
def test_plain_invoke_of_a_streaming_function_buffers_it(lam: Any, node_fn: str) -> None:
    resp = lam.invoke(FunctionName=node_fn, Payload=b'{"chunks": 4}')
    assert resp["Payload"].read() == b"chunk0;chunk1;chunk2;chunk3;"
    assert "FunctionError" not in resp


# -- a custom runtime streaming through the Runtime API -----------------------------


def test_custom_runtime_streams_chunked_responses(lam: Any, custom_fn: str) -> None:
    out = _stream(lam, custom_fn, {"chunks": 3, "delay": 0.5}, LogType="Tail")
    assert out.payload == b"part0;part1;part2;"
    assert out.finished - out.arrivals[0] >= 0.9, out.arrivals
    assert set(out.complete) == {"LogResult"}
    assert "runtime-api answered HTTP/1.1 202" in _answers(lam, custom_fn, out)


def test_custom_runtime_error_trailers(lam: Any, custom_fn: str) -> None:
    out = _stream(lam, custom_fn, {"chunks": 2, "fail": True}, LogType="Tail")
    assert out.payload == b"part0;part1;"
    assert out.complete["ErrorCode"] == "StreamError"
    assert out.complete["ErrorDetails"] == "broke mid-stream"
    resp = lam.invoke(FunctionName=custom_fn, Payload=b'{"chunks": 1, "fail": true}')
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read()) == {"errorType": "StreamError",
                                                  "errorMessage": "broke mid-stream"}


def test_custom_runtime_past_the_streamed_limit(lam: Any, custom_fn: str) -> None:
    out = _stream(lam, custom_fn, {"chunks": 21, "size": 1 << 20}, LogType="Tail")
    assert len(out.payload) <= 20 * 1024 * 1024
    assert out.complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "runtime-api answered HTTP/1.1 413" in _answers(lam, custom_fn, out)
