"""The transactional outbox: every delivery to a target is a row in
``events_outbox`` before anything is sent.

``PutEvents`` and the scheduler insert rows in the same transaction that
accepts the event or advances a rule's schedule, so an accepted event or a
due run survives a crash. ``Outbox.dispatch_due`` leases due rows, hands each
to the node's ``deliver`` and deletes it only once ``deliver`` returned:
delivery is at least once. A failed delivery is retried with backoff (1 s
doubling to 5 min) within the target's ``RetryPolicy`` (AWS's defaults: 185
retries, 24 hours), then dropped, to the target's ``DeadLetterConfig`` queue
when it has one. A lease (60 s) keeps two dispatchers (nodes sharing
PostgreSQL) off the same row; a restarted SQLite node releases its leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from loam.clock import Clock
from loam.services.events.models import Delivery
from loam.store.sql import Database, Transaction

__all__ = ["Deliver", "Outbox", "insert_deliveries", "new_delivery"]

log = logging.getLogger("loam.events")

# (target ARN, the input document the target receives, the stored target).
# (target ARN, the input it receives, the stored target, the delivery id: unique per
# event and target, the same on every retry; a FIFO queue target's deduplication id).
Deliver = Callable[[str, bytes, Mapping[str, Any], str], Awaitable[None]]

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 300.0
LEASE_S = 60.0
BATCH = 64
IDLE_WAIT_S = 30.0
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_AGE_S = 86_400
_SUPPORTED = re.compile(
    r"arn:aws[\w-]*:(?:lambda:[a-z0-9-]+:[0-9]{12}:function:[^:]+(?::[^:]+)?"
    r"|sqs:[a-z0-9-]+:[0-9]{12}:[^:]+)")


_SEQUENCE = itertools.count()


def new_delivery(target: Mapping[str, Any], payload: bytes, now: float,
                 rule_arn: str | None = None) -> Delivery:
    """A delivery whose id orders after every earlier one from this process. The rule
    that sent it rides along in the target as ``RuleArn`` (the invoked function's
    resource policy is checked against it)."""
    delivery_id = f"{now:017.6f}-{next(_SEQUENCE):010d}-{uuid.uuid4().hex[:12]}"
    if rule_arn is not None:
        target = {**target, "RuleArn": rule_arn}
    return Delivery(delivery_id, str(target["Arn"]), payload, target, now, 0)


def insert_deliveries(tx: Transaction, rows: Sequence[Delivery]) -> None:
    """Add deliveries inside the caller's transaction; due at once."""
    tx.executemany(
        "INSERT INTO events_outbox (id, target_arn, payload, target, created, not_before,"
        " leased_until, attempts) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
        [(d.id, d.target_arn, d.payload, json.dumps(d.target), d.created, d.created, d.attempts)
         for d in rows])


def _backoff(attempts: int) -> float:
    return float(min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** (attempts - 1)))


