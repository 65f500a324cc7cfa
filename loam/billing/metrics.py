"""The billing usage as CloudWatch metrics in the ``Loam/Billing`` namespace.

Usage metrics ``Requests`` (Count), ``BilledGBSeconds``,
``EphemeralGBSeconds``, ``ProvisionedGBSeconds`` (configured provisioned
concurrency's time) and ``ProvisionedDurationGBSeconds`` (the part of
``BilledGBSeconds`` that provisioned concurrency served) (None: CloudWatch
has no GB-second unit), published under one dimension set, FunctionName +
Architecture, at hourly resolution: a period shorter than an hour holds the
whole hour at the period its start falls in. Each hour is one aggregate of
its requests (SampleCount = requests, or 1 for an hour of provisioned time
alone; Sum = the hour's total), so ``Sum`` is what to ask for.

``EstimatedCharges`` (USD, unit None) is AWS/Billing's: the month-to-date
charge (``charges.py``), under ``Currency`` and ``Currency`` + FunctionName.

Reads flush the recorder's pending totals first: what has been invoked is
what is read, from the database, whichever node recorded it.
"""

from __future__ import annotations

import asyncio
import math
from decimal import Decimal

from loam.billing.charges import month_start, month_to_date
from loam.billing.prices import PriceTable, load_prices
from loam.billing.usage import UsageRecorder, UsageRow
from loam.metrics.aggregate import Aggregate
from loam.metrics.catalogue import Dimensions

__all__ = ["CHARGES", "NAMESPACE", "UNITS", "BillingMetrics"]

NAMESPACE = "Loam/Billing"
USAGE_UNITS = {"Requests": "Count", "BilledGBSeconds": "None", "EphemeralGBSeconds": "None",
               "ProvisionedGBSeconds": "None", "ProvisionedDurationGBSeconds": "None"}
CHARGES = "EstimatedCharges"
UNITS = {**USAGE_UNITS, CHARGES: "None"}


class BillingMetrics:
    """A ``MetricSource`` (loam/services/cloudwatch/sources.py) over ``UsageRecorder``."""

    namespace = NAMESPACE

    def __init__(self, usage: UsageRecorder, prices: PriceTable | None = None) -> None:
        self.usage = usage
        self.prices = prices or load_prices()

    def unit(self, metric: str) -> str | None:
        return UNITS.get(metric)

    async def periods(self, metric: str, dimensions: Dimensions, start: float, end: float,
                      period: int) -> dict[int, Aggregate]:
        named = dict(dimensions)
        if metric == CHARGES:
            return await self._charges(named, start, end, period)
        if metric not in USAGE_UNITS or set(named) != {"FunctionName", "Architecture"}:
            return {}
        await self.usage.flush()
        first_hour = start // 3600 * 3600  # the hour holding ``start`` counts
        rows = await asyncio.to_thread(self.usage.rows, first_hour, end,
                                       named["FunctionName"])
        periods: dict[int, Aggregate] = {}
        for row in rows:
            if row.architecture != named["Architecture"] or _empty(metric, row):
                continue
            slot = int(start + (max(row.hour, start) - start) // period * period)
            merged = periods.get(slot)
            if merged is None:
                merged = periods[slot] = Aggregate()
            merged.merge(_hour(metric, row))
        return periods

    async def _charges(self, named: dict[str, str], start: float, end: float,
                       period: int) -> dict[int, Aggregate]:
        if named.get("Currency") != self.prices.currency or not set(named) <= {
                "Currency", "FunctionName"}:
            return {}
        await self.usage.flush()
        now = self.usage.clock.time()
        rows = await asyncio.to_thread(self.usage.rows, month_start(start), min(end, now))
        slots = list(range(int(start), math.ceil(end), period))
        values = month_to_date(rows, self.prices, slots, period, now,
                               named.get("FunctionName"))
        return {slot: _one(float(value)) for slot, value in values.items()}

    async def metrics(self) -> list[tuple[str, Dimensions]]:
        await self.usage.flush()
        series = await asyncio.to_thread(self.usage.series)
        found: list[tuple[str, Dimensions]] = [
            (metric, (("Architecture", arch), ("FunctionName", fn)))
            for fn, arch in series for metric in USAGE_UNITS]
        if series:
            currency = ("Currency", self.prices.currency)
            found.append((CHARGES, (currency,)))
            found.extend((CHARGES, (currency, ("FunctionName", fn)))
                         for fn in sorted({fn for fn, _ in series}))
        return found


def _total(metric: str, row: UsageRow) -> Decimal:
    if metric == "Requests":
        return Decimal(row.requests)
    if metric == "BilledGBSeconds":
        return row.gb_seconds
    if metric == "ProvisionedGBSeconds":
        return row.provisioned_gb_seconds
    if metric == "ProvisionedDurationGBSeconds":
        return row.provisioned_duration_gb_seconds
    return row.ephemeral_gb_seconds


def _empty(metric: str, row: UsageRow) -> bool:
    if metric == "ProvisionedGBSeconds":
        return row.provisioned_mb_ms == 0
    return row.requests == 0


def _hour(metric: str, row: UsageRow) -> Aggregate:
    """One hour of one metric: ``requests`` samples summing to the hour's total (one
    sample for provisioned time, which has no requests of its own)."""
    total = _total(metric, row)
    samples = row.requests if metric != "ProvisionedGBSeconds" else 1
    agg = Aggregate()
    each = float(total / samples)
    agg.count, agg.total = samples, float(total)
    agg.low = agg.high = each
    agg.bins[_bin_of(each)] = samples
    return agg


def _one(value: float) -> Aggregate:
    agg = Aggregate()
    agg.add(value)
    return agg


def _bin_of(value: float) -> int:
    probe = Aggregate()
    probe.add(value)
    return next(iter(probe.bins))
