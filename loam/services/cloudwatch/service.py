"""The ``cloudwatch`` service: AWS/Lambda's metrics, read from the node's recorder.

GetMetricStatistics, GetMetricData and ListMetrics over the namespace
``AWS/Lambda`` with AWS's dimension sets, over the namespaces of the
``MetricSource``s the node adds (``sources.py``: ``Loam/Billing``), and over
the metrics the node samples from its components (``loam/metrics/sampled.py``:
the event source mappings' metrics in ``AWS/Lambda``, queue backlogs in
``AWS/SQS``). Another namespace has no metrics here (empty answers, as
CloudWatch gives for a metric it has never seen).
Periods are aligned to the (minute-rounded) start time; a period without
samples has no datapoint.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from loam.clock import Clock
from loam.metrics.aggregate import Aggregate
from loam.metrics.catalogue import (
    METRICS,
    NAMESPACE,
    Dimensions,
    MinuteSource,
    aggregate_periods,
    known_metrics,
)
from loam.metrics.persist import MetricsArchive, StoredMinutes
from loam.metrics.recorder import MetricsRecorder
from loam.metrics.sampled import UNITS as SAMPLED_UNITS
from loam.metrics.sampled import SampledMetrics, periods_of
from loam.services.base import Handler
from loam.services.cloudwatch.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from loam.services.cloudwatch.sources import MetricSource
from loam.services.cloudwatch.statistics import check_extended, statistic

__all__ = ["CloudWatchService"]

MAX_DATAPOINTS = 1440
MAX_RESULT_POINTS = 100_800
LIST_PAGE = 500
HIGH_RESOLUTION_PERIODS = (1, 5, 10, 30)


class CloudWatchService:
    service_name = "cloudwatch"

    def __init__(self, recorder: MetricsRecorder, clock: Clock,
                 sources: Sequence[MetricSource] = (), sampled: SampledMetrics | None = None,
                 refresh: Callable[[], None] = lambda: None,
                 archive: MetricsArchive | None = None) -> None:
        self.recorder = recorder
        self.clock = clock
        self.sources = {source.namespace: source for source in sources}
        self.sampled = sampled
        self.refresh = refresh  # brings the sampled counters up to date before a read
        self.archive = archive  # minutes older than memory keeps, when they are stored

    @property
    def operations(self) -> Mapping[str, Handler]:
        return {"GetMetricStatistics": self.get_metric_statistics,
                "GetMetricData": self.get_metric_data,
                "ListMetrics": self.list_metrics}

    async def start(self) -> None:
        """Nothing runs in the background: the recorder is fed by the invoke path."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        stats: list[str] = params.get("Statistics") or []
        extended: list[str] = params.get("ExtendedStatistics") or []
        if not stats and not extended:
            raise MissingParameter(
                "The parameter Statistics or ExtendedStatistics must be specified.")
        check_extended(extended, "ExtendedStatistics")
        start, end, period = _window(params["StartTime"], params["EndTime"], params["Period"])
        name = params["MetricName"]
        points = await self._periods(params["Namespace"], name,
                                     _dimensions(params.get("Dimensions")), params.get("Unit"),
                                     start, end, period)
        unit = self._unit(params["Namespace"], name) or "None"
        datapoints = []
        for slot in sorted(points):
            agg = points[slot]
            point: dict[str, Any] = {"Timestamp": _time(slot), "Unit": unit}
            for s in stats:
                point[s] = statistic(agg, s)
            if extended:
                point["ExtendedStatistics"] = {e: statistic(agg, e) for e in extended}
            datapoints.append(point)
        return {"Label": name, "Datapoints": datapoints}

    async def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        queries: list[dict[str, Any]] = params["MetricDataQueries"]
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for index, query in enumerate(queries, 1):
            stat = query.get("MetricStat")
            if stat is None:
                raise InvalidParameterValue(
                    f"The parameter MetricDataQueries.member.{index}.Expression is not "
                    "supported by loam: only MetricStat queries are evaluated.")
            if query.get("ReturnData") is False:
                continue
            results.append(await self._metric_stat(query["Id"], query.get("Label"), stat,
                                                   params["StartTime"], params["EndTime"],
                                                   descending))
        return {"MetricDataResults": results, "Messages": []}

    async def _metric_stat(self, query_id: str, label: str | None, stat: dict[str, Any],
                     start_time: datetime, end_time: datetime,
                     descending: bool) -> dict[str, Any]:
        metric = stat["Metric"]
        name = metric.get("MetricName", "")
        check_extended([s for s in [stat["Stat"]] if s[:1] == "p"], "Stat")
        start, end, period = _window(start_time, end_time, stat["Period"], MAX_RESULT_POINTS)
        points = await self._periods(metric.get("Namespace", ""), name,
                                     _dimensions(metric.get("Dimensions")), stat.get("Unit"),
                                     start, end, period)
        slots = sorted(points, reverse=descending)
        return {"Id": query_id, "Label": label or name,
                "Timestamps": [_time(s) for s in slots],
                "Values": [statistic(points[s], stat["Stat"]) for s in slots],
                "StatusCode": "Complete"}

    async def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params.get("Namespace")
        name = params.get("MetricName")
        filters = params.get("Dimensions") or []
        candidates: list[tuple[str, str, Dimensions]] = []
        if namespace in (None, NAMESPACE):
            candidates.extend((NAMESPACE, metric, dims)
                              for metric, dims in known_metrics(self.recorder))
        if self.sampled is not None:
            self.refresh()
            candidates.extend((space, metric, dims)
                              for space, metric, dims in self.sampled.known(namespace))
        for source in self.sources.values():
            if namespace in (None, source.namespace):
                candidates.extend((source.namespace, metric, dims)
                                  for metric, dims in await source.metrics())
        found = sorted(
            (space, metric, dims) for space, metric, dims in candidates
            if name in (None, metric) and all(_matches(f, dims) for f in filters))
        offset = _offset(params.get("NextToken"))
        page = found[offset:offset + LIST_PAGE]
        answer: dict[str, Any] = {"Metrics": [
            {"Namespace": space, "MetricName": metric,
             "Dimensions": [{"Name": k, "Value": v} for k, v in dims]}
            for space, metric, dims in page]}
        if offset + LIST_PAGE < len(found):
            answer["NextToken"] = base64.b64encode(str(offset + LIST_PAGE).encode()).decode()
        return answer


    def _unit(self, namespace: str, name: str) -> str | None:
        source = self.sources.get(namespace)
        if source is not None:
            return source.unit(name)
        if (namespace, name) in SAMPLED_UNITS:
            return SAMPLED_UNITS[namespace, name]
        return METRICS[name].unit if namespace == NAMESPACE and name in METRICS else None

    async def _stored(self, start: float, end: float,
                      series: list[Any] | None) -> StoredMinutes | None:
        """The stored minutes of [start, end) that memory no longer keeps, of the series
        whose key starts with ``series``; None when memory has them all."""
        if self.archive is None or start >= self.archive.memory_start * 60:
            return None
        return await asyncio.to_thread(self.archive.view, start, end, False, series)

    async def _periods(self, namespace: str, name: str, dims: Dimensions, unit: str | None,
                       start: float, end: float, period: int) -> dict[int, Aggregate]:
        source = self.sources.get(namespace)
        sampled_unit = SAMPLED_UNITS.get((namespace, name))
        if sampled_unit is not None and self.sampled is not None:
            if unit not in (None, sampled_unit):
                return {}
            self.refresh()
            periods = self.sampled.periods(namespace, name, dims, start, end, period)
            stored = await self._stored(start, end, ["sampled", namespace, name])
            if stored is not None:
                _merge(periods, periods_of(stored.sampled.get((namespace, name, dims), {}),
                                           start, end, period))
            return periods
        if source is None:
            periods = _periods(self.recorder, namespace, name, dims, unit, start, end, period)
            function = dict(dims).get("FunctionName")
            stored = await self._stored(start, end, ["lambda", function] if function else None)
            if stored is not None:
                _merge(periods, _periods(stored, namespace, name, dims, unit, start, end,
                                         period))
            return periods
        known = source.unit(name)
        if known is None or unit not in (None, known):
            return {}
        return await source.periods(name, dims, start, end, period)


