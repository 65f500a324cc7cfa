"""Metrics that survive a restart: per-minute rollups in the store.

The recorder and the sampled metrics keep their minutes in memory (24 h).
``MetricsArchive`` writes them to ``metrics_minutes`` in batches, off the
invoke path: every ``FLUSH_INTERVAL_S`` (a node task) and at stop, each
series' minutes that may have changed since the previous flush (the minute
it ran in, and later ones) are written whole — counts, sums, minimum,
maximum and the log-scale histogram the percentiles come from — replacing
what was stored for that minute, in one transaction. A failed flush is
retried whole by the next one. At start the node loads the minutes still
within memory's retention back into the recorder, so a restart keeps them;
a read of older minutes (GetMetricStatistics, GetMetricData) comes from the
table (``view``).

Retention follows CloudWatch's: one-minute rows for 15 days; then (an hourly
pass) they are merged into five-minute rows, kept for 63 days, then deleted.
The table is bounded by the recorder's series limit times that.

A row is one series' minute: ``series`` is a JSON key (``["lambda",
function, resource, executed version]``, ``["account"]`` for the account's
ConcurrentExecutions, ``["sampled", namespace, metric, dimensions]``). Rows
are per series, not per node: nodes sharing a PostgreSQL database would
overwrite each other's minutes (one node per database for now).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

from loam.clock import Clock
from loam.metrics.aggregate import Aggregate
from loam.metrics.recorder import (
    MINUTE_AGGREGATES,
    MINUTE_COUNTS,
    MetricsRecorder,
    Minute,
    SeriesKey,
)
from loam.metrics.sampled import SampledKey, SampledMetrics
from loam.store.sql import Database

__all__ = ["FLUSH_INTERVAL_S", "MetricsArchive", "StoredMinutes"]

log = logging.getLogger("loam.metrics")

FLUSH_INTERVAL_S = 15.0
COMPACT_INTERVAL_S = 3600.0
FINE_RETENTION_MINUTES = 15 * 1440
COARSE_RETENTION_MINUTES = 63 * 1440
COARSE = 5  # minutes per row after FINE_RETENTION_MINUTES
COMPACT_BATCH = 20_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics_minutes (
    series {text_key} NOT NULL,
    minute BIGINT NOT NULL,
    resolution INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (series, minute, resolution)
);
CREATE INDEX IF NOT EXISTS metrics_minutes_minute ON metrics_minutes (minute)
"""

_UPSERT = """
INSERT INTO metrics_minutes (series, minute, resolution, data) VALUES (?, ?, ?, ?)
ON CONFLICT (series, minute, resolution) DO UPDATE SET data = excluded.data
"""

Row = tuple[str, int, int, str]  # series, minute, resolution, data


class StoredMinutes:
    """Minutes read back from the table, in the shapes the readers take: the
    recorder's series (``series`` / ``account_concurrency``, as ``MetricsRecorder``
    gives them) and the sampled metrics' series."""

    def __init__(self) -> None:
        self.lambda_minutes: dict[SeriesKey, dict[int, Minute]] = {}
        self.account: dict[int, Aggregate] = {}
        self.sampled: dict[SampledKey, dict[int, Aggregate]] = {}

    def series(self) -> Iterator[tuple[SeriesKey, dict[int, Minute]]]:
        yield from self.lambda_minutes.items()

    def account_concurrency(self) -> dict[int, Aggregate]:
        return self.account

    def add(self, series: str, minute_index: int, data: str) -> None:
        key = json.loads(series)
        if key[0] == "lambda":
            lambda_key: SeriesKey = (str(key[1]), key[2], key[3])
            minutes = self.lambda_minutes.setdefault(lambda_key, {})
            kept = minutes.get(minute_index)
            stored = decode_minute(data)
            if kept is None:
                minutes[minute_index] = stored
            else:
                kept.merge(stored)
        elif key[0] == "account":
            self.account.setdefault(minute_index, Aggregate()).merge(decode_aggregate(data))
        elif key[0] == "sampled":
            sampled_key = (str(key[1]), str(key[2]), tuple((str(k), str(v)) for k, v in key[3]))
            self.sampled.setdefault(sampled_key, {}).setdefault(
                minute_index, Aggregate()).merge(decode_aggregate(data))


