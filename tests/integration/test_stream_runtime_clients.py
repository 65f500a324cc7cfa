"""Response streaming through the Runtime API with AWS's own Node.js runtime
interface client (aws-lambda-ric) as a custom runtime: its streamifyResponse
posts in streaming mode with chunked encoding and error trailers."""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.support import unique_name, wait_active
from tests.helpers import ROLE
from tests.integration.test_runtimes import RIC

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed"),
    pytest.mark.skipif(not (RIC / "aws-lambda-ric" / "dist" / "rapid-client.node").exists(),
                       reason="aws-lambda-ric was not built (scripts/setup --dev builds it)"),
]

HANDLER = """
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  for (let i = 0; i < 3; i++) {
    responseStream.write(`ric${i};`);
    await sleep(event.delay ?? 0);
  }
  if (event.fail) throw new TypeError("ric failed mid-stream");
  responseStream.end();
});
"""


@pytest.fixture(scope="module")
def ric_fn(lam: Any) -> Iterator[str]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        package = RIC / "aws-lambda-ric"
        for sub in ("package.json", "bin", "dist"):
            paths = [package / sub] if (package / sub).is_file() else (package / sub).rglob("*")
            for path in paths:
                if path.is_file():
                    zf.write(path, f"node_modules/aws-lambda-ric/{path.relative_to(package)}")
        zf.writestr("index.mjs", HANDLER)
        bootstrap = zipfile.ZipInfo("bootstrap")
        bootstrap.external_attr = 0o755 << 16
        zf.writestr(bootstrap, f"#!/bin/sh\nexec {shutil.which('node')} "
                               "/var/task/node_modules/aws-lambda-ric/bin/index.mjs $_HANDLER\n")
    name = unique_name("stream-ric")
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": buf.getvalue()}, Timeout=10)
    wait_active(lam, name)
    yield name
    lam.delete_function(FunctionName=name)


def _events(lam: Any, name: str, event: dict[str, Any]) -> tuple[list[Any], list[float]]:
    started = time.monotonic()
    resp = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event).encode())
    events, arrivals = [], []
    for item in resp["EventStream"]:
        events.append(item)
        arrivals.append(time.monotonic() - started)
    return events, arrivals


def test_the_official_client_streams_through_the_runtime_api(lam: Any, ric_fn: str) -> None:
    events, arrivals = _events(lam, ric_fn, {"delay": 500})
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert b"".join(chunks) == b"ric0;ric1;ric2;"
    assert events[-1] == {"InvokeComplete": {}}
    assert arrivals[-1] - arrivals[0] >= 0.9, arrivals  # the first chunk came early


def test_the_official_client_reports_errors_in_trailers(lam: Any, ric_fn: str) -> None:
    events, _ = _events(lam, ric_fn, {"fail": True})
    chunks = [e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e]
    assert b"".join(chunks) == b"ric0;ric1;ric2;"
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "TypeError"
    assert events[-1]["InvokeComplete"]["ErrorDetails"] == "ric failed mid-stream"
