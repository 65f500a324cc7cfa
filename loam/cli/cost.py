"""``loam cost``: what the node's workload would have cost on AWS Lambda.

The usage comes from the node's CloudWatch API (namespace ``Loam/Billing``:
``Requests``, ``BilledGBSeconds``, ``EphemeralGBSeconds``,
``ProvisionedGBSeconds``, ``ProvisionedDurationGBSeconds`` per FunctionName
and Architecture, hourly): ListMetrics names the series, GetMetricStatistics
reads each one's hourly ``Sum`` over the range (in windows of at most 1,440
hours, CloudWatch's datapoint limit). The bill is worked out here
(``loam.billing.estimate``) with loam's price table or ``--prices FILE``.

The free tier is the account's, per calendar month: it is applied to every
function's usage in the range, also with ``--function``, which only picks
the lines shown. A range that starts mid-month gives that month the whole
free tier (usage before the range is not read).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from loam.billing import NAMESPACE, Cost, InvalidPriceTable, Usage, estimate, load_prices
from loam.billing.estimate import month_of
from loam.cli.connection import Connection, UsageError, client_options
from loam.cli.logs import parse_since
from loam.cli.output import Output
from loam.clock import Clock, SystemClock

__all__ = ["COLUMNS", "Line", "register", "summarise", "usage_from_series"]

HOUR = 3600
MAX_HOURS = 1440  # GetMetricStatistics' datapoint limit
METRICS = ("Requests", "BilledGBSeconds", "EphemeralGBSeconds", "ProvisionedGBSeconds",
           "ProvisionedDurationGBSeconds")
COLUMNS = ("REQUESTS", "GB-SECONDS", "REQUEST COST", "DURATION COST", "EPHEMERAL COST",
           "PROVISIONED COST", "TOTAL")
_ZERO = Decimal(0)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    cost = sub.add_parser("cost", parents=[client_options()],
                          help="what the workload would cost on AWS Lambda")
    cost.add_argument("--since", default=None,
                      help="how far back: 12h, 7d, 30d or an ISO 8601 time (default 30d)")
    cost.add_argument("--start", default=None, help="start of the range (ISO 8601)")
    cost.add_argument("--end", default=None, help="end of the range (ISO 8601; default now)")
    cost.add_argument("--function", default=None, metavar="NAME",
                      help="show only this function (the free tier stays the account's)")
    cost.add_argument("--by", choices=["function", "month"], default="function",
                      help="one line per function (default) or per month")
    cost.add_argument("--no-free-tier", action="store_true",
                      help="leave out the monthly free tier")
    cost.add_argument("--prices", type=Path, default=None, metavar="FILE",
                      help="a price table in loam's format (default: AWS us-east-1)")
    cost.set_defaults(run=_run)


@dataclass(frozen=True)
class Line:
    """One shown line: a function's (or a month's) usage and its cost."""

    key: str
    architectures: tuple[str, ...]
    requests: int
    gb_seconds: Decimal
    ephemeral_gb_seconds: Decimal
    request_cost: Decimal
    duration_cost: Decimal
    ephemeral_cost: Decimal
    provisioned_gb_seconds: Decimal = _ZERO
    provisioned_cost: Decimal = _ZERO

    @property
    def total(self) -> Decimal:
        return self.request_cost + self.duration_cost + self.ephemeral_cost \
            + self.provisioned_cost

    def plus(self, other: Line, key: str | None = None) -> Line:
        return Line(self.key if key is None else key,
                    tuple(sorted(set(self.architectures) | set(other.architectures))),
                    self.requests + other.requests, self.gb_seconds + other.gb_seconds,
                    self.ephemeral_gb_seconds + other.ephemeral_gb_seconds,
                    self.request_cost + other.request_cost,
                    self.duration_cost + other.duration_cost,
                    self.ephemeral_cost + other.ephemeral_cost,
                    self.provisioned_gb_seconds + other.provisioned_gb_seconds,
                    self.provisioned_cost + other.provisioned_cost)

    def document(self, key_name: str) -> dict[str, Any]:
        doc: dict[str, Any] = {key_name: self.key} if key_name else {}
        doc.update({
            "Architectures": list(self.architectures),
            "Requests": self.requests,
            "GBSeconds": _number(self.gb_seconds, 6),
            "EphemeralGBSeconds": _number(self.ephemeral_gb_seconds, 6),
            "RequestCost": _number(self.request_cost, 6),
            "DurationCost": _number(self.duration_cost, 6),
            "EphemeralCost": _number(self.ephemeral_cost, 6),
            "ProvisionedGBSeconds": _number(self.provisioned_gb_seconds, 6),
            "ProvisionedCost": _number(self.provisioned_cost, 6),
            "Total": _number(self.total, 6),
        })
        return doc

    def cells(self) -> list[object]:
        return [f"{self.requests:,}", f"{self.gb_seconds:,.3f}", _money(self.request_cost),
                _money(self.duration_cost), _money(self.ephemeral_cost),
                _money(self.provisioned_cost), _money(self.total)]


def usage_from_series(series: Iterable[tuple[str, str, str, Sequence[dict[str, Any]]]]
                      ) -> list[Usage]:
    """(function, architecture, metric, hourly Sum datapoints) → monthly usage lines."""
    totals: dict[tuple[str, str, str], dict[str, Decimal]] = {}
    for function, arch, metric, datapoints in series:
        for point in datapoints:
            moment = point["Timestamp"]
            month = month_of(moment.timestamp() if isinstance(moment, datetime)
                             else float(moment))
            sums = totals.setdefault((function, arch, month), {})
            sums[metric] = sums.get(metric, _ZERO) + Decimal(str(point["Sum"]))
    return [Usage(fn, arch, month, int(sums.get("Requests", _ZERO).to_integral_value()),
                  sums.get("BilledGBSeconds", _ZERO), sums.get("EphemeralGBSeconds", _ZERO),
                  sums.get("ProvisionedGBSeconds", _ZERO),
                  sums.get("ProvisionedDurationGBSeconds", _ZERO))
            for (fn, arch, month), sums in sorted(totals.items())]


def summarise(costs: Iterable[Cost], by: str, function: str | None = None) -> list[Line]:
    """Cost lines merged per function or per month, only ``function``'s if given."""
    lines: dict[str, Line] = {}
    for cost in costs:
        usage = cost.usage
        if function is not None and usage.function != function:
            continue
        key = usage.function if by == "function" else usage.month
        lines[key] = _add(lines.get(key), key, cost)
    return [lines[key] for key in sorted(lines)]


