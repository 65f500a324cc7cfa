"""EstimatedCharges (month to date, free tier on the account) and provisioned
concurrency's charges, against hand-computed AWS prices (us-east-1)."""

from __future__ import annotations

import calendar
from decimal import Decimal as D
from pathlib import Path

import pytest

from loam.billing import BillingMetrics, Usage, UsageRecorder, estimate, load_prices
from loam.billing.charges import month_start, month_to_date
from loam.billing.usage import UsageRow
from loam.clock import FakeClock
from loam.store.sql import open_database
from tests.unit.test_sqs_support import run

PRICES = load_prices()
HOUR = 3600
MARCH = calendar.timegm((2024, 3, 1, 0, 0, 0))
APRIL = calendar.timegm((2024, 4, 1, 0, 0, 0))
MB_MS = 1024 * 1000  # per GB-second


def _row(function: str, arch: str, hour: int, requests: int, gb_s: int) -> UsageRow:
    return UsageRow(function, arch, hour, requests, gb_s * MB_MS, 0)


# In March: a (x86_64) 600,000 requests and 300,000 GB-s at 01:00, b (arm64) 600,000
# requests and 200,000 GB-s at 05:00. By 06:00: requests 1.2M − 1M free = 200,000 ×
# $0.20/M = $0.04, split 0.02 / 0.02; x86_64 takes the free GB-s first: a's 300,000 are
# free, 100,000 free left for b: (200,000 − 100,000) × $0.0000133334 = $1.33334 to b.
ROWS = [_row("a", "x86_64", MARCH + HOUR, 600_000, 300_000),
        _row("b", "arm64", MARCH + 5 * HOUR, 600_000, 200_000)]


def test_month_to_date_grows_with_the_month_and_splits_the_free_tier() -> None:
    slots = [MARCH, MARCH + 4 * HOUR, MARCH + 8 * HOUR]
    now = MARCH + 10 * HOUR
    account = month_to_date(ROWS, PRICES, slots, 4 * HOUR, now, None)
    # by 04:00 only a: 600,000 requests and 300,000 GB-s, all free
    assert account == {MARCH: D(0), MARCH + 4 * HOUR: D("1.37334"),
                       MARCH + 8 * HOUR: D("1.37334")}
    a = month_to_date(ROWS, PRICES, slots, 4 * HOUR, now, "a")
    b = month_to_date(ROWS, PRICES, slots, 4 * HOUR, now, "b")
    assert a[MARCH + 4 * HOUR] == D("0.02")
    assert b[MARCH + 4 * HOUR] == D("1.35334")
    assert MARCH not in b  # no usage of b yet in the month: no datapoint
    assert a[MARCH + 4 * HOUR] + b[MARCH + 4 * HOUR] == account[MARCH + 4 * HOUR]


def test_a_new_month_starts_from_zero() -> None:
    rows = [*ROWS, _row("a", "x86_64", APRIL + HOUR, 1_100_000, 0)]
    slots = [APRIL - 24 * HOUR, APRIL, APRIL + 24 * HOUR]
    values = month_to_date(rows, PRICES, slots, 24 * HOUR, APRIL + 30 * HOUR, None)
    # April: 1.1M requests, 100,000 beyond the free tier: $0.02
    assert values == {APRIL - 24 * HOUR: D("1.37334"), APRIL: D("0.02"),
                      APRIL + 24 * HOUR: D("0.02")}
    assert month_start(APRIL + 5) == APRIL and month_start(APRIL - 5) == MARCH


def test_the_last_period_is_as_of_now() -> None:
    values = month_to_date(ROWS, PRICES, [MARCH], 24 * HOUR, MARCH + 3 * HOUR, None)
    assert values == {MARCH: D(0)}  # b's usage (05:00) is still to come


def test_provisioned_concurrency_is_billed_at_its_own_prices() -> None:
    # 1,000 GB-s configured and 100 GB-s of duration on it; 50 GB-s on demand; no free tier.
    # x86_64: 1,000 × 0.0000041667 + 100 × 0.0000097222 = 0.00513892;
    #         on demand 50 × 0.0000166667 = 0.000833335.
    # arm64:  1,000 × 0.0000033334 + 100 × 0.0000077778 = 0.00411118.
    x86 = Usage("pc", "x86_64", "2024-03", 10, D(150), D(0), D(1000), D(100))
    arm = Usage("pc-arm", "arm64", "2024-03", 0, D(100), D(0), D(1000), D(100))
    cost_x86, cost_arm = estimate([x86, arm], PRICES, free_tier=False)
    assert cost_x86.provisioned_cost == D("0.00513892")
    assert cost_x86.duration_cost == D("0.000833335")
    assert cost_x86.total == D("0.00513892") + D("0.000833335") + D("0.000002")
    assert (cost_arm.provisioned_cost, cost_arm.duration_cost) == (D("0.00411118"), D(0))


