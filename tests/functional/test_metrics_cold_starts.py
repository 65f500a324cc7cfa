"""Cold starts through CloudWatch: AWS/Lambda InitDuration has one sample per fresh
environment (counted by its log stream and by the REPORT lines that show an Init or
Restore Duration), per function, alias and executed version."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.functional.support import deploy
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

CODE = (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return context.log_stream_name\n"
)
AT_ONCE, THEN_WARM = 3, 4


def _invoke(lam: Any, name: str, sleep: float, qualifier: str | None = None) -> tuple[str, str]:
    """The environment's log stream, and the REPORT line."""
    out = lam.invoke(FunctionName=name, LogType="Tail", Payload=json.dumps({"sleep": sleep}),
                     **({"Qualifier": qualifier} if qualifier else {}))
    stream = json.loads(out["Payload"].read())
    assert isinstance(stream, str), (stream, base64.b64decode(out["LogResult"]).decode())
    report = base64.b64decode(out["LogResult"]).decode().splitlines()[-1]
    assert report.startswith("REPORT "), report
    return stream, report


def _cold(report: str) -> bool:
    return "\tInit Duration: " in report or "\tRestore Duration: " in report


def _statistics(cw: Any, name: str, metric: str, stats: list[str],
                **dimensions: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    answer = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Period=3600, Statistics=stats,
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=2),
        Dimensions=[{"Name": "FunctionName", "Value": name}]
        + [{"Name": k, "Value": v} for k, v in dimensions.items()])
    points: list[dict[str, Any]] = answer["Datapoints"]
    if not points:
        return {}
    [point] = points  # one hour-long period around now, unless the hour turned
    return point


def test_init_duration_counts_every_fresh_environment(lam: Any, server: Server,
                                                      name: str) -> None:
    deploy(lam, name, {"index.py": CODE}, Timeout=30)
    with ThreadPoolExecutor(AT_ONCE) as pool:
        runs = list(pool.map(lambda _: _invoke(lam, name, 1.5), range(AT_ONCE)))
    runs += [_invoke(lam, name, 0) for _ in range(THEN_WARM)]
    environments = {stream for stream, _ in runs}
    assert len(environments) >= AT_ONCE  # overlapping invocations each need one
    assert sum(_cold(report) for _, report in runs) == len(environments)

    cw = client(server, "cloudwatch")
    init = _statistics(cw, name, "InitDuration", ["SampleCount", "Minimum", "Maximum"])
    assert init["SampleCount"] == len(environments)
    assert init["Unit"] == "Milliseconds"
    assert 0 < init["Minimum"] <= init["Maximum"]
    assert _statistics(cw, name, "Invocations", ["Sum"])["Sum"] == AT_ONCE + THEN_WARM

    now = datetime.now(UTC)
    data = cw.get_metric_data(MetricDataQueries=[{
        "Id": "cold", "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": "InitDuration",
                       "Dimensions": [{"Name": "FunctionName", "Value": name}]},
            "Period": 60, "Stat": "SampleCount"}}],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=2))
    assert sum(data["MetricDataResults"][0]["Values"]) == len(environments)
    listed = cw.list_metrics(Namespace="AWS/Lambda", MetricName="InitDuration",
                             Dimensions=[{"Name": "FunctionName", "Value": name}])
    assert [m["Dimensions"] for m in listed["Metrics"]] == [
        [{"Name": "FunctionName", "Value": name}]]


def test_init_duration_per_alias_and_executed_version(lam: Any, server: Server,
                                                      name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    runs = [_invoke(lam, name, 0, "live") for _ in range(3)]
    assert [_cold(report) for _, report in runs] == [True, False, False], runs

    cw = client(server, "cloudwatch")
    resource = f"{name}:live"
    assert _statistics(cw, name, "InitDuration", ["SampleCount"],
                       Resource=resource)["SampleCount"] == 1
    assert _statistics(cw, name, "InitDuration", ["SampleCount"], Resource=resource,
                       ExecutedVersion=version)["SampleCount"] == 1
    # a warm function has no cold start to count at another alias
    assert _statistics(cw, name, "InitDuration", ["SampleCount"],
                       Resource=f"{name}:other") == {}
