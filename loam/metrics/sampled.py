"""Metrics read from the node's components, not reported by the invoke path.

Some CloudWatch metrics describe things that happen away from an
invocation: an event source mapping polling its queue, a queue's backlog.
``NodeSampler`` (``sampler.py``) reads those components' counters and
gauges every few seconds and keeps them here, per (namespace, metric,
dimension set) and minute, as the recorder keeps its own: a counter's
increase since the last sample as that many samples of 1 (so ``Sum`` is the
count, as for Invocations), a gauge as one sample of its value.

Memory is bounded like the recorder's: at most ``max_series`` series, minutes
past ``retention_s`` dropped as the minute turns.
"""

from __future__ import annotations

from collections.abc import Iterator

from loam.clock import Clock
from loam.metrics.aggregate import Aggregate
from loam.metrics.catalogue import Dimensions
from loam.metrics.recorder import MAX_SERIES, RETENTION_S

__all__ = ["ESM_METRICS", "SQS_METRICS", "SQS_NAMESPACE", "UNITS", "SampledKey",
           "SampledMetrics", "periods_of"]

SQS_NAMESPACE = "AWS/SQS"
# AWS's event source mapping metrics (AWS/Lambda, dimension EventSourceMappingUUID).
ESM_METRICS = ("PolledEventCount", "FilteredOutEventCount", "InvokedEventCount",
               "FailedInvokeEventCount", "DroppedEventCount")
# A queue's backlog: the event source's lag (AWS/SQS, dimension QueueName).
SQS_METRICS = ("ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible")
UNITS: dict[tuple[str, str], str] = {
    **{("AWS/Lambda", name): "Count" for name in ESM_METRICS},
    (SQS_NAMESPACE, "ApproximateAgeOfOldestMessage"): "Seconds",
    (SQS_NAMESPACE, "ApproximateNumberOfMessagesVisible"): "Count",
}

SampledKey = tuple[str, str, Dimensions]  # namespace, metric, dimensions


class SampledMetrics:
    def __init__(self, clock: Clock, retention_s: float = RETENTION_S,
                 max_series: int = MAX_SERIES) -> None:
        self.clock = clock
        self.retention_minutes = max(1, int(retention_s // 60))
        self.max_series = max_series
        self._series: dict[SampledKey, dict[int, Aggregate]] = {}
        self._current = -1
        self.dropped_series = 0

    def _aggregate(self, key: SampledKey) -> Aggregate | None:
        now = int(self.clock.time() // 60)
        if now != self._current:
            self._turn(now)
        minutes = self._series.get(key)
        if minutes is None:
            if len(self._series) >= self.max_series:
                self.dropped_series += 1
                return None
            minutes = self._series[key] = {}
        agg = minutes.get(now)
        if agg is None:
            agg = minutes[now] = Aggregate()
        return agg

    def count(self, namespace: str, metric: str, dimensions: Dimensions, n: int) -> None:
        """``n`` occurrences since the last sample (nothing is kept for none)."""
        if n <= 0:
            return
        agg = self._aggregate((namespace, metric, dimensions))
        if agg is not None:
            agg.merge(ones(n))

    def gauge(self, namespace: str, metric: str, dimensions: Dimensions,
              value: float) -> None:
        agg = self._aggregate((namespace, metric, dimensions))
        if agg is not None:
            agg.add(value)

    def restore(self, key: SampledKey, minute_index: int, samples: Aggregate) -> None:
        """Merge a stored minute into memory (within retention only)."""
        if minute_index <= int(self.clock.time() // 60) - self.retention_minutes:
            return
        minutes = self._series.get(key)
        if minutes is None:
            if len(self._series) >= self.max_series:
                self.dropped_series += 1
                return
            minutes = self._series[key] = {}
        minutes.setdefault(minute_index, Aggregate()).merge(samples)

    def _turn(self, now: int) -> None:
        self._current = now
        cutoff = now - self.retention_minutes
        for key in list(self._series):
            minutes = self._series[key]
            for stale in [m for m in minutes if m <= cutoff]:
                del minutes[stale]
            if not minutes:
                del self._series[key]

    def series(self) -> Iterator[tuple[SampledKey, dict[int, Aggregate]]]:
        cutoff = int(self.clock.time() // 60) - self.retention_minutes
        for key, minutes in list(self._series.items()):
            if any(m > cutoff for m in minutes):
                yield key, minutes

    def periods(self, namespace: str, metric: str, dimensions: Dimensions, start: float,
                end: float, period: int) -> dict[int, Aggregate]:
        return periods_of(self._series.get((namespace, metric, dimensions), {}), start, end,
                          period)

    def known(self, namespace: str | None = None) -> list[tuple[str, str, Dimensions]]:
        return sorted(key for key, _ in self.series()
                      if namespace is None or key[0] == namespace)


def periods_of(minutes: dict[int, Aggregate], start: float, end: float,
               period: int) -> dict[int, Aggregate]:
    """Period start (aligned on ``start``) → the merged minutes in [start, end)."""
    first, last = int(start // 60), int((end - 1) // 60)
    periods: dict[int, Aggregate] = {}
    for minute_index, agg in list(minutes.items()):
        if first <= minute_index <= last:
            slot = int(start + ((minute_index * 60 - start) // period) * period)
            periods.setdefault(slot, Aggregate()).merge(agg)
    return periods


def ones(n: int) -> Aggregate:
    """``n`` samples of 1."""
    agg = Aggregate()
    agg.count, agg.total, agg.low, agg.high = n, float(n), 1.0, 1.0
    agg.bins[0] = n  # log2(1) = 0
    return agg
