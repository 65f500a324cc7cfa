"""Asynchronous and event-source metrics through CloudWatch and Prometheus, after known
events: AsyncEventsDropped, the async queue's depth (loam's own gauge), the SQS event
source mapping's PolledEventCount / FilteredOutEventCount / InvokedEventCount /
FailedInvokeEventCount, and the queue's backlog in AWS/SQS."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

HANDLER = ("def handler(event, context):\n"
           "    for record in event.get('Records', [event]):\n"
           "        if 'fail' in str(record.get('body', record)):\n"
           "            raise ValueError('asked to fail')\n"
           "    return 'ok'\n")


def _sum(cw: Any, namespace: str, metric: str, dims: dict[str, str],
         stat: str = "Sum") -> float:
    now = datetime.now(UTC)
    answer = cw.get_metric_statistics(
        Namespace=namespace, MetricName=metric, Period=3600, Statistics=[stat],
        StartTime=now - timedelta(minutes=10), EndTime=now + timedelta(minutes=2),
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()])
    return float(sum(p[stat] for p in answer["Datapoints"]))


def wait_for(check: Callable[[], Any], what: str, timeout: float = 40) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_async_events_dropped_and_the_queue_depth_gauge(server: Server, lam: Any) -> None:
    name = unique_name("dropped")
    deploy(lam, name, {"index.py": HANDLER})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    for body in ("fail", "fail", "fine"):
        lam.invoke(FunctionName=name, InvocationType="Event",
                   Payload=json.dumps({"body": body}).encode())["Payload"].read()
    cw = client(server, "cloudwatch")
    fn = {"FunctionName": name}
    wait_for(lambda: _sum(cw, "AWS/Lambda", "Invocations", fn) == 3, "three invocations")
    wait_for(lambda: _sum(cw, "AWS/Lambda", "AsyncEventsDropped", fn) == 2,
             "two dropped events", 10)
    assert _sum(cw, "AWS/Lambda", "AsyncEventsReceived", fn) == 3
    with urllib.request.urlopen(server.url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    [depth] = [line for line in text.splitlines() if line.startswith("loam_async_queue_depth ")]
    assert float(depth.split()[1]) >= 0
    assert "# TYPE loam_async_queue_depth gauge" in text


def test_event_source_mapping_metrics_and_queue_backlog(server: Server, lam: Any) -> None:
    sqs = client(server, "sqs")
    name = unique_name("esmmetrics")
    deploy(lam, name, {"index.py": HANDLER})
    queue = unique_name("q")
    url = sqs.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "600"})[
        "QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    # Three messages in one batch, one of which makes the function fail; one filtered out.
    for body in ("a", "b", "c-fail", "skip"):
        sqs.send_message(QueueUrl=url,
                         MessageBody=json.dumps({"body": body, "keep": body != "skip"}))
    mapping = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=arn, BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
        FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    cw = client(server, "cloudwatch")
    dims = {"EventSourceMappingUUID": mapping}
    try:
        wait_for(lambda: _sum(cw, "AWS/Lambda", "InvokedEventCount", dims) >= 3,
                 "the batch to be invoked")
        assert _sum(cw, "AWS/Lambda", "PolledEventCount", dims) == 4
        assert _sum(cw, "AWS/Lambda", "FilteredOutEventCount", dims) == 1
        assert _sum(cw, "AWS/Lambda", "InvokedEventCount", dims) == 3
        # the function raised: the whole batch failed (and stays on the queue)
        assert _sum(cw, "AWS/Lambda", "FailedInvokeEventCount", dims) == 3
        assert _sum(cw, "AWS/Lambda", "DroppedEventCount", dims) == 0
        listed = cw.list_metrics(Namespace="AWS/Lambda", Dimensions=[
            {"Name": "EventSourceMappingUUID", "Value": mapping}])["Metrics"]
        assert {m["MetricName"] for m in listed} >= {"PolledEventCount", "InvokedEventCount"}
        # The failed batch waits out its visibility timeout: the backlog is sampled
        # (every 10 s) with no visible message and an oldest message some seconds old.
        backlog = {"QueueName": queue}
        wait_for(lambda: _sum(cw, "AWS/SQS", "ApproximateAgeOfOldestMessage", backlog,
                              "SampleCount"), "a backlog sample", 30)
        assert _sum(cw, "AWS/SQS", "ApproximateNumberOfMessagesVisible", backlog,
                    "Maximum") == 0
        age = cw.get_metric_statistics(
            Namespace="AWS/SQS", MetricName="ApproximateAgeOfOldestMessage", Period=60,
            Statistics=["Maximum"], Dimensions=[{"Name": "QueueName", "Value": queue}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5),
            EndTime=datetime.now(UTC) + timedelta(minutes=1))["Datapoints"]
        assert age and all(p["Unit"] == "Seconds" for p in age)
        assert 0 <= max(p["Maximum"] for p in age) <= 120
    finally:
        lam.delete_event_source_mapping(UUID=mapping)
