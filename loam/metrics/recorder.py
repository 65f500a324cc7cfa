"""The metrics recorder: what the invoke path reports, kept per minute.

Invariants:
- recording is a few dict operations on the event loop: no I/O, no lock, no
  allocation beyond the first sample of a series in a minute;
- a series is one (function, resource, executed version) triple: ``resource``
  is ``name:qualifier`` when the caller named a version or alias (AWS's
  ``Resource`` dimension), ``executed_version`` is set for alias invocations
  only (AWS's ``ExecutedVersion``). Coarser dimension sets (``FunctionName``;
  none) are merged from these when read;
- memory is bounded: at most ``max_series`` series (later ones are counted
  in ``dropped_series`` and not kept), and minutes older than ``retention_s``
  are dropped when the minute turns;
- cumulative totals (for Prometheus' counters) never go down while the node runs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

from loam.clock import Clock
from loam.metrics.aggregate import Aggregate

__all__ = [
    "DURATION_BUCKETS_MS",
    "MINUTE_AGGREGATES",
    "MINUTE_COUNTS",
    "MetricsRecorder",
    "Minute",
    "SeriesKey",
    "Totals",
    "resource_of",
]

SeriesKey = tuple[str, str | None, str | None]  # function, resource, executed version

RETENTION_S = 24 * 3600
MAX_SERIES = 5000
# Prometheus histogram upper bounds for Duration and InitDuration (milliseconds).
DURATION_BUCKETS_MS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0,
                       5000.0, 10000.0, 30000.0, 60000.0, 300000.0, 900000.0)


class Minute:
    """One series' samples in one minute."""

    __slots__ = ("concurrency", "duration", "errors", "event_age", "events_dropped",
                 "events_received", "init", "invocations", "pc_concurrency", "pc_invocations",
                 "pc_spillover", "pc_utilization", "throttles")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.events_received = 0
        self.events_dropped = 0
        self.duration: Aggregate | None = None
        self.init: Aggregate | None = None
        self.concurrency: Aggregate | None = None
        self.event_age: Aggregate | None = None
        # Versions and aliases with provisioned concurrency only.
        self.pc_invocations = 0
        self.pc_spillover = 0
        self.pc_concurrency: Aggregate | None = None
        self.pc_utilization: Aggregate | None = None

    def merge(self, other: Minute) -> None:
        for name in MINUTE_COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in MINUTE_AGGREGATES:
            theirs: Aggregate | None = getattr(other, name)
            if theirs is None:
                continue
            mine: Aggregate | None = getattr(self, name)
            if mine is None:
                mine = Aggregate()
                setattr(self, name, mine)
            mine.merge(theirs)


# The Minute slots that are counts, and those that are aggregates.
MINUTE_COUNTS = ("invocations", "errors", "throttles", "events_received", "events_dropped",
                 "pc_invocations", "pc_spillover")
MINUTE_AGGREGATES = ("duration", "init", "concurrency", "event_age", "pc_concurrency",
                     "pc_utilization")


class Totals:
    """One series' cumulative counters since the node started."""

    __slots__ = ("cold_starts", "duration", "duration_buckets", "errors", "init",
                 "init_buckets", "invocations", "throttles")

    def __init__(self) -> None:
        self.invocations = 0
        self.errors = 0
        self.throttles = 0
        self.cold_starts = 0
        self.duration = 0.0
        self.init = 0.0
        self.duration_buckets = [0] * (len(DURATION_BUCKETS_MS) + 1)  # the last is +Inf
        self.init_buckets = [0] * (len(DURATION_BUCKETS_MS) + 1)


@dataclass(frozen=True)
class RecorderStatistics:
    series: int
    minutes: int
    dropped_series: int


def resource_of(invoked_arn: str) -> str | None:
    """``name:qualifier`` from an invoked ARN that carries a qualifier, else None."""
    parts = invoked_arn.split(":")
    return f"{parts[6]}:{parts[7]}" if len(parts) == 8 else None