def total_of(lines: Iterable[Line]) -> Line:
    total = Line("TOTAL", (), 0, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO)
    for line in lines:
        total = total.plus(line)
    return Line("TOTAL", (), total.requests, total.gb_seconds, total.ephemeral_gb_seconds,
                total.request_cost, total.duration_cost, total.ephemeral_cost,
                total.provisioned_gb_seconds, total.provisioned_cost)


def _add(line: Line | None, key: str, cost: Cost) -> Line:
    usage = cost.usage
    base = line or Line(key, (), 0, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO)
    return base.plus(Line(key, (usage.architecture,), usage.requests, usage.gb_seconds,
                          usage.ephemeral_gb_seconds, cost.request_cost, cost.duration_cost,
                          cost.ephemeral_cost, usage.provisioned_gb_seconds,
                          cost.provisioned_cost), key)


def time_range(args: argparse.Namespace, now: float) -> tuple[float, float]:
    """[start, end) in epoch seconds, the start rounded down to its hour."""
    if args.start and args.since:
        raise UsageError("give either --since or --start, not both")
    end = parse_since(args.end, now) / 1000 if args.end else now
    start = parse_since(args.start or args.since or "30d", now) / 1000
    if start >= end:
        raise UsageError("the range is empty: its start is not before its end")
    return start // HOUR * HOUR, end


def _read_usage(cloudwatch: Any, start: float, end: float) -> list[Usage]:
    series: list[tuple[str, str]] = []
    for page in cloudwatch.get_paginator("list_metrics").paginate(
            Namespace=NAMESPACE, MetricName="Requests"):
        for metric in page.get("Metrics", []):
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            if "FunctionName" in dims and "Architecture" in dims:
                series.append((dims["FunctionName"], dims["Architecture"]))
    read = []
    for function, arch in sorted(set(series)):
        for name in METRICS:
            points: list[dict[str, Any]] = []
            window = start
            while window < end:
                window_end = min(end, window + MAX_HOURS * HOUR)
                points.extend(cloudwatch.get_metric_statistics(
                    Namespace=NAMESPACE, MetricName=name, Statistics=["Sum"], Period=HOUR,
                    StartTime=_time(window), EndTime=_time(window_end),
                    Dimensions=[{"Name": "FunctionName", "Value": function},
                                {"Name": "Architecture", "Value": arch}],
                ).get("Datapoints", []))
                window = window_end
            read.append((function, arch, name, points))
    return usage_from_series(read)


def _run(args: argparse.Namespace, connection: Connection, out: Output,
         clock: Clock | None = None) -> int:
    try:
        prices = load_prices(args.prices)
    except InvalidPriceTable as exc:
        raise UsageError(f"--prices: {exc}") from None
    start, end = time_range(args, (clock or SystemClock()).time())
    usage = _read_usage(connection.client("cloudwatch"), start, end)
    free_tier = not args.no_free_tier
    lines = summarise(estimate(usage, prices, free_tier), args.by, args.function)
    total = total_of(lines)
    key_name = "Function" if args.by == "function" else "Month"
    document = {"Start": _time(start).isoformat(), "End": _time(end).isoformat(),
                "Region": prices.region, "Currency": prices.currency, "FreeTier": free_tier,
                "By": args.by, "Lines": [line.document(key_name) for line in lines],
                "Total": total.document("")}
    first = (key_name.upper(), "ARCHITECTURE") if args.by == "function" else ("MONTH",)
    rows = [[line.key, *([",".join(line.architectures)] if args.by == "function" else []),
             *line.cells()] for line in [*lines, total]]
    out.table((*first, *COLUMNS), rows, document=document)
    return 0


def _money(amount: Decimal) -> str:
    if amount == 0:
        return "$0.00"
    if amount < Decimal("0.01"):
        return "<$0.01"
    return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _number(value: Decimal, places: int) -> float:
    return float(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def _time(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)