class MetricsArchive:
    def __init__(self, database: Database, clock: Clock, recorder: MetricsRecorder,
                 sampled: SampledMetrics) -> None:
        self.database = database
        self.clock = clock
        self.recorder = recorder
        self.sampled = sampled
        self._since: int | None = None  # minutes from here on may have changed
        self._flushing = asyncio.Lock()
        self._compacted_at = 0.0
        database.schema(SCHEMA)

    @property
    def memory_start(self) -> int:
        """The first minute the recorder still keeps in memory."""
        return int(self.clock.time() // 60) - self.recorder.retention_minutes + 1

    # -- loading -----------------------------------------------------------------

    async def load(self) -> int:
        """Put the stored minutes within memory's retention back in memory; how many."""
        first = self.memory_start
        stored = await asyncio.to_thread(self.view, first * 60, float("inf"), True)
        count = 0
        for key, minutes in stored.series():
            for minute_index, minute in minutes.items():
                self.recorder.restore(key, minute_index, minute)
                count += 1
        for minute_index, samples in stored.account.items():
            self.recorder.restore_account(minute_index, samples)
        for sampled_key, aggregates in stored.sampled.items():
            for minute_index, samples in aggregates.items():
                self.sampled.restore(sampled_key, minute_index, samples)
                count += 1
        return count

    def view(self, start: float, end: float, recent: bool = False,
             series: list[Any] | None = None) -> StoredMinutes:
        """The stored minutes in [start, end) — only those memory no longer keeps,
        unless ``recent`` — of the series whose key starts with ``series`` (all without
        it). Blocking: run it in a thread."""
        first = int(start // 60)  # a five-minute row is read by the minute it starts
        last = int((end - 1) // 60) if end != float("inf") else 2**62
        if not recent:
            last = min(last, self.memory_start - 1)
        stored = StoredMinutes()
        if last < first:
            return stored
        sql = "SELECT series, minute, data FROM metrics_minutes WHERE minute >= ? AND minute <= ?"
        params: list[object] = [first, last]
        if series:
            # A key prefix as a range (keys are JSON arrays; text orders by code point).
            prefix = json.dumps(series)[:-1] + ", "
            sql += " AND series >= ? AND series < ?"
            params += [prefix, prefix + "\U0010ffff"]
        for key, minute_index, data in self.database.execute(sql + " ORDER BY minute",
                                                             params):
            stored.add(str(key), int(minute_index), str(data))
        return stored

    # -- flushing ----------------------------------------------------------------

    def _snapshot(self, since: int | None) -> list[Row]:
        rows: list[Row] = []
        for key, minutes in self.recorder.series():
            series = json.dumps(["lambda", *key])
            rows.extend((series, m, 1, encode_minute(minute))
                        for m, minute in list(minutes.items()) if since is None or m >= since)
        account = json.dumps(["account"])
        rows.extend((account, m, 1, encode_aggregate(samples))
                    for m, samples in self.recorder.account_concurrency().items()
                    if since is None or m >= since)
        for (namespace, metric, dims), aggregates in self.sampled.series():
            series = json.dumps(["sampled", namespace, metric, [list(d) for d in dims]])
            rows.extend((series, m, 1, encode_aggregate(samples))
                        for m, samples in list(aggregates.items())
                        if since is None or m >= since)
        return rows

    async def flush(self) -> None:
        """Write every minute changed since the last flush (on failure, it raises and
        the next flush writes them again)."""
        async with self._flushing:
            since = self._since
            self._since = int(self.clock.time() // 60)
            rows = self._snapshot(since)
            if not rows:
                return
            try:
                await asyncio.to_thread(self._write, rows)
            except BaseException:
                self._since = since
                raise

    def _write(self, rows: list[Row]) -> None:
        with self.database.transaction() as tx:
            tx.executemany(_UPSERT, rows)

    # -- retention ---------------------------------------------------------------

    def compact(self) -> int:
        """One-minute rows past 15 days into five-minute rows; five-minute rows past 63
        days deleted. Returns the one-minute rows merged (blocking)."""
        now = int(self.clock.time() // 60)
        merged = 0
        with self.database.transaction() as tx:
            fine = tx.execute(
                "SELECT series, minute, data FROM metrics_minutes WHERE resolution = 1 "
                "AND minute < ? ORDER BY series, minute LIMIT ?",
                (now - FINE_RETENTION_MINUTES, COMPACT_BATCH))
            buckets: dict[tuple[str, int], StoredMinutes] = {}
            for series, minute_index, data in fine:
                bucket = int(minute_index) // COARSE * COARSE
                buckets.setdefault((str(series), bucket), StoredMinutes()).add(
                    str(series), bucket, str(data))
            for (series, bucket), stored in buckets.items():
                for (data,) in tx.execute(
                        "SELECT data FROM metrics_minutes WHERE series = ? AND minute = ? "
                        "AND resolution = ?", (series, bucket, COARSE)):
                    stored.add(series, bucket, str(data))
                tx.execute(_UPSERT, (series, bucket, COARSE, _encode_stored(stored, bucket)))
            tx.executemany("DELETE FROM metrics_minutes WHERE series = ? AND minute = ? "
                           "AND resolution = 1", [(str(s), int(m)) for s, m, _ in fine])
            merged = len(fine)
            tx.execute("DELETE FROM metrics_minutes WHERE resolution = ? AND minute < ?",
                       (COARSE, now - COARSE_RETENTION_MINUTES))
        return merged

    async def run(self, interval: float = FLUSH_INTERVAL_S) -> None:
        """Flush every ``interval`` seconds, compact every hour, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.flush()
                if self.clock.time() - self._compacted_at >= COMPACT_INTERVAL_S:
                    self._compacted_at = self.clock.time()
                    while await asyncio.to_thread(self.compact) >= COMPACT_BATCH:
                        pass
            except Exception:  # supervisor loop: the minutes are written next time
                log.exception("writing metrics to the store failed")


def _encode_stored(stored: StoredMinutes, bucket: int) -> str:
    for minutes in stored.lambda_minutes.values():
        return encode_minute(minutes[bucket])
    if stored.account:
        return encode_aggregate(stored.account[bucket])
    for aggregates in stored.sampled.values():
        return encode_aggregate(aggregates[bucket])
    raise ValueError("nothing to encode")


def encode_aggregate(agg: Aggregate) -> str:
    return json.dumps(_aggregate_document(agg))


def _aggregate_document(agg: Aggregate) -> list[Any]:
    return [agg.count, agg.total, agg.low, agg.high, sorted(agg.bins.items())]


def decode_aggregate(data: str) -> Aggregate:
    return _aggregate_of(json.loads(data))


def _aggregate_of(doc: list[Any]) -> Aggregate:
    agg = Aggregate()
    agg.count, agg.total, agg.low, agg.high = int(doc[0]), float(doc[1]), float(doc[2]), \
        float(doc[3])
    agg.bins = {int(index): int(n) for index, n in doc[4]}
    return agg


def encode_minute(minute: Minute) -> str:
    counts = {name: getattr(minute, name) for name in MINUTE_COUNTS if getattr(minute, name)}
    aggregates = {name: _aggregate_document(getattr(minute, name))
                  for name in MINUTE_AGGREGATES if getattr(minute, name) is not None}
    return json.dumps({"counts": counts, "aggregates": aggregates})


def decode_minute(data: str) -> Minute:
    doc = json.loads(data)
    minute = Minute()
    for name, value in doc.get("counts", {}).items():
        if name in MINUTE_COUNTS:
            setattr(minute, name, int(value))
    for name, value in doc.get("aggregates", {}).items():
        if name in MINUTE_AGGREGATES:
            setattr(minute, name, _aggregate_of(value))
    return minute
