"""Billing usage: accumulation on the invoke path, flushes to the database (SQLite and
PostgreSQL), durability across a restart, and the Loam/Billing metrics read from it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from loam.billing import BillingMetrics, UsageRecorder
from loam.billing.usage import hour_of
from loam.clock import FakeClock
from loam.store.sql import Database, open_database
from tests.unit.test_sqs_support import _pg_url, run

HOUR = 3600
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
Reopen = Callable[[], Database]


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Reopen]:
    """Opens a new connection to the same database each call (a node restarting)."""
    url, base, schema = "sqlite", "", f"loam_billing_{uuid.uuid4().hex}"
    if request.param == "postgres":
        base = _pg_url()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options={quote(f'-csearch_path={schema}', safe='')}"
    opened: list[Database] = []

    def open_one() -> Database:
        opened.append(open_database(url, tmp_path))
        return opened[-1]

    try:
        yield open_one
    finally:
        for database in opened:
            database.close()
        if request.param == "postgres":
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_recording_is_in_memory_until_a_flush(reopen: Reopen) -> None:
    clock = FakeClock(START)
    usage = UsageRecorder(reopen(), clock)
    usage.record_duration("f", "x86_64", 512, 512, 119.2)  # billed 120 ms
    assert usage.pending_requests == 1
    assert usage.rows(0, START + HOUR) == []
    run(usage.flush())
    assert usage.pending_requests == 0
    [row] = usage.rows(0, START + HOUR)
    assert (row.function, row.architecture, row.hour, row.requests) == (
        "f", "x86_64", hour_of(START), 1)
    # 120 ms × 512 MB = 61,440 MB-ms = 0.06 GB-s; no storage above 512 MB
    assert (row.billed_mb_ms, row.gb_seconds, row.ephemeral_mb_ms) == (
        61_440, Decimal("0.06"), 0)


def test_flushes_add_per_function_architecture_and_hour(reopen: Reopen) -> None:
    clock = FakeClock(START)
    usage = UsageRecorder(reopen(), clock)
    for _ in range(3):
        usage.record("f", "x86_64", 1024, 512, 100)
    run(usage.flush())
    usage.record("f", "x86_64", 1024, 512, 100)  # same hour: added to the stored row
    usage.record("f", "arm64", 128, 1536, 10)  # another architecture: a row of its own
    clock.advance(HOUR)
    usage.record("g", "x86_64", 256, 512, 1)  # the next hour
    run(usage.flush())
    rows = {(r.function, r.architecture, r.hour): r for r in usage.rows(0, START + 2 * HOUR)}
    first, second = hour_of(START), hour_of(START) + HOUR
    assert rows[("f", "x86_64", first)].requests == 4
    assert rows[("f", "x86_64", first)].billed_mb_ms == 4 * 100 * 1024
    arm = rows[("f", "arm64", first)]
    # ephemeral: (1,536 − 512) MB × 10 ms = 10,240 MB-ms = 0.01 GB-s
    assert (arm.requests, arm.billed_mb_ms, arm.ephemeral_gb_seconds) == (
        1, 1280, Decimal("0.01"))
    assert rows[("g", "x86_64", second)].requests == 1
    assert usage.rows(second, second + HOUR) == [rows[("g", "x86_64", second)]]
    assert usage.rows(0, START + 2 * HOUR, "g") == [rows[("g", "x86_64", second)]]


def test_billed_duration_is_capped_at_the_timeout(reopen: Reopen) -> None:
    usage = UsageRecorder(reopen(), FakeClock(START))
    usage.record_duration("f", "x86_64", 1024, 512, 3000.7, timeout_s=3)
    usage.record_duration("f", "x86_64", 1024, 512, 0.2, timeout_s=3)  # at least 1 ms
    run(usage.flush())
    [row] = usage.rows(0, START + HOUR)
    assert row.billed_mb_ms == (3000 + 1) * 1024


def test_usage_survives_a_restart(reopen: Reopen) -> None:
    clock = FakeClock(START)
    before = UsageRecorder(reopen(), clock)
    before.record("f", "x86_64", 128, 512, 5)
    run(before.flush())  # what the node does at stop
    before.database.close()
    after = UsageRecorder(reopen(), clock)  # the schema is created again, idempotently
    after.record("f", "x86_64", 128, 512, 5)
    run(after.flush())
    [row] = after.rows(0, START + HOUR)
    assert (row.requests, row.billed_mb_ms) == (2, 2 * 5 * 128)


def test_a_failed_flush_keeps_the_totals_pending(reopen: Reopen) -> None:
    database = reopen()
    usage = UsageRecorder(database, FakeClock(START))
    usage.record("f", "x86_64", 128, 512, 5)

    def broken(batch: object) -> None:
        raise OSError("disk gone")

    usage._write = broken  # type: ignore[method-assign]
    with pytest.raises(OSError):
        run(usage.flush())
    usage.record("f", "x86_64", 128, 512, 5)
    assert usage.pending_requests == 2
    del usage._write
    run(usage.flush())
    [row] = usage.rows(0, START + HOUR)
    assert (row.requests, row.billed_mb_ms) == (2, 1280)


def test_billing_metrics_hourly_sums(reopen: Reopen) -> None:
    clock = FakeClock(hour_of(START))
    usage = UsageRecorder(reopen(), clock)
    metrics = BillingMetrics(usage)
    for _ in range(4):
        usage.record("f", "x86_64", 512, 1024, 250)  # 0.125 GB-s; 0.125 GB-s of storage
    clock.advance(HOUR)
    usage.record("f", "x86_64", 512, 512, 1000)  # 0.5 GB-s
    dims = (("Architecture", "x86_64"), ("FunctionName", "f"))
    start, end = hour_of(START), hour_of(START) + 2 * HOUR
    # unflushed usage is read too: a read flushes first
    hourly = run(metrics.periods("BilledGBSeconds", dims, start, end, HOUR))
    assert {slot: (agg.count, agg.total) for slot, agg in hourly.items()} == {
        start: (4, 0.5), start + HOUR: (1, 0.5)}
    requests = run(metrics.periods("Requests", dims, start, end, 2 * HOUR))
    assert {slot: agg.total for slot, agg in requests.items()} == {start: 5.0}
    storage = run(metrics.periods("EphemeralGBSeconds", dims, start, end, HOUR))
    assert storage[start].total == 0.5 and storage[start + HOUR].total == 0.0
    assert run(metrics.periods("BilledGBSeconds", dims[1:], start, end, HOUR)) == {}
    assert run(metrics.periods("Nope", dims, start, end, HOUR)) == {}
    assert sorted(run(metrics.metrics())) == sorted([
        (name, dims) for name in ("BilledGBSeconds", "EphemeralGBSeconds",
                                  "ProvisionedDurationGBSeconds", "ProvisionedGBSeconds",
                                  "Requests")] + [
        ("EstimatedCharges", (("Currency", "USD"),)),
        ("EstimatedCharges", (("Currency", "USD"), ("FunctionName", "f")))])
