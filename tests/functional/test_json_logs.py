"""LoggingConfig LogFormat JSON: application records as JSON lines filtered by
ApplicationLogLevel, platform records instead of START / END / REPORT."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.functional.support import deploy

pytestmark = pytest.mark.sandbox

PYTHON = (
    "import logging\n"
    "logger = logging.getLogger('orders')\n"
    "def handler(event, context):\n"
    "    logger.info('hidden at WARN')\n"
    "    logger.warning('stock low: %d', 3)\n"
    "    return 'ok'\n"
)
NODE = (
    "exports.handler = async () => {\n"
    "  console.info('hidden at WARN');\n"
    "  console.warn('stock low:', 3);\n"
    "  return 'ok';\n"
    "};\n"
)


def _records(lam: Any, name: str) -> list[dict[str, Any]]:
    out = lam.invoke(FunctionName=name, LogType="Tail")
    assert json.loads(out["Payload"].read()) == "ok"
    text = base64.b64decode(out["LogResult"]).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize(("runtime", "code", "file"), [
    ("python3.12", PYTHON, "index.py"), ("nodejs20.x", NODE, "index.js")])
def test_json_log_format(lam: Any, name: str, runtime: str, code: str, file: str) -> None:
    deploy(lam, name, {file: code}, Runtime=runtime, LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO"})
    records = _records(lam, name)
    kinds = [r.get("type", r.get("level")) for r in records]
    assert kinds == ["platform.start", "WARN", "platform.runtimeDone", "platform.report"], records
    app = records[1]
    assert app["message"] == "stock low: 3"
    assert app["requestId"] == records[0]["record"]["requestId"]
    assert app["timestamp"].endswith("Z")
    if runtime.startswith("python"):
        assert app["logger"] == "orders"
    assert records[3]["record"]["metrics"]["billedDurationMs"] >= 1
    assert records[2]["record"]["status"] == "success"


def test_system_log_level_warn_leaves_out_the_platform_records(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": PYTHON}, LoggingConfig={
        "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "WARN"})
    assert [r["level"] for r in _records(lam, name)] == ["WARN"]