class Outbox:
    def __init__(self, database: Database, clock: Clock, deliver: Deliver) -> None:
        self.database = database
        self.clock = clock
        self.deliver = deliver
        self.delivered = 0
        self.failures = 0  # failed attempts (each retried or dropped)
        self.dropped = 0
        self._wake = asyncio.Event()

    def notify(self) -> None:
        """New rows are due: wake the dispatcher."""
        self._wake.set()

    # --- rows ------------------------------------------------------------------

    def release_leases(self) -> None:
        """A node that owns its database alone takes back what it held when it stopped."""
        self.database.execute("UPDATE events_outbox SET leased_until = 0")

    def claim(self, now: float, limit: int = BATCH) -> list[Delivery]:
        lock = " FOR UPDATE SKIP LOCKED" if self.database.dialect == "postgres" else ""
        with self.database.transaction() as tx:
            rows = tx.execute(
                "SELECT id, target_arn, payload, target, created, attempts FROM events_outbox"
                " WHERE not_before <= ? AND leased_until <= ? ORDER BY not_before, id LIMIT ?"
                + lock, (now, now, limit))
            for row in rows:
                tx.execute("UPDATE events_outbox SET leased_until = ? WHERE id = ?",
                           (now + LEASE_S, row[0]))
        return [Delivery(r[0], r[1], bytes(r[2]), json.loads(r[3]), float(r[4]), int(r[5]))
                for r in rows]

    def pending(self) -> int:
        return int(self.database.execute("SELECT COUNT(*) FROM events_outbox")[0][0])

    def next_due(self) -> float | None:
        rows = self.database.execute(
            "SELECT MIN(CASE WHEN leased_until > not_before THEN leased_until ELSE not_before END)"
            " FROM events_outbox")
        return None if rows[0][0] is None else float(rows[0][0])

    def _complete(self, delivery_id: str) -> None:
        self.database.execute("DELETE FROM events_outbox WHERE id = ?", (delivery_id,))

    def _retry(self, delivery: Delivery, attempts: int, not_before: float) -> None:
        self.database.execute(
            "UPDATE events_outbox SET attempts = ?, not_before = ?, leased_until = 0"
            " WHERE id = ?", (attempts, not_before, delivery.id))

    def _drop(self, delivery: Delivery, dead_letter: Delivery | None) -> None:
        with self.database.transaction() as tx:
            tx.execute("DELETE FROM events_outbox WHERE id = ?", (delivery.id,))
            if dead_letter is not None:
                insert_deliveries(tx, [dead_letter])

    # --- dispatch --------------------------------------------------------------

    async def dispatch_due(self) -> int:
        """Attempt every delivery due now; how many were attempted."""
        batch = await asyncio.to_thread(self.claim, self.clock.time())
        await asyncio.gather(*(self._attempt(d) for d in batch))
        return len(batch)

    async def _attempt(self, delivery: Delivery) -> None:
        if _SUPPORTED.fullmatch(delivery.target_arn) is None:
            log.warning("event target %s: this kind of target is not supported; delivery %s"
                        " dropped", delivery.target_arn, delivery.id)
            self.dropped += 1
            await asyncio.to_thread(self._complete, delivery.id)
            return
        try:
            await self.deliver(delivery.target_arn, delivery.payload, delivery.target,
                               delivery.id)
        except Exception as exc:  # a target's failure is recorded and retried, never fatal
            self.failures += 1
            await asyncio.to_thread(self._failed, delivery, exc)
            return
        self.delivered += 1
        await asyncio.to_thread(self._complete, delivery.id)

    def _failed(self, delivery: Delivery, exc: Exception) -> None:
        now = self.clock.time()
        attempts = delivery.attempts + 1
        policy = delivery.target.get("RetryPolicy") or {}
        max_retries = policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)
        max_age = policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S)
        retry_at = now + _backoff(attempts)
        if attempts <= max_retries and retry_at - delivery.created <= max_age:
            log.warning("event target %s: delivery %s failed (attempt %d), retrying in %.0f s:"
                        " %s", delivery.target_arn, delivery.id, attempts, retry_at - now, exc)
            self._retry(delivery, attempts, retry_at)
            return
        dead_letter = _dead_letter(delivery, now)
        log.error("event target %s: delivery %s given up after %d attempts (%s)%s",
                  delivery.target_arn, delivery.id, attempts, exc,
                  f"; sent to {dead_letter.target_arn}" if dead_letter else "")
        self.dropped += 1
        self._drop(delivery, dead_letter)

    async def run(self) -> None:
        """Dispatch until cancelled: at once when notified, else when the next row is due."""
        while True:
            self._wake.clear()
            try:
                if await self.dispatch_due():
                    continue
                due = await asyncio.to_thread(self.next_due)
            except Exception:  # supervisor loop: record and keep dispatching
                log.exception("event outbox dispatch failed")
                due = self.clock.time() + BACKOFF_FIRST_S
            wait = IDLE_WAIT_S
            if due is not None:
                wait = min(IDLE_WAIT_S, max(0.05, due - self.clock.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)


def _dead_letter(delivery: Delivery, now: float) -> Delivery | None:
    config = delivery.target.get("DeadLetterConfig") or {}
    arn = config.get("Arn")
    if not arn or delivery.target.get("DeadLetterFor"):
        return None
    target = {"Id": delivery.target.get("Id"), "Arn": arn, "DeadLetterFor": delivery.target_arn}
    return new_delivery(target, delivery.payload, now)
