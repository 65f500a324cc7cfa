"""``loam tune`` against a real node: CPU share follows memory, so a CPU-bound handler
gets faster with more memory; the function's MemorySize is put back afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server

pytestmark = pytest.mark.sandbox

# ~10 ms of CPU uncapped: ~100 ms at 128 MB (7 % of a vCPU), ~20 ms at 1,024 MB (58 %).
CPU_BOUND = """\
def handler(event, context):
    total = 0
    for i in range(event.get("n", 150000)):
        total += i * i % 7
    return total
"""


def _loam(server: Server, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOAM_"))}
    env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "LOAM_ENDPOINT": server.url, "HOME": str(tmp_path)})
    return subprocess.run([sys.executable, "-m", "loam", *args], env=env, capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)


def test_cpu_bound_handler_gets_faster_with_memory(server: Server, lam: Any,
                                                   tmp_path: Path) -> None:
    name = unique_name("tune")
    deploy(lam, name, {"index.py": CPU_BOUND}, MemorySize=256, Timeout=30)
    chart = tmp_path / "tune.png"
    result = _loam(server, tmp_path, "tune", name, "--memory", "128,1024", "--invocations", "3",
                   "--payload", '{"n": 150000}', "--chart", str(chart), "-o", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    small, large = doc["Sizes"]
    assert (small["MemorySize"], large["MemorySize"]) == (128, 1024)
    for size in (small, large):
        assert size["Invocations"] == 3 and size["Counted"] >= 2  # the cold start left out
        assert size["CostPerInvocation"] > 0.0000002  # more than the request price alone
    assert small["AverageDurationMs"] >= 1.5 * large["AverageDurationMs"], doc
    assert doc["Recommendation"]["Fastest"] == 1024
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 256
    assert "restoring MemorySize 256 MB" in result.stderr


def test_function_error_stops_the_run(server: Server, lam: Any, tmp_path: Path) -> None:
    name = unique_name("tune")
    deploy(lam, name, {"index.py": "def handler(event, context):\n    raise ValueError('no')\n"},
           MemorySize=192)
    result = _loam(server, tmp_path, "tune", name, "--memory", "128,256", "--invocations", "1")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"loam: Unhandled: {name} failed at 128 MB: ValueError: no")
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 192
