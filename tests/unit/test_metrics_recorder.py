"""The metrics recorder: per-minute aggregation, AWS's dimension sets, retention,
bounded series, and the Prometheus text it exposes."""

from __future__ import annotations

from loam.clock import FakeClock
from loam.metrics.catalogue import METRICS, aggregate_periods, known_metrics
from loam.metrics.prometheus import exposition, recorder_families
from loam.metrics.recorder import MetricsRecorder

FN = (("FunctionName", "f"),)
ALIAS = (("FunctionName", "f"), ("Resource", "f:live"))
EXECUTED = (("ExecutedVersion", "3"), ("FunctionName", "f"), ("Resource", "f:live"))


def run(rec: MetricsRecorder, resource: str | None, version: str | None, ms: float,
        error: bool = False, init: float | None = None) -> None:
    rec.started("f", resource, version)
    rec.finished("f", resource, version, ms, init, error)
    rec.ended("f")


def test_counts_and_durations_per_dimension_set() -> None:
    clock = FakeClock(start=1_700_000_040.0)
    rec = MetricsRecorder(clock)
    for ms in range(1, 101):
        run(rec, None, None, float(ms), error=ms > 90)
    run(rec, "f:live", "3", 500.0, init=120.0)
    rec.throttled("f", None)
    start, end = clock.time() - 60, clock.time() + 60
    invocations = aggregate_periods(rec, METRICS["Invocations"], FN, start, end, 3600)
    assert [a.count for a in invocations.values()] == [101]
    errors = aggregate_periods(rec, METRICS["Errors"], FN, start, end, 3600)
    assert [a.total for a in errors.values()] == [10.0]
    [alias] = aggregate_periods(rec, METRICS["Duration"], EXECUTED, start, end, 60).values()
    assert (alias.count, alias.high) == (1, 500.0)
    [duration] = aggregate_periods(rec, METRICS["Duration"], FN, start, end, 3600).values()
    assert duration.low == 1.0 and duration.high == 500.0
    assert abs(duration.percentile(50) - 51) / 51 < 0.05
    assert abs(duration.percentile(90) - 91) / 91 < 0.05
    assert ("Duration", EXECUTED) in set(known_metrics(rec))
    assert ("Throttles", ALIAS) not in set(known_metrics(rec))


def test_old_minutes_are_dropped_after_retention() -> None:
    clock = FakeClock()
    rec = MetricsRecorder(clock, retention_s=3600)
    run(rec, None, None, 5.0)
    clock.advance(3700)
    run(rec, "f:live", "3", 5.0)
    assert rec.statistics().minutes == 1
    assert {dims for _, dims in known_metrics(rec)} >= {ALIAS}
    start = clock.time() - 7200
    total = aggregate_periods(rec, METRICS["Invocations"], FN, start, clock.time() + 60, 3600)
    assert sum(a.count for a in total.values()) == 1


def test_series_are_bounded() -> None:
    rec = MetricsRecorder(FakeClock(), max_series=2)
    for name in ("a", "b", "c"):
        rec.finished(name, None, None, 1.0, None, False)
    assert rec.statistics().series == 2
    assert rec.dropped_series == 1


def test_prometheus_exposition() -> None:
    rec = MetricsRecorder(FakeClock())
    run(rec, None, None, 30.0, init=200.0)
    run(rec, None, None, 7000.0, error=True)
    rec.throttled("f", "f:live")
    text = exposition(recorder_families(rec)).decode()
    assert "# TYPE loam_lambda_invocations_total counter" in text
    assert 'loam_lambda_invocations_total{function="f",resource="",version=""} 2' in text
    assert 'loam_lambda_errors_total{function="f",resource="",version=""} 1' in text
    assert 'loam_lambda_throttles_total{function="f",resource="live",version=""} 1' in text
    assert 'loam_lambda_cold_starts_total{function="f",resource="",version=""} 1' in text
    assert ('loam_lambda_duration_seconds_bucket{function="f",resource="",version="",'
            'le="0.05"} 1') in text
    assert ('loam_lambda_duration_seconds_bucket{function="f",resource="",version="",'
            'le="+Inf"} 2') in text
    assert 'loam_lambda_duration_seconds_sum{function="f",resource="",version=""} 7.03' in text


def test_account_concurrency_counts_every_function_at_once() -> None:
    clock = FakeClock(start=1_700_000_040.0)
    rec = MetricsRecorder(clock)
    for function in ("a", "b", "c"):  # three functions running at the same time
        rec.started(function, None, None)
    for function in ("a", "b", "c"):
        rec.finished(function, None, None, 5.0, None, False)
        rec.ended(function)
    rec.started("a", None, None)  # later, alone
    rec.ended("a")
    start, end = clock.time() - 60, clock.time() + 60
    [account] = aggregate_periods(rec, METRICS["ConcurrentExecutions"], (), start, end,
                                  60).values()
    assert account.high == 3.0  # not the busiest function's 1
    [one] = aggregate_periods(rec, METRICS["ConcurrentExecutions"],
                              (("FunctionName", "a"),), start, end, 60).values()
    assert one.high == 1.0
