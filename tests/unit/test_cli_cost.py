"""``loam cost`` over a fake CloudWatch client: the series it reads, the lines and totals
it prints, the free tier across the account, --prices errors."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from loam.billing import Usage, estimate, load_prices
from loam.cli import cost
from loam.cli.connection import Connection, UsageError
from loam.cli.main import build_parser
from loam.cli.output import Output
from loam.clock import FakeClock

NOW = datetime(2024, 3, 10, 12, 30, tzinfo=UTC).timestamp()
FEB = datetime(2024, 2, 20, 8, tzinfo=UTC)
MAR = datetime(2024, 3, 5, 9, tzinfo=UTC)


class FakeCloudWatch:
    """Hourly Sums per (function, architecture, metric)."""

    def __init__(self, data: dict[tuple[str, str, str], list[tuple[datetime, float]]]) -> None:
        self.data = data
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_metrics"
        fake = self

        class Pages:
            def paginate(self, **params: Any) -> list[dict[str, Any]]:
                assert params == {"Namespace": "Loam/Billing", "MetricName": "Requests"}
                series = sorted({(fn, arch) for fn, arch, _ in fake.data})
                return [{"Metrics": [{"Namespace": "Loam/Billing", "MetricName": "Requests",
                                      "Dimensions": [{"Name": "Architecture", "Value": a},
                                                     {"Name": "FunctionName", "Value": f}]}
                                     for f, a in series]}]
        return Pages()

    def get_metric_statistics(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params)
        dims = {d["Name"]: d["Value"] for d in params["Dimensions"]}
        points = self.data.get((dims["FunctionName"], dims["Architecture"],
                                params["MetricName"]), [])
        return {"Datapoints": [{"Timestamp": t, "Sum": v} for t, v in points
                               if params["StartTime"] <= t < params["EndTime"]]}


def run_cost(fake: FakeCloudWatch, *argv: str) -> tuple[int, str]:
    class FakeConnection(Connection):
        def client(self, service: str) -> Any:
            assert service == "cloudwatch"
            return fake

    args = build_parser().parse_args(["cost", *argv])
    stdout = io.StringIO()
    code = cost._run(args, FakeConnection("http://x", "us-east-1"),
                     Output(args.output or "text", stdout=stdout), FakeClock(NOW))
    return code, stdout.getvalue()


def usage_of(requests: float, gb_s: float, when: datetime = MAR, fn: str = "f",
             arch: str = "x86_64") -> dict[tuple[str, str, str], list[tuple[datetime, float]]]:
    return {(fn, arch, "Requests"): [(when, requests)],
            (fn, arch, "BilledGBSeconds"): [(when, gb_s)]}


def test_json_lines_and_total() -> None:
    # 3M requests, 180,000 GB-s on x86 in March: $0.40 of requests, duration free.
    fake = FakeCloudWatch(usage_of(3_000_000, 180_000))
    code, text = run_cost(fake, "-o", "json")
    doc = json.loads(text)
    assert code == 0
    [line] = doc["Lines"]
    assert line == {"Function": "f", "Architectures": ["x86_64"], "Requests": 3_000_000,
                    "GBSeconds": 180000.0, "EphemeralGBSeconds": 0.0, "RequestCost": 0.4,
                    "DurationCost": 0.0, "EphemeralCost": 0.0, "ProvisionedGBSeconds": 0.0,
                    "ProvisionedCost": 0.0, "Total": 0.4}
    assert doc["Total"]["Total"] == 0.4 and doc["FreeTier"] is True
    # 30 days back from NOW, from the start of that hour, hourly
    assert {c["Period"] for c in fake.calls} == {3600}
    assert fake.calls[0]["StartTime"] == datetime(2024, 2, 9, 12, tzinfo=UTC)


def test_the_free_tier_is_the_accounts_also_for_one_function() -> None:
    # f and g each 1M requests in March: (2M − 1M) × $0.20/1M = $0.20, $0.10 to f.
    fake = FakeCloudWatch({**usage_of(1_000_000, 1), **usage_of(1_000_000, 1, fn="g")})
    _, text = run_cost(fake, "-o", "json", "--function", "f")
    doc = json.loads(text)
    assert [line["Function"] for line in doc["Lines"]] == ["f"]
    assert doc["Lines"][0]["RequestCost"] == 0.1
    _, text = run_cost(fake, "-o", "json", "--function", "f", "--no-free-tier")
    assert json.loads(text)["Lines"][0]["RequestCost"] == 0.2


def test_by_month_applies_the_free_tier_per_month() -> None:
    # 800,000 requests in February and in March: each month within its free million.
    fake = FakeCloudWatch({("f", "x86_64", "Requests"): [(FEB, 800_000), (MAR, 800_000)]})
    _, text = run_cost(fake, "-o", "json", "--by", "month", "--since", "60d")
    doc = json.loads(text)
    assert [(m["Month"], m["Requests"], m["Total"]) for m in doc["Lines"]] == [
        ("2024-02", 800_000, 0.0), ("2024-03", 800_000, 0.0)]


def test_text_rows_end_with_the_total() -> None:
    fake = FakeCloudWatch({**usage_of(2_000_000, 500_000),
                           **usage_of(10, 0.001, fn="g", arch="arm64")})
    _, text = run_cost(fake, "--no-free-tier")
    rows = [line.split("\t") for line in text.splitlines()]
    # f: 2M × $0.20/1M = $0.40; 500,000 GB-s × $0.0000166667 = $8.33335 → $8.33
    assert rows[0] == ["f", "x86_64", "2,000,000", "500,000.000", "$0.40", "$8.33", "$0.00",
                       "$0.00", "$8.73"]
    assert rows[1][:2] == ["g", "arm64"] and rows[1][4:6] == ["<$0.01", "<$0.01"]
    assert rows[2][:3] == ["TOTAL", "", "2,000,010"]


def test_provisioned_concurrency_lines() -> None:
    # 1M GB-s configured on arm64, 10,000 GB-s of it served invocations (of 10,000 in
    # all), no free tier: 1,000,000 × $0.0000033334 + 10,000 × $0.0000077778 = $3.411178.
    fake = FakeCloudWatch({**usage_of(100, 10_000, fn="pc", arch="arm64"),
                           ("pc", "arm64", "ProvisionedGBSeconds"): [(MAR, 1_000_000)],
                           ("pc", "arm64", "ProvisionedDurationGBSeconds"): [(MAR, 10_000)]})
    _, text = run_cost(fake, "-o", "json", "--no-free-tier")
    [line] = json.loads(text)["Lines"]
    assert line["ProvisionedGBSeconds"] == 1_000_000
    assert line["ProvisionedCost"] == pytest.approx(3.411178)
    assert line["DurationCost"] == 0.0  # every GB-second ran on provisioned concurrency
    assert line["Total"] == pytest.approx(3.411178 + 100 * 0.2 / 1e6)
    _, text = run_cost(fake, "--no-free-tier")
    assert text.splitlines()[0].split("\t")[7] == "$3.41"


def test_long_ranges_are_read_in_windows_of_1440_hours() -> None:
    fake = FakeCloudWatch(usage_of(1, 1))
    run_cost(fake, "--start", "2023-12-01T00:00:00Z", "--end", "2024-03-01T00:00:00Z")
    windows = sorted({(c["StartTime"], c["EndTime"]) for c in fake.calls})
    assert len(windows) == 2  # 91 days = 2,184 hours
    assert all((end - start).total_seconds() <= 1440 * 3600 for start, end in windows)
    assert windows[0][1] == windows[1][0]


def test_usage_errors() -> None:
    fake = FakeCloudWatch({})
    with pytest.raises(UsageError, match="either --since or --start"):
        run_cost(fake, "--since", "1d", "--start", "2024-01-01")
    with pytest.raises(UsageError, match="range is empty"):
        run_cost(fake, "--start", "2024-03-01", "--end", "2024-02-01")


def test_invalid_price_table_is_a_usage_error(tmp_path: Path) -> None:
    prices = tmp_path / "p.json"
    prices.write_text(json.dumps({"Region": "x"}))
    with pytest.raises(UsageError, match=r"--prices: .*p\.json: Duration: expected a JSON"):
        run_cost(FakeCloudWatch({}), "--prices", str(prices))


def test_summarise_merges_architectures_of_a_function() -> None:
    costs = estimate([Usage("f", "arm64", "2024-03", 1, D(1)),
                      Usage("f", "x86_64", "2024-03", 2, D(2))], load_prices(),
                     free_tier=False)
    [line] = cost.summarise(costs, "function")
    assert (line.architectures, line.requests, line.gb_seconds) == (
        ("arm64", "x86_64"), 3, D(3))
