"""CloudWatch's statistics over an aggregate: Sum, Average, Minimum, Maximum,
SampleCount, and percentiles (``p50``, ``p99.9``)."""

from __future__ import annotations

import re

from loam.metrics.aggregate import Aggregate
from loam.services.cloudwatch.errors import InvalidParameterValue

__all__ = ["STATISTICS", "check_extended", "percentile_of", "statistic"]

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?|100)")


def percentile_of(name: str) -> float | None:
    m = _PERCENTILE.fullmatch(name)
    return float(m.group(1)) if m else None


def check_extended(names: list[str], parameter: str) -> None:
    for name in names:
        if percentile_of(name) is None:
            raise InvalidParameterValue(
                f"The value {name} for parameter {parameter} is not supported.")


def statistic(agg: Aggregate, name: str) -> float:
    if name == "SampleCount":
        return float(agg.count)
    if name == "Sum":
        return agg.total
    if name == "Average":
        return agg.total / agg.count
    if name == "Minimum":
        return agg.low
    if name == "Maximum":
        return agg.high
    p = percentile_of(name)
    if p is None:
        raise InvalidParameterValue(f"The value {name} for parameter Stat is not supported.")
    return agg.percentile(p)
