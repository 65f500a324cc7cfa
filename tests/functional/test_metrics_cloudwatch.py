"""AWS/Lambda metrics read back through CloudWatch: boto3 (RPC v2 CBOR) and the
Debian aws CLI (awsQuery), after known invocations, errors and throttles."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

AWS_CLI = Path("/usr/bin/aws")
CODE = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
"""
OK, FAILED, THROTTLED = 5, 2, 3


@pytest.fixture(scope="module")
def invoked(server: Server, lam: Any) -> str:
    name = unique_name("metrics")
    deploy(lam, name, {"index.py": CODE})
    for i in range(OK + FAILED):
        payload = json.dumps({"fail": i >= OK}).encode()
        lam.invoke(FunctionName=name, Payload=payload)["Payload"].read()
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    # One request each (botocore's legacy retries would send a throttled call twice).
    once = boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    for _ in range(THROTTLED):
        with pytest.raises(once.exceptions.TooManyRequestsException):
            once.invoke(FunctionName=name, Payload=b"{}")
    return name


def _window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(minutes=10), "EndTime": now + timedelta(minutes=2)}


def _total(cw: Any, name: str, metric: str, stat: str = "Sum") -> float:
    answer = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName=metric, Period=3600, Statistics=[stat],
        Dimensions=[{"Name": "FunctionName", "Value": name}], **_window())
    return float(sum(p[stat] for p in answer["Datapoints"]))


def test_boto3_reads_invocations_errors_throttles_and_duration(server: Server,
                                                                invoked: str) -> None:
    cw = client(server, "cloudwatch")
    assert _total(cw, invoked, "Invocations") == OK + FAILED
    assert _total(cw, invoked, "Errors") == FAILED
    assert _total(cw, invoked, "Throttles") == THROTTLED
    answer = cw.get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Duration", Period=3600,
        Statistics=["SampleCount", "Maximum", "Minimum"], ExtendedStatistics=["p50", "p99"],
        Dimensions=[{"Name": "FunctionName", "Value": invoked}], **_window())
    [point] = answer["Datapoints"]
    assert point["SampleCount"] == OK + FAILED
    assert point["Unit"] == "Milliseconds"
    assert 0 < point["Minimum"] <= point["ExtendedStatistics"]["p50"] <= point["Maximum"]
    assert point["ExtendedStatistics"]["p99"] <= point["Maximum"]
    assert isinstance(point["Timestamp"], datetime)


def test_get_metric_data_and_list_metrics(server: Server, invoked: str) -> None:
    cw = client(server, "cloudwatch")
    data = cw.get_metric_data(MetricDataQueries=[{
        "Id": "inv", "MetricStat": {
            "Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                       "Dimensions": [{"Name": "FunctionName", "Value": invoked}]},
            "Period": 60, "Stat": "Sum"}}], **_window())
    [result] = data["MetricDataResults"]
    assert result["Id"] == "inv" and result["StatusCode"] == "Complete"
    assert sum(result["Values"]) == OK + FAILED
    listed = cw.list_metrics(Namespace="AWS/Lambda",
                             Dimensions=[{"Name": "FunctionName", "Value": invoked}])
    names = {m["MetricName"] for m in listed["Metrics"]}
    assert {"Invocations", "Errors", "Throttles", "Duration"} <= names


def test_invalid_period_is_refused_with_aws_error(server: Server) -> None:
    cw = client(server, "cloudwatch")
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as caught:
        cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName="Invocations",
                                 Period=90, Statistics=["Sum"], **_window())
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.skipif(not AWS_CLI.exists(), reason="/usr/bin/aws is not installed")
def test_aws_cli_get_metric_statistics(server: Server, invoked: str, tmp_path: Path) -> None:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_PAGER="")
    window = _window()
    done = subprocess.run(
        [str(AWS_CLI), "--endpoint-url", server.url, "--output", "json", "cloudwatch",
         "get-metric-statistics", "--namespace", "AWS/Lambda", "--metric-name", "Errors",
         "--dimensions", f"Name=FunctionName,Value={invoked}", "--statistics", "Sum",
         "--period", "3600", "--start-time", window["StartTime"].isoformat(),
         "--end-time", window["EndTime"].isoformat()],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["Label"] == "Errors"
    assert sum(p["Sum"] for p in answer["Datapoints"]) == FAILED


def test_prometheus_exposition_counts_the_invocations(lam: Any, server: Server) -> None:
    name = unique_name("prom")
    deploy(lam, name)
    for _ in range(3):
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert f'loam_lambda_invocations_total{{function="{name}",resource="",version=""}} 3' \
        in text
    count = f'loam_lambda_duration_seconds_count{{function="{name}",resource="",version=""}} 3'
    assert "# TYPE loam_lambda_duration_seconds histogram" in text
    assert count in text
