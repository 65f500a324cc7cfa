"""Metrics survive a restart: known invocations read back through CloudWatch after
``loam serve`` stops and starts again on the same data directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import deploy
from tests.helpers import client, running_server

pytestmark = pytest.mark.sandbox

CODE = ("def handler(event, context):\n"
        "    if event.get('fail'):\n"
        "        raise ValueError('asked to fail')\n"
        "    return 'ok'\n")
OK, FAILED = 4, 2


def _read(cw: Any, name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    window = {"StartTime": now - timedelta(minutes=15), "EndTime": now + timedelta(minutes=2),
              "Period": 3600, "Dimensions": [{"Name": "FunctionName", "Value": name}]}
    found: dict[str, Any] = {}
    for metric in ("Invocations", "Errors"):
        points = cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric,
                                          Statistics=["Sum"], **window)["Datapoints"]
        found[metric] = sum(p["Sum"] for p in points)
    [duration] = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Statistics=["SampleCount", "Maximum"],
        ExtendedStatistics=["p50"], **window)["Datapoints"]
    found["Duration"] = (duration["SampleCount"], duration["Maximum"],
                         duration["ExtendedStatistics"]["p50"])
    return found


def test_counts_and_durations_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = "survivor"
    with running_server(data) as server:
        lam = client(server)
        deploy(lam, name, {"index.py": CODE})
        for i in range(OK + FAILED):
            lam.invoke(FunctionName=name,
                       Payload=json.dumps({"fail": i >= OK}).encode())["Payload"].read()
        before = _read(client(server, "cloudwatch"), name)
    assert before["Invocations"] == OK + FAILED and before["Errors"] == FAILED
    with running_server(data) as server:
        after = _read(client(server, "cloudwatch"), name)
        listed = client(server, "cloudwatch").list_metrics(
            Namespace="AWS/Lambda", MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": name}])["Metrics"]
    assert after == before
    assert after["Duration"][0] == OK + FAILED
    assert listed