def _bucket(bounds: tuple[float, ...], value: float) -> int:
    """The first bucket whose upper bound holds ``value`` (``len(bounds)``: +Inf)."""
    return bisect.bisect_left(bounds, value)


class MetricsRecorder:
    def __init__(self, clock: Clock, retention_s: float = RETENTION_S,
                 max_series: int = MAX_SERIES) -> None:
        self.clock = clock
        self.retention_minutes = max(1, int(retention_s // 60))
        self.max_series = max_series
        self._minutes: dict[SeriesKey, dict[int, Minute]] = {}
        self._totals: dict[SeriesKey, Totals] = {}
        self._current = -1
        self.dropped_series = 0
        self._in_flight: dict[str, int] = {}
        # The account's ConcurrentExecutions: every function's invocations at once,
        # sampled when one starts (epoch minute → samples).
        self._account_running = 0
        self._account: dict[int, Aggregate] = {}

    # -- recording (the warm path) ---------------------------------------------

    def _minute(self, key: SeriesKey, now: int | None = None) -> Minute | None:
        """The series' current minute (``now``: the epoch minute, when the caller has it)."""
        if now is None:
            now = int(self.clock.time() // 60)
        if now != self._current:
            self._turn(now)
        series = self._series(key)
        if series is None:
            return None
        minute = series.get(now)
        if minute is None:
            minute = series[now] = Minute()
        return minute

    def _series(self, key: SeriesKey) -> dict[int, Minute] | None:
        """The series' minutes, created on first use; None when over ``max_series``."""
        series = self._minutes.get(key)
        if series is None:
            if key not in self._totals and len(self._totals) >= self.max_series:
                self.dropped_series += 1
                return None
            series = self._minutes[key] = {}
            self._totals.setdefault(key, Totals())
        return series

    def started(self, function: str, resource: str | None, version: str | None) -> None:
        """An invocation began running (ConcurrentExecutions is sampled here)."""
        running = self._in_flight.get(function, 0) + 1
        self._in_flight[function] = running
        self._account_running += 1
        now = int(self.clock.time() // 60)
        account = self._account.get(now)
        if account is None:
            account = self._account[now] = Aggregate()
        account.add(self._account_running)
        minute = self._minute((function, resource, version), now)
        if minute is not None:
            if minute.concurrency is None:
                minute.concurrency = Aggregate()
            minute.concurrency.add(running)

    def provisioned(self, function: str, resource: str | None, version: str | None,
                    running: int, size: int) -> None:
        """An invocation began on a version with ``size`` provisioned environments, of
        which ``running`` now serve invocations (ProvisionedConcurrentExecutions and
        ProvisionedConcurrencyUtilization are sampled here)."""
        minute = self._minute((function, resource, version))
        if minute is not None:
            if minute.pc_concurrency is None or minute.pc_utilization is None:
                minute.pc_concurrency, minute.pc_utilization = Aggregate(), Aggregate()
            minute.pc_concurrency.add(running)
            minute.pc_utilization.add(running / size)

    def finished(self, function: str, resource: str | None, version: str | None,
                 duration_ms: float, init_ms: float | None, error: bool,
                 provisioned: bool | None = None) -> None:
        """An invocation was reported (with or without a function error);
        ``provisioned``: whether provisioned concurrency served it, None when its
        version has none."""
        key = (function, resource, version)
        minute = self._minute(key)
        if minute is None:
            return
        minute.invocations += 1
        if provisioned is not None:
            if provisioned:
                minute.pc_invocations += 1
            else:
                minute.pc_spillover += 1
        totals = self._totals[key]
        totals.invocations += 1
        if error:
            minute.errors += 1
            totals.errors += 1
        if minute.duration is None:
            minute.duration = Aggregate()
        minute.duration.add(duration_ms)
        totals.duration += duration_ms
        totals.duration_buckets[_bucket(DURATION_BUCKETS_MS, duration_ms)] += 1
        if init_ms is not None:
            if minute.init is None:
                minute.init = Aggregate()
            minute.init.add(init_ms)
            totals.cold_starts += 1
            totals.init += init_ms
            totals.init_buckets[_bucket(DURATION_BUCKETS_MS, init_ms)] += 1

    def ended(self, function: str) -> None:
        """An invocation that ``started`` left its environment (however it ended)."""
        self._account_running = max(0, self._account_running - 1)
        running = self._in_flight.get(function, 1) - 1
        if running > 0:
            self._in_flight[function] = running
        else:
            self._in_flight.pop(function, None)

    def throttled(self, function: str, resource: str | None) -> None:
        key = (function, resource, None)
        minute = self._minute(key)
        if minute is not None:
            minute.throttles += 1
            self._totals[key].throttles += 1

    def event_received(self, function: str, resource: str | None) -> None:
        minute = self._minute((function, resource, None))
        if minute is not None:
            minute.events_received += 1

    def event_dropped(self, function: str, resource: str | None) -> None:
        """An async event was given up on (AsyncEventsDropped)."""
        minute = self._minute((function, resource, None))
        if minute is not None:
            minute.events_dropped += 1

    def event_started(self, function: str, resource: str | None, age_ms: float) -> None:
        """An async event's attempt began ``age_ms`` after it was queued (AsyncEventAge)."""
        minute = self._minute((function, resource, None))
        if minute is not None:
            if minute.event_age is None:
                minute.event_age = Aggregate()
            minute.event_age.add(age_ms)

    # -- restoring (persisted minutes, at start) -------------------------------

    def restore(self, key: SeriesKey, minute_index: int, minute: Minute) -> None:
        """Merge a stored minute of a series into memory (within retention only)."""
        if minute_index <= int(self.clock.time() // 60) - self.retention_minutes:
            return
        series = self._series(key)
        if series is None:
            return
        kept = series.get(minute_index)
        if kept is None:
            series[minute_index] = minute
        else:
            kept.merge(minute)

    def restore_account(self, minute_index: int, samples: Aggregate) -> None:
        if minute_index > int(self.clock.time() // 60) - self.retention_minutes:
            self._account.setdefault(minute_index, Aggregate()).merge(samples)

    def _turn(self, now: int) -> None:
        """The minute changed: drop the minutes past retention (once a minute)."""
        self._current = now
        cutoff = now - self.retention_minutes
        for key in list(self._minutes):
            series = self._minutes[key]
            for stale in [m for m in series if m <= cutoff]:
                del series[stale]
            if not series:
                del self._minutes[key]
        for stale in [m for m in self._account if m <= cutoff]:
            del self._account[stale]

    # -- reading -----------------------------------------------------------------

    def in_flight(self) -> dict[str, int]:
        return dict(self._in_flight)

    def account_concurrency(self) -> dict[int, Aggregate]:
        """The account's ConcurrentExecutions samples (epoch minute → samples)."""
        cutoff = int(self.clock.time() // 60) - self.retention_minutes
        return {m: agg for m, agg in list(self._account.items()) if m > cutoff}

    def series(self) -> Iterator[tuple[SeriesKey, dict[int, Minute]]]:
        """Every series with data inside retention, and its minutes (epoch minute → Minute)."""
        cutoff = int(self.clock.time() // 60) - self.retention_minutes
        for key, minutes in list(self._minutes.items()):
            if any(m > cutoff for m in minutes):
                yield key, minutes

    def totals(self) -> list[tuple[SeriesKey, Totals]]:
        return list(self._totals.items())

    def statistics(self) -> RecorderStatistics:
        return RecorderStatistics(len(self._minutes),
                                  sum(len(m) for m in self._minutes.values()),
                                  self.dropped_series)

