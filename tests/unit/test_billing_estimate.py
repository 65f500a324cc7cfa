"""The bill against hand-computed AWS Lambda prices (us-east-1, the shipped table)."""

from __future__ import annotations

from decimal import Decimal as D

from loam.billing import Usage, estimate, load_prices
from loam.billing.estimate import month_of

PRICES = load_prices()


def test_free_tier_covers_duration_and_a_million_requests() -> None:
    # 3M requests of 120 ms at 512 MB on x86 in one month:
    # 3,000,000 × 0.12 s × 0.5 GB = 180,000 GB-s, within the 400,000 free → $0 duration;
    # requests (3M − 1M free) × $0.20 / 1M = $0.40.
    usage = Usage("f", "x86_64", "2024-03", 3_000_000, D(3_000_000) * D("0.12") * D("0.5"))
    [cost] = estimate([usage], PRICES)
    assert usage.gb_seconds == 180_000
    assert (cost.request_cost, cost.duration_cost, cost.total) == (D("0.40"), D(0), D("0.40"))


def test_without_the_free_tier() -> None:
    # Same usage, nothing free: 3 × $0.20 = $0.60; 180,000 × $0.0000166667 = $3.000006.
    usage = Usage("f", "x86_64", "2024-03", 3_000_000, D(180_000))
    [cost] = estimate([usage], PRICES, free_tier=False)
    assert (cost.request_cost, cost.duration_cost) == (D("0.60"), D("3.000006"))


def test_duration_tiers_cross_six_billion_gb_seconds() -> None:
    # 7,000,400,000 GB-s on x86 in one month, free tier on: the first 400,000 are free;
    # [400,000, 6e9): 5,999,600,000 × $0.0000166667 = $99,993.53332;
    # [6e9, 7,000,400,000): 1,000,400,000 × $0.0000150000 = $15,006.00.
    usage = Usage("big", "x86_64", "2024-03", 0, D(7_000_400_000))
    [cost] = estimate([usage], PRICES)
    assert cost.duration_cost == D("99993.53332") + D("15006")


def test_third_tier_on_arm64() -> None:
    # 16e9 GB-s on arm64, no free tier: 6e9 × 0.0000133334 = 80,000.4;
    # 9e9 × 0.0000120001 = 108,000.9; 1e9 × 0.0000106667 = 10,666.7 → 198,668.0.
    usage = Usage("big", "arm64", "2024-03", 0, D(16_000_000_000))
    [cost] = estimate([usage], PRICES, free_tier=False)
    assert cost.duration_cost == D("198668.0")


def test_arm64_is_cheaper_than_x86() -> None:
    # 1,000,000 GB-s each, no free tier: x86 $16.6667, arm64 $13.3334.
    costs = estimate([Usage("a", "arm64", "2024-03", 0, D(1_000_000)),
                      Usage("x", "x86_64", "2024-03", 0, D(1_000_000))], PRICES,
                     free_tier=False)
    assert [(c.usage.function, c.duration_cost) for c in costs] == [
        ("a", D("13.3334")), ("x", D("16.6667"))]


def test_free_gb_seconds_go_to_x86_first_then_arm64() -> None:
    # 300,000 GB-s on each: x86 takes 300,000 free, arm64 the other 100,000;
    # arm64 pays (300,000 − 100,000) × $0.0000133334 = $2.66668.
    costs = estimate([Usage("a", "arm64", "2024-03", 0, D(300_000)),
                      Usage("x", "x86_64", "2024-03", 0, D(300_000))], PRICES)
    assert [c.duration_cost for c in costs] == [D("2.66668"), D(0)]


def test_the_free_tier_is_per_calendar_month() -> None:
    # 800,000 requests and 300,000 GB-s in each of two months: each month's free tier
    # covers its own usage (together they would exceed it): $0.
    costs = estimate([Usage("f", "x86_64", "2024-01", 800_000, D(300_000)),
                      Usage("f", "x86_64", "2024-02", 800_000, D(300_000))], PRICES)
    assert [(c.usage.month, c.total) for c in costs] == [("2024-01", D(0)), ("2024-02", D(0))]


def test_account_wide_charges_are_shared_by_the_functions_causing_them() -> None:
    # 2M requests each: (4M − 1M) × $0.20 / 1M = $0.60, $0.30 each; 600,000 GB-s of x86
    # between them: (600,000 − 400,000) × $0.0000166667 = $3.33334, split 2:1 by GB-s.
    costs = estimate([Usage("a", "x86_64", "2024-03", 2_000_000, D(400_000)),
                      Usage("b", "x86_64", "2024-03", 2_000_000, D(200_000))], PRICES)
    assert [c.request_cost for c in costs] == [D("0.30"), D("0.30")]
    assert abs(sum(c.duration_cost for c in costs) - D("3.33334")) < D("1e-20")
    assert abs(costs[0].duration_cost - 2 * costs[1].duration_cost) < D("1e-20")


def test_ephemeral_storage_above_512_mb() -> None:
    # 10,240 MB of /tmp for 1,000 billed seconds: (10,240 − 512) / 1024 GB × 1,000 s
    # = 9,500 GB-s × $0.0000000309 = $0.00029355 (no free tier for storage).
    usage = Usage("f", "x86_64", "2024-03", 1, D(0), D(10_240 - 512) / 1024 * 1000)
    [cost] = estimate([usage], PRICES)
    assert usage.ephemeral_gb_seconds == 9_500
    assert cost.ephemeral_cost == D("0.00029355")


def test_lines_of_one_function_and_month_merge() -> None:
    costs = estimate([Usage("f", "x86_64", "2024-03", 1, D(1)),
                      Usage("f", "x86_64", "2024-03", 2, D(2))], PRICES, free_tier=False)
    assert [(c.usage.requests, c.usage.gb_seconds) for c in costs] == [(3, D(3))]


def test_month_is_utc() -> None:
    assert month_of(1_709_251_199) == "2024-02"  # 2024-02-29T23:59:59Z
    assert month_of(1_709_251_200) == "2024-03"
