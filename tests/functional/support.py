"""Shared by the functional tests: names, quick waits, packages, raw HTTP."""

from __future__ import annotations

import base64
import hashlib
import http.client
import importlib.util
import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.helpers import ROLE, Server, make_zip

__all__ = [
    "ACCOUNT",
    "ECHO",
    "REGION",
    "ROLE",
    "RawResponse",
    "b64sha256",
    "deploy",
    "function_arn",
    "powertools_zip",
    "raw_request",
    "unique_name",
    "wait_active",
    "wait_updated",
    "zeros_zip",
]

ACCOUNT = "123456789012"
REGION = "us-east-1"
ECHO = "def handler(event, context):\n    return event\n"


def unique_name(prefix: str = "fn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def b64sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _poll(lam: Any, name: str, done: Any, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        config: dict[str, Any] = lam.get_function_configuration(FunctionName=name)
        if done(config) or time.monotonic() > deadline:
            return config
        time.sleep(0.05)


def wait_active(lam: Any, name: str, timeout: float = 30) -> dict[str, Any]:
    """Poll faster than the boto3 waiter (whose delay is whole seconds)."""
    config = _poll(lam, name, lambda c: c["State"] != "Pending", timeout)
    assert config["State"] == "Active", config
    return config


def wait_updated(lam: Any, name: str, timeout: float = 30) -> dict[str, Any]:
    config = _poll(lam, name, lambda c: c["LastUpdateStatus"] != "InProgress", timeout)
    assert config["LastUpdateStatus"] == "Successful", config
    return config


def deploy(lam: Any, name: str, code: dict[str, str | bytes] | bytes | None = None,
           handler: str = "index.handler", **kwargs: Any) -> dict[str, Any]:
    """CreateFunction, then wait until Active; returns CreateFunction's response."""
    package = code if isinstance(code, bytes) else make_zip(code or {"index.py": ECHO})
    params: dict[str, Any] = {
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": handler,
        "Code": {"ZipFile": package},
    }
    params.update(kwargs)
    out: dict[str, Any] = lam.create_function(**params)
    wait_active(lam, name)
    return out


def zeros_zip(megabytes: int, extra: dict[str, str] | None = None) -> bytes:
    """A small zip that unpacks to ``megabytes`` MB of zeros (plus ``extra`` files)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in (extra or {}).items():
            zf.writestr(name, content)
        chunk = bytes(1 << 20)
        with zf.open("zeros.bin", "w") as out:
            for _ in range(megabytes):
                out.write(chunk)
    return buf.getvalue()


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str:
        return self.headers.get("x-amzn-errortype", "")


def raw_request(server: Server, method: str, path: str, body: bytes = b"",
                headers: dict[str, str] | None = None, timeout: float = 60) -> RawResponse:
    """An unsigned request (dev mode accepts any credentials, and none)."""
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname or "127.0.0.1", host.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def _module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return Path(spec.origin)


def powertools_zip(handler_source: str) -> bytes:
    """A package of ``index.py`` plus aws-lambda-powertools and the pure-Python modules
    it needs (copied from this environment), as a function would bundle it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("index.py", handler_source)
        for package in ("aws_lambda_powertools", "jmespath"):
            root = _module_file(package).parent
            for path in sorted(root.rglob("*.py")):
                zf.write(path, str(path.relative_to(root.parent)))
        single = _module_file("typing_extensions")
        zf.write(single, single.name)
    return buf.getvalue()

