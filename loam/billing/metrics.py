"""The billing usage as CloudWatch metrics in the ``Loam/Billing`` namespace.

Metrics ``Requests`` (Count), ``BilledGBSeconds`` and ``EphemeralGBSeconds``
(None: CloudWatch has no GB-second unit), published under one dimension
set, FunctionName + Architecture, at hourly resolution: a period shorter
than an hour holds the whole hour at the period its start falls in. Each
hour is one aggregate of its requests (SampleCount = requests; Sum = the
hour's total; Average = per request), so ``Sum`` is what to ask for.

Reads flush the recorder's pending totals first: what has been invoked is
what is read, from the database, whichever node recorded it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

from loam.billing.usage import UsageRecorder, UsageRow
from loam.metrics.aggregate import Aggregate
from loam.metrics.catalogue import Dimensions

__all__ = ["NAMESPACE", "UNITS", "BillingMetrics"]

NAMESPACE = "Loam/Billing"
UNITS = {"Requests": "Count", "BilledGBSeconds": "None", "EphemeralGBSeconds": "None"}


class BillingMetrics:
    """A ``MetricSource`` (loam/services/cloudwatch/sources.py) over ``UsageRecorder``."""

    namespace = NAMESPACE

    def __init__(self, usage: UsageRecorder) -> None:
        self.usage = usage

    def unit(self, metric: str) -> str | None:
        return UNITS.get(metric)

    async def periods(self, metric: str, dimensions: Dimensions, start: float, end: float,
                      period: int) -> dict[int, Aggregate]:
        named = dict(dimensions)
        if metric not in UNITS or set(named) != {"FunctionName", "Architecture"}:
            return {}
        await self.usage.flush()
        first_hour = start // 3600 * 3600  # the hour holding ``start`` counts
        rows = await asyncio.to_thread(self.usage.rows, first_hour, end,
                                       named["FunctionName"])
        periods: dict[int, Aggregate] = {}
        for row in rows:
            if row.architecture != named["Architecture"] or row.requests == 0:
                continue
            slot = int(start + (max(row.hour, start) - start) // period * period)
            merged = periods.get(slot)
            if merged is None:
                merged = periods[slot] = Aggregate()
            merged.merge(_hour(metric, row))
        return periods

    async def metrics(self) -> list[tuple[str, Dimensions]]:
        await self.usage.flush()
        series = await asyncio.to_thread(self.usage.series)
        return [(metric, (("Architecture", arch), ("FunctionName", fn)))
                for fn, arch in series for metric in UNITS]


def _hour(metric: str, row: UsageRow) -> Aggregate:
    """One hour of one metric: ``requests`` samples summing to the hour's total."""
    if metric == "Requests":
        total = Decimal(row.requests)
    elif metric == "BilledGBSeconds":
        total = row.gb_seconds
    else:
        total = row.ephemeral_gb_seconds
    agg = Aggregate()
    each = float(total / row.requests)
    agg.count, agg.total = row.requests, float(total)
    agg.low = agg.high = each
    agg.bins[_bin_of(each)] = row.requests
    return agg


def _bin_of(value: float) -> int:
    probe = Aggregate()
    probe.add(value)
    return next(iter(probe.bins))
