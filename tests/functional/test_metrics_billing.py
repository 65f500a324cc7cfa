"""Billing and provisioned-concurrency metrics through the CloudWatch API: AWS/Billing's
EstimatedCharges (as Loam/Billing) and AWS/Lambda's ProvisionedConcurrency* metrics,
after known invocations."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

SLEEPY = ("import time\n"
          "def handler(event, context):\n"
          "    time.sleep(event.get('sleep', 0))\n"
          "    return 'ok'\n")


def _window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(minutes=10), "EndTime": now + timedelta(minutes=2)}


def _sum(cw: Any, namespace: str, metric: str, dims: dict[str, str],
         stat: str = "Sum") -> float | None:
    answer = cw.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Period=3600, Statistics=[stat],
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()], **_window())
    points = answer["Datapoints"]
    return float(sum(p[stat] for p in points)) if points else None


def test_estimated_charges_per_function_and_for_the_account(server: Server, lam: Any) -> None:
    name = unique_name("charges")
    deploy(lam, name)
    for _ in range(3):
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
    cw = client(server, "cloudwatch")
    now = datetime.now(UTC)
    answer = cw.get_metric_data(StartTime=now - timedelta(hours=2), EndTime=now, MetricDataQueries=[
        {"Id": "fn", "MetricStat": {"Metric": {
            "Namespace": "Loam/Billing", "MetricName": "EstimatedCharges",
            "Dimensions": [{"Name": "Currency", "Value": "USD"},
                           {"Name": "FunctionName", "Value": name}]},
            "Period": 3600, "Stat": "Maximum"}},
        {"Id": "account", "MetricStat": {"Metric": {
            "Namespace": "Loam/Billing", "MetricName": "EstimatedCharges",
            "Dimensions": [{"Name": "Currency", "Value": "USD"}]},
            "Period": 3600, "Stat": "Maximum"}},
    ])
    results = {r["Id"]: r for r in answer["MetricDataResults"]}
    # Three invocations are well within the monthly free tier: $0 so far this month.
    assert results["fn"]["Values"] and results["fn"]["Values"][0] == 0.0
    assert results["account"]["Values"][0] >= results["fn"]["Values"][0]
    listed = cw.list_metrics(Namespace="Loam/Billing", MetricName="EstimatedCharges",
                             Dimensions=[{"Name": "FunctionName", "Value": name}])["Metrics"]
    assert [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in listed] == [
        {"Currency": "USD", "FunctionName": name}]


def test_provisioned_concurrency_metrics_and_billing(server: Server, lam: Any) -> None:
    name = unique_name("pcmetrics")
    deploy(lam, name, {"index.py": SLEEPY}, MemorySize=512)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier=version,
                                           ProvisionedConcurrentExecutions=1)
    deadline = time.monotonic() + 60
    while lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version)["Status"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    try:
        # Two at once on one provisioned environment: one is served by it, one spills over.
        def invoke(_: int) -> None:
            lam.invoke(FunctionName=name, Qualifier=version,
                       Payload=json.dumps({"sleep": 1}).encode())["Payload"].read()

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(invoke, range(2)))
        cw = client(server, "cloudwatch")
        resource = {"FunctionName": name, "Resource": f"{name}:{version}"}
        assert _sum(cw, "AWS/Lambda", "ProvisionedConcurrencyInvocations", resource) == 1
        assert _sum(cw, "AWS/Lambda", "ProvisionedConcurrencySpilloverInvocations",
                    resource) == 1
        assert _sum(cw, "AWS/Lambda", "ProvisionedConcurrentExecutions", resource,
                    "Maximum") == 1
        assert _sum(cw, "AWS/Lambda", "ProvisionedConcurrencyUtilization", resource,
                    "Maximum") == 1.0
        billing = {"FunctionName": name, "Architecture": "x86_64"}
        served = _sum(cw, "Loam/Billing", "ProvisionedDurationGBSeconds", billing)
        billed = _sum(cw, "Loam/Billing", "BilledGBSeconds", billing)
        # one of the two ~1 s invocations at 0.5 GB ran on provisioned concurrency
        assert served is not None and billed is not None
        assert 0.5 <= served < billed <= 1.5
        # the configured environment is billed for its time (metered every 10 s)
        deadline = time.monotonic() + 30
        while not _sum(cw, "Loam/Billing", "ProvisionedGBSeconds", billing):
            assert time.monotonic() < deadline, "no provisioned time billed"
            time.sleep(1)
    finally:
        lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