def _merge(into: dict[int, Aggregate], more: dict[int, Aggregate]) -> None:
    for slot, agg in more.items():
        into.setdefault(slot, Aggregate()).merge(agg)


def _window(start_time: datetime, end_time: datetime, period: int,
            limit: int = MAX_DATAPOINTS) -> tuple[float, float, int]:
    if period <= 0 or (period < 60 and period not in HIGH_RESOLUTION_PERIODS) or (
            period >= 60 and period % 60):
        raise InvalidParameterValue("The parameter Period must be a multiple of 60.")
    start, end = start_time.timestamp(), end_time.timestamp()
    if start >= end:
        raise InvalidParameterValue(
            "The parameter StartTime must be less than the parameter EndTime.")
    period = max(period, 60)  # loam keeps one-minute resolution
    start = start // 60 * 60
    requested = int(-(-(end - start) // period))
    if requested > limit:
        raise InvalidParameterCombination(
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{limit:,}. You may reduce the datapoints requested by increasing Period, or "
            "decreasing the time range.")
    return start, end, period


def _periods(recorder: MinuteSource, namespace: str, name: str, dims: Dimensions,
             unit: str | None, start: float, end: float, period: int) -> dict[int, Aggregate]:
    metric = METRICS.get(name)
    if namespace != NAMESPACE or metric is None or unit not in (None, metric.unit):
        return {}
    return aggregate_periods(recorder, metric, dims, start, end, period)


def _dimensions(raw: list[dict[str, str]] | None) -> Dimensions:
    return tuple(sorted((d["Name"], d["Value"]) for d in raw or []))


def _matches(dim_filter: dict[str, str], dims: Dimensions) -> bool:
    value = dim_filter.get("Value")
    return any(k == dim_filter["Name"] and value in (None, v) for k, v in dims)


def _offset(token: str | None) -> int:
    if token is None:
        return 0
    try:
        return int(base64.b64decode(token, validate=True).decode())
    except ValueError:
        raise InvalidNextToken("The service cannot process the NextToken.") from None


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