def test_free_tier_never_covers_provisioned_concurrency() -> None:
    usage = Usage("pc", "x86_64", "2024-03", 0, D(100), D(0), D(1000), D(100))
    [cost] = estimate([usage], PRICES)
    assert (cost.duration_cost, cost.provisioned_cost) == (D(0), D("0.00513892"))


def test_estimated_charges_through_the_metric_source(tmp_path: Path) -> None:
    database = open_database("sqlite", tmp_path)
    try:
        clock = FakeClock(MARCH + 10 * HOUR)
        usage = UsageRecorder(database, clock)
        with database.transaction() as tx:
            tx.executemany(
                "INSERT INTO billing_usage (function_name, architecture, hour, requests, "
                "billed_mb_ms, ephemeral_mb_ms) VALUES (?, ?, ?, ?, ?, ?)",
                [(r.function, r.architecture, r.hour, r.requests, r.billed_mb_ms, 0)
                 for r in ROWS])
        metrics = BillingMetrics(usage, PRICES)
        start, end = MARCH + 6 * HOUR, MARCH + 10 * HOUR
        usd = (("Currency", "USD"),)
        [(slot, agg)] = run(metrics.periods("EstimatedCharges", usd, start, end, 4 * HOUR)
                            ).items()
        assert (slot, agg.high) == (start, pytest.approx(1.37334))
        by_b = run(metrics.periods("EstimatedCharges", (*usd, ("FunctionName", "b")),
                                   start, end, 4 * HOUR))
        assert by_b[start].high == pytest.approx(1.35334)
        assert run(metrics.periods("EstimatedCharges", (("Currency", "EUR"),), start, end,
                                   HOUR)) == {}
        assert ("EstimatedCharges", usd) in run(metrics.metrics())
    finally:
        database.close()


def test_provisioned_time_is_recorded_per_hour(tmp_path: Path) -> None:
    database = open_database("sqlite", tmp_path)
    try:
        clock = FakeClock(MARCH)
        usage = UsageRecorder(database, clock)
        usage.record_provisioned("pc", "arm64", 1024, 2, 10.0)  # 20 GB-s
        usage.record("pc", "arm64", 1024, 512, 100, provisioned=True)  # 0.1 GB-s on PC
        usage.record("pc", "arm64", 1024, 512, 200)  # 0.2 GB-s on demand
        run(usage.flush())
        [row] = usage.rows(MARCH, MARCH + HOUR)
        assert row.requests == 2
        assert row.provisioned_gb_seconds == D(20)
        assert row.provisioned_duration_gb_seconds == D("0.1")
        assert row.gb_seconds == D("0.3")
        dims = (("Architecture", "arm64"), ("FunctionName", "pc"))
        hourly = run(BillingMetrics(usage).periods("ProvisionedGBSeconds", dims, MARCH,
                                                   MARCH + HOUR, HOUR))
        assert hourly[MARCH].total == 20.0
    finally:
        database.close()


def test_an_old_usage_table_gains_the_provisioned_columns(tmp_path: Path) -> None:
    database = open_database("sqlite", tmp_path)
    database.execute("CREATE TABLE billing_usage (function_name TEXT NOT NULL, "
                     "architecture TEXT NOT NULL, hour BIGINT NOT NULL, requests BIGINT NOT "
                     "NULL, billed_mb_ms BIGINT NOT NULL, ephemeral_mb_ms BIGINT NOT NULL, "
                     "PRIMARY KEY (function_name, architecture, hour))")
    database.execute("INSERT INTO billing_usage VALUES ('f', 'x86_64', 0, 3, 1024000, 0)")
    try:
        usage = UsageRecorder(database, FakeClock(10.0))
        [row] = usage.rows(0, HOUR)
        assert (row.requests, row.provisioned_mb_ms) == (3, 0)
    finally:
        database.close()
