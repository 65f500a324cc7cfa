"""InitDuration in AWS/Lambda: one sample per cold start (an Init, or a forked
environment's Restore), under Duration's dimension sets, read through the
cloudwatch service, and kept across a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from loam.clock import FakeClock
from loam.metrics.catalogue import METRICS, known_metrics
from loam.metrics.observer import MetricsObserver
from loam.metrics.persist import MetricsArchive
from loam.metrics.recorder import MetricsRecorder
from loam.metrics.sampled import SampledMetrics
from loam.sandbox.environment import InvocationOutcome, InvocationRequest
from loam.services.cloudwatch import CloudWatchService
from tests.unit.test_billing_usage import Reopen
from tests.unit.test_billing_usage import reopen as reopen  # the fixture
from tests.unit.test_event_source_fakes import function_state
from tests.unit.test_sqs_support import run

START = 1_700_000_040.0
ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
FN = [{"Name": "FunctionName", "Value": "f"}]
LIVE = [*FN, {"Name": "Resource", "Value": "f:live"}]
EXECUTED = [*LIVE, {"Name": "ExecutedVersion", "Value": "3"}]


def _invoke(observer: MetricsObserver, qualifier: str | None, version: str = "$LATEST",
            init_ms: float | None = None, restore_ms: float | None = None,
            status: str = "success") -> None:
    fn = function_state(version=version)
    arn = f"{ARN}:{qualifier}" if qualifier else ARN
    request = InvocationRequest("r", b"{}", arn)
    outcome = InvocationOutcome(status, b"null", None, 10.0, 60, init_ms=init_ms,
                                restore_ms=restore_ms)
    observer.finished(fn, request, outcome, observer.began(fn, request))


def _statistics(service: CloudWatchService, dimensions: list[dict[str, str]],
                **extra: Any) -> list[dict[str, Any]]:
    answer = run(service.get_metric_statistics({
        "Namespace": "AWS/Lambda", "MetricName": "InitDuration", "Dimensions": dimensions,
        "StartTime": datetime.fromtimestamp(START - 60, UTC),
        "EndTime": datetime.fromtimestamp(START + 600, UTC), "Period": 3600, **extra}))
    points: list[dict[str, Any]] = answer["Datapoints"]
    return points


def test_one_sample_per_cold_start_init_or_restore() -> None:
    clock = FakeClock(START)
    recorder = MetricsRecorder(clock)
    observer = MetricsObserver(recorder)
    _invoke(observer, None, init_ms=200.0)  # a fresh environment
    _invoke(observer, None)  # warm: no sample
    _invoke(observer, None, restore_ms=20.0)  # forked from the template
    _invoke(observer, None, init_ms=300.0, status="error")  # Init ran, the handler failed
    _invoke(observer, "live", "3", init_ms=100.0)  # through an alias
    _invoke(observer, "live", "3")
    service = CloudWatchService(recorder, clock)
    [point] = _statistics(service, FN, Statistics=["SampleCount", "Sum", "Minimum",
                                                   "Maximum", "Average"],
                          ExtendedStatistics=["p50"])
    assert point["Unit"] == "Milliseconds"
    assert (point["SampleCount"], point["Sum"], point["Minimum"], point["Maximum"]) == (
        4, 620.0, 20.0, 300.0)
    assert point["Average"] == 155.0
    assert 100.0 <= point["ExtendedStatistics"]["p50"] <= 200.0 * 1.05
    [alias] = _statistics(service, LIVE, Statistics=["SampleCount"])
    [executed] = _statistics(service, EXECUTED, Statistics=["SampleCount", "Maximum"])
    assert alias["SampleCount"] == 1 and (executed["SampleCount"], executed["Maximum"]) == (
        1, 100.0)
    [account] = _statistics(service, [], Statistics=["SampleCount"])
    assert account["SampleCount"] == 4
    # the same dimension sets as Duration, and only where cold starts happened
    listed = set(known_metrics(recorder))
    duration_dims = {dims for name, dims in listed if name == "Duration"}
    assert {dims for name, dims in listed if name == "InitDuration"} == duration_dims
    assert METRICS["InitDuration"].unit == METRICS["Duration"].unit


def test_no_cold_start_no_datapoint() -> None:
    clock = FakeClock(START)
    recorder = MetricsRecorder(clock)
    _invoke(MetricsObserver(recorder), None)
    service = CloudWatchService(recorder, clock)
    assert _statistics(service, FN, Statistics=["SampleCount"]) == []
    assert "InitDuration" not in {name for name, _ in known_metrics(recorder)}


def test_a_restart_keeps_the_cold_starts(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder = MetricsRecorder(clock)
    archive = MetricsArchive(reopen(), clock, recorder, SampledMetrics(clock))
    observer = MetricsObserver(recorder)
    for init in (50.0, 70.0):
        _invoke(observer, None, init_ms=init)
    _invoke(observer, None, restore_ms=5.0)
    run(archive.flush())
    clock.advance(2 * 86_400)  # past memory's 24 hours: read from the table
    again = MetricsRecorder(clock)
    archive_again = MetricsArchive(reopen(), clock, again, SampledMetrics(clock))
    run(archive_again.load())
    service = CloudWatchService(again, clock, archive=archive_again)
    [point] = _statistics(service, FN, Statistics=["SampleCount", "Sum", "Minimum"])
    assert (point["SampleCount"], point["Sum"], point["Minimum"]) == (3, 125.0, 5.0)
