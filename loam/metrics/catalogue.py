"""What the recorder's minutes mean as AWS/Lambda CloudWatch metrics.

A metric is read from a series' minutes: a count metric (Invocations,
Errors, Throttles, AsyncEventsReceived) is one sample of 1 per occurrence, as
Lambda publishes it; a measured metric (Duration, ConcurrentExecutions,
AsyncEventAge) is the minute's aggregate. InitDuration is loam's own
(AWS/Lambda has none; Lambda Insights calls it ``init_duration``): one sample
per cold start, the Init Duration of its REPORT line or, for an environment
forked from a template, its Restore Duration, so its SampleCount counts cold
starts. The provisioned-concurrency metrics are AWS's:
ProvisionedConcurrencyInvocations and ...SpilloverInvocations count
invocations of a version with provisioned concurrency that it did (did not)
serve; ProvisionedConcurrentExecutions and ProvisionedConcurrencyUtilization
(that number over the version's provisioned size; FunctionName + Resource
only) are sampled as each such invocation starts. Dimension sets are AWS's: none;
FunctionName; FunctionName + Resource (qualified invocations);
FunctionName + Resource + ExecutedVersion (alias invocations).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from loam.metrics.aggregate import Aggregate
from loam.metrics.recorder import MetricsRecorder, Minute, SeriesKey

__all__ = ["METRICS", "NAMESPACE", "Dimensions", "LambdaMetric", "MinuteSource",
           "aggregate_periods",
           "dimension_sets", "known_metrics"]

NAMESPACE = "AWS/Lambda"
# A dimension set, sorted by name: (("FunctionName", "f"), ("Resource", "f:prod")).
Dimensions = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class LambdaMetric:
    name: str
    unit: str
    field: str  # the Minute slot it is read from
    counted: bool  # one sample of 1 per occurrence
    qualified_only: bool = False  # published under FunctionName + Resource only

    def of(self, minute: Minute) -> Aggregate | None:
        value = getattr(minute, self.field)
        if not self.counted:
            return value if isinstance(value, Aggregate) else None
        return _ones(value) if value else None


METRICS: dict[str, LambdaMetric] = {m.name: m for m in (
    LambdaMetric("Invocations", "Count", "invocations", True),
    LambdaMetric("Errors", "Count", "errors", True),
    LambdaMetric("Throttles", "Count", "throttles", True),
    LambdaMetric("AsyncEventsReceived", "Count", "events_received", True),
    LambdaMetric("AsyncEventsDropped", "Count", "events_dropped", True),
    LambdaMetric("Duration", "Milliseconds", "duration", False),
    LambdaMetric("InitDuration", "Milliseconds", "init", False),
    LambdaMetric("ConcurrentExecutions", "Count", "concurrency", False),
    LambdaMetric("AsyncEventAge", "Milliseconds", "event_age", False),
    LambdaMetric("ProvisionedConcurrencyInvocations", "Count", "pc_invocations", True),
    LambdaMetric("ProvisionedConcurrencySpilloverInvocations", "Count", "pc_spillover", True),
    LambdaMetric("ProvisionedConcurrentExecutions", "Count", "pc_concurrency", False),
    LambdaMetric("ProvisionedConcurrencyUtilization", "None", "pc_utilization", False, True),
)}


def _ones(n: int) -> Aggregate:
    agg = Aggregate()
    agg.count, agg.total, agg.low, agg.high = n, float(n), 1.0, 1.0
    agg.bins[0] = n  # log2(1) = 0
    return agg


def dimension_sets(key: SeriesKey) -> list[Dimensions]:
    """Every AWS dimension set a series' samples are published under."""
    function, resource, executed = key
    sets: list[Dimensions] = [(), (("FunctionName", function),)]
    if resource is not None:
        sets.append((("FunctionName", function), ("Resource", resource)))
        if executed is not None:
            sets.append((("ExecutedVersion", executed), ("FunctionName", function),
                         ("Resource", resource)))
    return sets


def metric_dimension_sets(metric: LambdaMetric, key: SeriesKey) -> list[Dimensions]:
    sets = dimension_sets(key)
    if metric.qualified_only:
        return [d for d in sets if len(d) == 2 and d[1][0] == "Resource"]
    return sets


class MinuteSource(Protocol):
    """Series of minutes: the recorder's in memory, or those read back from the store."""

    def series(self) -> Iterable[tuple[SeriesKey, dict[int, Minute]]]: ...

    def account_concurrency(self) -> dict[int, Aggregate]: ...


def aggregate_periods(recorder: MinuteSource, metric: LambdaMetric, dimensions: Dimensions,
                      start: float, end: float, period: int) -> dict[int, Aggregate]:
    """Period start (epoch seconds) → the merged samples of every series published under
    exactly ``dimensions``, for the minutes in [start, end)."""
    periods: dict[int, Aggregate] = {}
    first, last = int(start // 60), int((end - 1) // 60)
    if metric.name == "ConcurrentExecutions" and not dimensions:
        # The account-wide figure counts every function at once, not the busiest one.
        for minute_index, samples in recorder.account_concurrency().items():
            if first <= minute_index <= last:
                slot = int(start + ((minute_index * 60 - start) // period) * period)
                periods.setdefault(slot, Aggregate()).merge(samples)
        return periods
    for key, minutes in recorder.series():
        if dimensions not in metric_dimension_sets(metric, key):
            continue
        for minute_index, minute in list(minutes.items()):
            if not first <= minute_index <= last:
                continue
            agg = metric.of(minute)
            if agg is None:
                continue
            slot = int(start + ((minute_index * 60 - start) // period) * period)
            merged = periods.get(slot)
            if merged is None:
                merged = periods[slot] = Aggregate()
            merged.merge(agg)
    return periods


def known_metrics(recorder: MetricsRecorder) -> Iterable[tuple[str, Dimensions]]:
    """Every (metric, dimension set) with data inside retention, each once."""
    seen: set[tuple[str, Dimensions]] = set()
    for key, minutes in recorder.series():
        for metric in METRICS.values():
            if not any(metric.of(m) is not None for m in list(minutes.values())):
                continue
            for dims in metric_dimension_sets(metric, key):
                if (metric.name, dims) not in seen:
                    seen.add((metric.name, dims))
                    yield metric.name, dims
