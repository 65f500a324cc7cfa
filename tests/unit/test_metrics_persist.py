"""Metrics in the store: per-minute rollups flushed in batches, loaded back after a
restart (SQLite and PostgreSQL), older minutes read from the table, and CloudWatch's
retention (one-minute rows for 15 days, five-minute rows for 63)."""

from __future__ import annotations

from datetime import UTC, datetime

from loam.clock import FakeClock
from loam.metrics.catalogue import METRICS, MinuteSource, aggregate_periods
from loam.metrics.persist import MetricsArchive
from loam.metrics.recorder import MetricsRecorder
from loam.metrics.sampled import SampledMetrics
from loam.services.cloudwatch import CloudWatchService
from tests.unit.test_billing_usage import Reopen
from tests.unit.test_billing_usage import reopen as reopen  # the fixture
from tests.unit.test_sqs_support import run

START = 1_700_000_040.0
FN = (("FunctionName", "f"),)
ALIAS = (("ExecutedVersion", "2"), ("FunctionName", "f"), ("Resource", "f:live"))
QUEUE = (("QueueName", "jobs"),)
DAY = 86_400


def _node(reopen: Reopen, clock: FakeClock) -> tuple[MetricsRecorder, SampledMetrics,
                                                      MetricsArchive]:
    recorder = MetricsRecorder(clock)
    sampled = SampledMetrics(clock)
    return recorder, sampled, MetricsArchive(reopen(), clock, recorder, sampled)


def _invoke(recorder: MetricsRecorder, ms: float, resource: str | None = None,
            version: str | None = None, error: bool = False) -> None:
    recorder.started("f", resource, version)
    recorder.finished("f", resource, version, ms, None, error)
    recorder.ended("f")


def _stat(recorder: MinuteSource, metric: str, dims: tuple[tuple[str, str], ...], start: float,
          end: float) -> dict[int, tuple[int, float, float, float]]:
    periods = aggregate_periods(recorder, METRICS[metric], dims, start, end, 3600)
    return {s: (a.count, a.total, a.high, a.percentile(50)) for s, a in periods.items()}


def test_a_restart_keeps_counts_durations_and_percentiles(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder, sampled, archive = _node(reopen, clock)
    for ms in range(1, 11):
        _invoke(recorder, float(ms), error=ms > 8)
    _invoke(recorder, 40.0, "f:live", "2")
    sampled.gauge("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE, 4.0)
    run(archive.flush())
    clock.advance(61)
    _invoke(recorder, 5.0)  # a later minute, flushed at stop
    run(archive.flush())
    window = (START - 60, START + 600)
    before = {m: _stat(recorder, m, dims, *window)
              for m, dims in (("Invocations", FN), ("Errors", FN), ("Duration", FN),
                              ("Duration", ALIAS), ("ConcurrentExecutions", ()))}

    again, sampled_again, archive_again = _node(reopen, clock)  # the restarted node
    assert run(archive_again.load()) > 0
    after = {m: _stat(again, m, dims, *window)
             for m, dims in (("Invocations", FN), ("Errors", FN), ("Duration", FN),
                             ("Duration", ALIAS), ("ConcurrentExecutions", ()))}
    assert after == before
    assert after["Invocations"][int(window[0])][0] == 12
    assert after["Errors"][int(window[0])][1] == 2
    [backlog] = sampled_again.periods("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE,
                                      *window, 60).values()
    assert (backlog.count, backlog.total, backlog.percentile(50)) == (1, 4.0, 4.0)
    # a second flush of the restarted node rewrites the same minutes: nothing doubles
    run(archive_again.flush())
    third, _, archive_third = _node(reopen, clock)
    run(archive_third.load())
    assert _stat(third, "Invocations", FN, *window) == before["Invocations"]


def test_only_changed_minutes_are_written_again(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder, _, archive = _node(reopen, clock)
    _invoke(recorder, 1.0)
    first = int(clock.time() // 60)
    run(archive.flush())
    clock.advance(120)
    _invoke(recorder, 2.0)
    now = int(clock.time() // 60)
    # the minute of the last flush may have changed after it; earlier ones may not
    assert {row[1] for row in archive._snapshot(archive._since)} == {first, now}
    run(archive.flush())
    assert {row[1] for row in archive._snapshot(archive._since)} == {now}


def test_minutes_memory_no_longer_keeps_are_read_from_the_table(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder, _, archive = _node(reopen, clock)
    for _ in range(3):
        _invoke(recorder, 10.0)
    run(archive.flush())
    clock.advance(3 * DAY)  # past the recorder's 24 hours in memory
    restarted, _, archive_again = _node(reopen, clock)
    run(archive_again.load())
    assert _stat(restarted, "Invocations", FN, START - 60, START + 60) == {}
    stored = archive_again.view(START - 60, START + 60)
    [(count, _, high, _)] = _stat(stored, "Invocations", FN, START - 60, START + 60).values()
    assert (count, high) == (3, 1.0)
    # a read for one function reads that function's rows only
    assert set(dict(archive_again.view(START - 60, START + 60, series=["lambda", "f"])
                    .series())) == {("f", None, None)}
    assert list(archive_again.view(START - 60, START + 60, series=["lambda", "ff"])
                .series()) == []


def test_old_minutes_roll_up_to_five_minutes_then_expire(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder, _, archive = _node(reopen, clock)
    for _ in range(5):  # five minutes, one invocation each, two five-minute buckets at most
        _invoke(recorder, 10.0)
        clock.advance(60)
    run(archive.flush())
    clock.advance(16 * DAY)
    assert archive.compact() == 10  # five minutes of f, and of the account's concurrency
    assert archive.compact() == 0
    rows = archive.database.execute(
        "SELECT resolution, COUNT(*) FROM metrics_minutes GROUP BY resolution")
    assert {int(r[0]) for r in rows} == {5}
    stored = archive.view(START - 600, START + 600)
    periods = aggregate_periods(stored, METRICS["Invocations"], FN, START - 600, START + 600,
                                3600)
    assert sum(a.count for a in periods.values()) == 5
    clock.advance(60 * DAY)
    archive.compact()
    assert archive.database.execute("SELECT COUNT(*) FROM metrics_minutes")[0][0] == 0


def test_cloudwatch_reads_minutes_older_than_memory_from_the_table(reopen: Reopen) -> None:
    clock = FakeClock(START)
    recorder, sampled, archive = _node(reopen, clock)
    for _ in range(4):
        _invoke(recorder, 10.0)
    sampled.count("AWS/Lambda", "PolledEventCount", (("EventSourceMappingUUID", "u"),), 7)
    run(archive.flush())
    clock.advance(2 * DAY)
    again, sampled_again, archive_again = _node(reopen, clock)
    run(archive_again.load())
    service = CloudWatchService(again, clock, sampled=sampled_again, archive=archive_again)
    window = {"StartTime": datetime.fromtimestamp(START - 3600, UTC),
              "EndTime": datetime.fromtimestamp(clock.time(), UTC), "Period": 86_400,
              "Statistics": ["Sum"]}
    answer = run(service.get_metric_statistics({
        "Namespace": "AWS/Lambda", "MetricName": "Invocations",
        "Dimensions": [{"Name": "FunctionName", "Value": "f"}], **window}))
    assert [p["Sum"] for p in answer["Datapoints"]] == [4.0]
    polled = run(service.get_metric_statistics({
        "Namespace": "AWS/Lambda", "MetricName": "PolledEventCount",
        "Dimensions": [{"Name": "EventSourceMappingUUID", "Value": "u"}], **window}))
    assert [p["Sum"] for p in polled["Datapoints"]] == [7.0]
