"""What the node's invocations would be billed for, per function, architecture and hour.

``UsageRecorder.record`` runs on the invoke path (a few dictionary updates,
no I/O): it adds one request, its billed MB-milliseconds and its ephemeral
storage MB-milliseconds above the free 512 MB to the current hour's pending
totals; an invocation served by provisioned concurrency also adds its billed
MB-milliseconds to ``provisioned_duration``. ``record_provisioned`` (from the
metrics sampler, every few seconds) adds the configured environments'
MB-milliseconds to ``provisioned``. ``flush`` (every ``FLUSH_INTERVAL_S`` by
``run``, and at stop) adds the pending totals to the ``billing_usage`` table, one upsert per
(function, architecture, hour), in one transaction. A failed flush keeps its
totals pending for the next one: nothing is counted twice or lost while the
node runs; a crash loses at most the last interval.

Amounts are kept as integers (MB × ms), so sums are exact;
``UsageRow.gb_seconds`` converts: MB × ms / 1024 / 1000.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from decimal import Decimal

from loam.clock import Clock
from loam.store.sql import Database
from loam.telemetry.report import billed_ms

__all__ = ["FLUSH_INTERVAL_S", "FREE_EPHEMERAL_MB", "UsageRecorder", "UsageRow", "hour_of"]

log = logging.getLogger("loam.billing")

FLUSH_INTERVAL_S = 5.0
FREE_EPHEMERAL_MB = 512
_MB_MS_PER_GB_S = Decimal(1024 * 1000)

SCHEMA = """
CREATE TABLE IF NOT EXISTS billing_usage (
    function_name {text_key} NOT NULL,
    architecture {text_key} NOT NULL,
    hour BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    billed_mb_ms BIGINT NOT NULL,
    ephemeral_mb_ms BIGINT NOT NULL,
    PRIMARY KEY (function_name, architecture, hour)
);
CREATE INDEX IF NOT EXISTS billing_usage_hour ON billing_usage (hour)
"""
# Columns added after the table first shipped (ALTER TABLE on a database that lacks them).
_ADDED_COLUMNS = ("provisioned_mb_ms", "provisioned_duration_mb_ms")

_UPSERT = """
INSERT INTO billing_usage
    (function_name, architecture, hour, requests, billed_mb_ms, ephemeral_mb_ms,
     provisioned_mb_ms, provisioned_duration_mb_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (function_name, architecture, hour) DO UPDATE SET
    requests = billing_usage.requests + excluded.requests,
    billed_mb_ms = billing_usage.billed_mb_ms + excluded.billed_mb_ms,
    ephemeral_mb_ms = billing_usage.ephemeral_mb_ms + excluded.ephemeral_mb_ms,
    provisioned_mb_ms = billing_usage.provisioned_mb_ms + excluded.provisioned_mb_ms,
    provisioned_duration_mb_ms = billing_usage.provisioned_duration_mb_ms
        + excluded.provisioned_duration_mb_ms
"""

# (function, architecture, hour start in epoch seconds)
UsageKey = tuple[str, str, int]


def hour_of(epoch: float) -> int:
    """The start of the UTC hour ``epoch`` falls in."""
    return int(epoch // 3600 * 3600)


@dataclass(frozen=True)
class UsageRow:
    """One function's usage on one architecture in one hour."""

    function: str
    architecture: str
    hour: int
    requests: int
    billed_mb_ms: int
    ephemeral_mb_ms: int
    provisioned_mb_ms: int = 0
    provisioned_duration_mb_ms: int = 0

    @property
    def gb_seconds(self) -> Decimal:
        return Decimal(self.billed_mb_ms) / _MB_MS_PER_GB_S

    @property
    def ephemeral_gb_seconds(self) -> Decimal:
        return Decimal(self.ephemeral_mb_ms) / _MB_MS_PER_GB_S

    @property
    def provisioned_gb_seconds(self) -> Decimal:
        return Decimal(self.provisioned_mb_ms) / _MB_MS_PER_GB_S

    @property
    def provisioned_duration_gb_seconds(self) -> Decimal:
        return Decimal(self.provisioned_duration_mb_ms) / _MB_MS_PER_GB_S


class _Pending:
    __slots__ = ("billed", "ephemeral", "provisioned", "provisioned_duration", "requests")

    def __init__(self) -> None:
        self.requests = 0
        self.billed = 0
        self.ephemeral = 0
        self.provisioned = 0
        self.provisioned_duration = 0

    def add(self, other: _Pending) -> None:
        self.requests += other.requests
        self.billed += other.billed
        self.ephemeral += other.ephemeral
        self.provisioned += other.provisioned
        self.provisioned_duration += other.provisioned_duration


class UsageRecorder:
    """Accumulates on the event loop; flushes to ``database`` from a worker thread."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._pending: dict[UsageKey, _Pending] = {}
        self._flushing = asyncio.Lock()
        database.schema(SCHEMA)
        _add_columns(database)

    def _slot(self, function: str, architecture: str) -> _Pending:
        key = (function, architecture, hour_of(self.clock.time()))
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending()
        return pending

    def record(self, function: str, architecture: str, memory_mb: int, ephemeral_mb: int,
               billed: int, provisioned: bool = False) -> None:
        """One invocation that billed ``billed`` ms (``billed_ms`` of its duration,
        capped at the timeout); ``provisioned``: provisioned concurrency served it."""
        pending = self._slot(function, architecture)
        pending.requests += 1
        pending.billed += billed * memory_mb
        pending.ephemeral += billed * max(0, ephemeral_mb - FREE_EPHEMERAL_MB)
        if provisioned:
            pending.provisioned_duration += billed * memory_mb

    def record_duration(self, function: str, architecture: str, memory_mb: int,
                        ephemeral_mb: int, duration_ms: float,
                        timeout_s: int | None = None, provisioned: bool = False) -> None:
        """``record`` with the billed duration of a measured one, as REPORT bills it."""
        billed = billed_ms(duration_ms)
        if timeout_s is not None:
            billed = min(billed, timeout_s * 1000)
        self.record(function, architecture, memory_mb, ephemeral_mb, billed, provisioned)

    def record_provisioned(self, function: str, architecture: str, memory_mb: int,
                           environments: int, seconds: float) -> None:
        """``environments`` of ``memory_mb`` held provisioned for ``seconds``."""
        if environments > 0 and seconds > 0:
            amount = round(environments * memory_mb * seconds * 1000)
            self._slot(function, architecture).provisioned += amount

    @property
    def pending_requests(self) -> int:
        return sum(p.requests for p in self._pending.values())

    async def flush(self) -> None:
        """Write every pending total; on failure they stay pending (and it raises)."""
        async with self._flushing:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            write = asyncio.ensure_future(asyncio.to_thread(self._write, batch))
            try:
                await asyncio.shield(write)
            except asyncio.CancelledError:
                await asyncio.wait([write])  # its thread commits anyway: learn whether
                if write.exception() is not None:
                    self._restore(batch)
                raise
            except Exception:
                self._restore(batch)
                raise

    def _restore(self, batch: dict[UsageKey, _Pending]) -> None:
        for key, amounts in batch.items():  # merged with what arrived meanwhile
            self._pending.setdefault(key, _Pending()).add(amounts)

    def _write(self, batch: dict[UsageKey, _Pending]) -> None:
        rows = [(fn, arch, hour, p.requests, p.billed, p.ephemeral, p.provisioned,
                 p.provisioned_duration)
                for (fn, arch, hour), p in sorted(batch.items())]
        with self.database.transaction() as tx:
            tx.executemany(_UPSERT, rows)

    async def run(self, interval: float = FLUSH_INTERVAL_S) -> None:
        """Flush every ``interval`` seconds until cancelled (a node task)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
            except Exception:  # supervisor loop: the totals stay pending; retry next time
                log.exception("writing billing usage failed")

    def rows(self, start: float, end: float, function: str | None = None) -> list[UsageRow]:
        """Stored usage of the hours starting in [start, end) (flushed totals only)."""
        sql = ("SELECT function_name, architecture, hour, requests, billed_mb_ms, "
               "ephemeral_mb_ms, provisioned_mb_ms, provisioned_duration_mb_ms "
               "FROM billing_usage WHERE hour >= ? AND hour < ?")
        params: list[object] = [int(start), int(end)]
        if function is not None:
            sql += " AND function_name = ?"
            params.append(function)
        sql += " ORDER BY function_name, architecture, hour"
        return [UsageRow(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]),
                         int(r[6]), int(r[7]))
                for r in self.database.execute(sql, params)]

    def series(self) -> list[tuple[str, str]]:
        """Every stored (function, architecture)."""
        return [(str(r[0]), str(r[1])) for r in self.database.execute(
            "SELECT DISTINCT function_name, architecture FROM billing_usage "
            "ORDER BY function_name, architecture")]


def _add_columns(database: Database) -> None:
    """Bring a ``billing_usage`` made before a column existed up to date."""
    if database.dialect == "postgres":
        for column in _ADDED_COLUMNS:
            database.execute(f"ALTER TABLE billing_usage ADD COLUMN IF NOT EXISTS {column} "
                             "BIGINT NOT NULL DEFAULT 0")
        return
    present = {str(r[1]) for r in database.execute("PRAGMA table_info(billing_usage)")}
    for column in _ADDED_COLUMNS:
        if column not in present:
            database.execute(f"ALTER TABLE billing_usage ADD COLUMN {column} "
                             "BIGINT NOT NULL DEFAULT 0")
