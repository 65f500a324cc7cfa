"""What usage would cost on AWS Lambda: requests, tiered duration, ephemeral storage.

AWS bills per account, region and calendar month (UTC), so the estimate
works a month at a time over every function's usage:

- requests: the month's total, less the free 1,000,000, at the price per
  million;
- duration: each architecture's GB-seconds of the month go through that
  architecture's tiers (the first 6 billion GB-s at one price, the next 9
  billion at a lower one, …) counted from the month's first GB-second. The
  free 400,000 GB-s are those first GB-seconds: taken from x86_64 first
  (the dearer architecture), then from arm64 — a documented choice, AWS
  does not say how it splits a free tier both architectures share;
- ephemeral storage: GB-seconds above the free 512 MB, at one price, no
  free tier;
- provisioned concurrency: the GB-seconds of configured (allocated)
  environments, and the duration of invocations they served, each at its own
  price per architecture, no free tier and no tiers (as AWS). Those
  invocations' duration is not also charged at the on-demand price; their
  requests are ordinary requests.

An account-wide charge (requests, a duration tier) is shared between the
functions that caused it in proportion to their requests or GB-seconds, so
the lines add up to the account's bill. Amounts stay ``Decimal`` until they
are shown.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from loam.billing.prices import PriceTable, Tier

__all__ = ["Cost", "Usage", "estimate", "month_of"]

_ZERO = Decimal(0)
_MILLION = Decimal(1_000_000)


def month_of(epoch: float) -> str:
    """The calendar month (UTC) ``epoch`` falls in: ``2024-03``."""
    return time.strftime("%Y-%m", time.gmtime(epoch))


@dataclass(frozen=True)
class Usage:
    """One function's usage on one architecture in one month."""

    function: str
    architecture: str
    month: str
    requests: int
    gb_seconds: Decimal
    ephemeral_gb_seconds: Decimal = _ZERO
    provisioned_gb_seconds: Decimal = _ZERO  # configured environments' time
    provisioned_duration_gb_seconds: Decimal = _ZERO  # part of gb_seconds they served

    @property
    def on_demand_gb_seconds(self) -> Decimal:
        return max(_ZERO, self.gb_seconds - self.provisioned_duration_gb_seconds)

    def plus(self, other: Usage) -> Usage:
        return Usage(self.function, self.architecture, self.month,
                     self.requests + other.requests, self.gb_seconds + other.gb_seconds,
                     self.ephemeral_gb_seconds + other.ephemeral_gb_seconds,
                     self.provisioned_gb_seconds + other.provisioned_gb_seconds,
                     self.provisioned_duration_gb_seconds
                     + other.provisioned_duration_gb_seconds)


@dataclass(frozen=True)
class Cost:
    usage: Usage
    request_cost: Decimal
    duration_cost: Decimal
    ephemeral_cost: Decimal
    provisioned_cost: Decimal = _ZERO
    total: Decimal = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", self.request_cost + self.duration_cost
                           + self.ephemeral_cost + self.provisioned_cost)


def estimate(usage: Iterable[Usage], prices: PriceTable,
             free_tier: bool = True) -> list[Cost]:
    """The cost of each (function, architecture, month), sorted by month, then function."""
    merged: dict[tuple[str, str, str], Usage] = {}
    for line in usage:
        key = (line.month, line.function, line.architecture)
        before = merged.get(key)
        merged[key] = line if before is None else before.plus(line)
    months: dict[str, list[Usage]] = {}
    for key in sorted(merged):
        months.setdefault(key[0], []).append(merged[key])
    costs: list[Cost] = []
    for lines in months.values():
        costs.extend(_month(lines, prices, free_tier))
    return costs


def _month(lines: list[Usage], prices: PriceTable, free_tier: bool) -> list[Cost]:
    requests = sum((Decimal(line.requests) for line in lines), _ZERO)
    free_requests = prices.free_requests if free_tier else _ZERO
    request_charge = max(_ZERO, requests - free_requests) * prices.per_million_requests \
        / _MILLION
    by_arch: dict[str, Decimal] = {}
    for line in lines:
        by_arch[line.architecture] = (by_arch.get(line.architecture, _ZERO)
                                      + line.on_demand_gb_seconds)
    free_left = prices.free_gb_seconds if free_tier else _ZERO
    arch_charge: dict[str, Decimal] = {}
    for arch in sorted(by_arch, key=_free_tier_order):
        free = min(by_arch[arch], free_left)
        free_left -= free
        tiers = prices.duration.get(arch)
        if tiers is None:
            raise ValueError(f"no duration prices for architecture {arch!r}")
        arch_charge[arch] = _tiered(tiers, free, by_arch[arch])
    costs = []
    for line in lines:
        arch_total = by_arch[line.architecture]
        costs.append(Cost(
            line,
            _share(request_charge, Decimal(line.requests), requests),
            _share(arch_charge[line.architecture], line.on_demand_gb_seconds, arch_total),
            line.ephemeral_gb_seconds * prices.ephemeral_per_gb_second,
            _provisioned(line, prices),
        ))
    return costs


def _provisioned(line: Usage, prices: PriceTable) -> Decimal:
    if not line.provisioned_gb_seconds and not line.provisioned_duration_gb_seconds:
        return _ZERO
    arch = line.architecture
    configured = prices.provisioned_per_gb_second.get(arch)
    served = prices.provisioned_duration_per_gb_second.get(arch)
    if configured is None or served is None:
        raise ValueError(f"no provisioned concurrency prices for architecture {arch!r}")
    return (line.provisioned_gb_seconds * configured
            + line.provisioned_duration_gb_seconds * served)


def _free_tier_order(architecture: str) -> tuple[int, str]:
    """x86_64 takes the free GB-seconds first, then arm64, then anything else."""
    order = {"x86_64": 0, "arm64": 1}
    return order.get(architecture, 2), architecture


def _tiered(tiers: tuple[Tier, ...], start: Decimal, end: Decimal) -> Decimal:
    """The price of the month's GB-seconds numbered [start, end) through ``tiers``."""
    cost = _ZERO
    lower = _ZERO
    for tier in tiers:
        upper = end if tier.up_to is None else tier.up_to
        low, high = max(start, lower), min(end, upper)
        if high > low:
            cost += (high - low) * tier.per_gb_second
        if tier.up_to is None:
            break
        lower = tier.up_to
    return cost


def _share(charge: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    return charge * part / whole if whole else _ZERO
