"""``loam cost`` against a real node: invocations counted per function and architecture,
read back through the CloudWatch API (Loam/Billing) by the CLI."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server

pytestmark = pytest.mark.sandbox

INVOCATIONS = 5
MEMORY_MB = 256
STORAGE_MB = 1024


def _billed_ms(answer: dict[str, Any]) -> int:
    tail = base64.b64decode(answer["LogResult"]).decode()
    match = re.search(r"Billed Duration: (\d+) ms", tail)
    assert match, tail
    return int(match.group(1))


def test_cost_counts_requests_and_gb_seconds(server: Server, lam: Any,
                                             tmp_path: Path) -> None:
    name = unique_name("cost")
    deploy(lam, name, MemorySize=MEMORY_MB, Architectures=["arm64"],
           EphemeralStorage={"Size": STORAGE_MB})
    billed = 0
    for i in range(INVOCATIONS):
        answer = lam.invoke(FunctionName=name, Payload=json.dumps({"i": i}).encode(),
                            LogType="Tail")
        answer["Payload"].read()
        billed += _billed_ms(answer)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOAM_"))}
    env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "LOAM_ENDPOINT": server.url, "HOME": str(tmp_path)})
    result = subprocess.run(
        [sys.executable, "-m", "loam", "cost", "--function", name, "--since", "1d",
         "--no-free-tier", "--output", "json"],
        env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    [line] = document["Lines"]
    gb_seconds = billed * MEMORY_MB / 1024 / 1000
    ephemeral = billed * (STORAGE_MB - 512) / 1024 / 1000
    assert (line["Function"], line["Architectures"], line["Requests"]) == (
        name, ["arm64"], INVOCATIONS)
    assert line["GBSeconds"] == pytest.approx(gb_seconds, abs=1e-6)
    assert line["EphemeralGBSeconds"] == pytest.approx(ephemeral, abs=1e-6)
    # arm64 without the free tier: requests at $0.20 per million, duration at the first tier
    assert line["RequestCost"] == pytest.approx(INVOCATIONS * 0.2 / 1e6, abs=1e-6)
    assert line["DurationCost"] == pytest.approx(gb_seconds * 0.0000133334, abs=1e-6)
    assert document["Total"]["Requests"] == INVOCATIONS


def test_bad_price_table_is_a_usage_error(server: Server, tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text("{}")
    result = subprocess.run(
        [sys.executable, "-m", "loam", "cost", "--prices", str(prices),
         "--endpoint-url", server.url], capture_output=True, text=True, timeout=60,
        cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"loam: --prices: {prices}: Duration: expected a JSON object"
