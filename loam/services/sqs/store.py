"""SQS's tables in the node's database, and the statements over them.

Every method is one transaction and blocking; the service calls them through
``asyncio.to_thread``. Invariants the statements keep:

- a message is *visible* when ``visible_at <= now``; *in flight* when it has
  been received (``receive_count > 0``) and ``visible_at > now``; *delayed*
  when never received and ``visible_at > now``;
- ``seq`` grows per queue (``sqs_queues.next_seq``) in send order; FIFO
  queues deliver by it and report it as ``SequenceNumber``;
- ``receipt`` is the nonce of the latest receive: visibility changes need
  it, deletes only need the message id (a stale handle still deletes);
- claiming locks rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so nodes
  sharing the tables never hand out one message twice; a FIFO receive locks
  its queue's row first so groups stay in order across nodes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from loam.services.sqs.codec import decode_attributes, encode_attributes
from loam.services.sqs.errors import QueueDoesNotExist
from loam.services.sqs.models import Delivered, NewMessage, Queue
from loam.store.sql import Database, Transaction

__all__ = ["SCHEMA", "Claim", "QueueStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS sqs_queues (
    name {text_key} PRIMARY KEY,
    arn TEXT NOT NULL,
    url TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created {real} NOT NULL,
    modified {real} NOT NULL,
    purged_at {real},
    next_seq BIGINT NOT NULL DEFAULT 0,
    dead_letter_arn TEXT
);
CREATE TABLE IF NOT EXISTS sqs_deleted_queues (
    name {text_key} PRIMARY KEY,
    deleted_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS sqs_messages (
    id {text_key} PRIMARY KEY,
    queue {text_key} NOT NULL,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    system_attributes TEXT,
    sent_at {real} NOT NULL,
    visible_at {real} NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_at {real},
    received_at {real},
    receipt TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sender_id TEXT NOT NULL,
    source_arn TEXT
);
CREATE INDEX IF NOT EXISTS sqs_messages_visible ON sqs_messages (queue, visible_at);
CREATE INDEX IF NOT EXISTS sqs_messages_sent ON sqs_messages (queue, sent_at);
CREATE TABLE IF NOT EXISTS sqs_dedup (
    queue {text_key} NOT NULL,
    dedup_key {text_key} NOT NULL,
    message_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    expires_at {real} NOT NULL,
    PRIMARY KEY (queue, dedup_key)
)
"""

_QUEUE_COLUMNS = "name, arn, url, attributes, tags, created, modified"
_MESSAGE_COLUMNS = ("id, receipt, body, attributes, system_attributes, sent_at, receive_count, "
                    "first_receive_at, seq, group_id, dedup_id, sender_id, source_arn")
DEDUP_INTERVAL = 300.0


class Claim:
    """What one receive asks for."""

    def __init__(self, queue: Queue, limit: int, visibility: int, now: float,
                 dead_letter: Queue | None) -> None:
        self.queue = queue
        self.limit = limit
        self.visibility = visibility
        self.now = now
        self.dead_letter = dead_letter
        self.cutoff = now - queue.integer("MessageRetentionPeriod")


class QueueStore:
    def __init__(self, database: Database) -> None:
        self.db = database

    def create_schema(self) -> None:
        self.db.schema(SCHEMA)

    # -- queues ---------------------------------------------------------------

    def insert_queue(self, queue: Queue) -> None:
        """Raises ``RecordExists`` when the name is taken."""
        self.db.execute(
            f"INSERT INTO sqs_queues ({_QUEUE_COLUMNS}, dead_letter_arn) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*_queue_row(queue), _dead_letter_arn(queue)),
        )

    def queue(self, name: str) -> Queue | None:
        rows = self.db.execute(f"SELECT {_QUEUE_COLUMNS} FROM sqs_queues WHERE name = ?", (name,))
        return _queue(rows[0]) if rows else None

    def queue_by_arn(self, arn: str) -> Queue | None:
        rows = self.db.execute(f"SELECT {_QUEUE_COLUMNS} FROM sqs_queues WHERE arn = ?", (arn,))
        return _queue(rows[0]) if rows else None

    def queue_names(self, prefix: str = "") -> list[str]:
        rows = self.db.execute("SELECT name FROM sqs_queues ORDER BY name")
        return [str(r[0]) for r in rows if str(r[0]).startswith(prefix)]

    def dead_letter_sources(self, arn: str) -> list[str]:
        rows = self.db.execute("SELECT url FROM sqs_queues WHERE dead_letter_arn = ? "
                               "ORDER BY name", (arn,))
        return [str(r[0]) for r in rows]

    def update_queue(self, queue: Queue) -> None:
        changed = self.db.rowcount(
            "UPDATE sqs_queues SET attributes = ?, tags = ?, modified = ?, dead_letter_arn = ? "
            "WHERE name = ?",
            (json.dumps(dict(queue.attributes)), json.dumps(dict(queue.tags)), queue.modified,
             _dead_letter_arn(queue), queue.name),
        )
        if not changed:
            raise QueueDoesNotExist()

    def delete_queue(self, name: str, now: float) -> bool:
        with self.db.transaction() as tx:
            if not tx.rowcount("DELETE FROM sqs_queues WHERE name = ?", (name,)):
                return False
            tx.execute("DELETE FROM sqs_messages WHERE queue = ?", (name,))
            tx.execute("DELETE FROM sqs_dedup WHERE queue = ?", (name,))
            tx.execute("INSERT INTO sqs_deleted_queues (name, deleted_at) VALUES (?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET deleted_at = excluded.deleted_at",
                       (name, now))
            return True

    def deleted_since(self, name: str, since: float) -> bool:
        rows = self.db.execute("SELECT 1 FROM sqs_deleted_queues WHERE name = ? AND "
                               "deleted_at > ?", (name, since))
        return bool(rows)

    def purge(self, name: str, now: float, interval: float) -> bool:
        """Delete every message; False (and nothing deleted) if purged within ``interval``."""
        with self.db.transaction() as tx:
            changed = tx.rowcount(
                "UPDATE sqs_queues SET purged_at = ? WHERE name = ? AND "
                "(purged_at IS NULL OR purged_at <= ?)", (now, name, now - interval))
            if not changed:
                return False
            tx.execute("DELETE FROM sqs_messages WHERE queue = ?", (name,))
            return True

    # -- messages -------------------------------------------------------------

    def insert_messages(self, queue: Queue, messages: Sequence[NewMessage], now: float,
                        sender_id: str) -> list[tuple[str, int]]:
        """Store ``messages`` in order; (message id, sequence number) of each.

        A FIFO message whose deduplication key was seen in the last five minutes
        is accepted but not stored: it answers the first message's id and number.
        """
        with self.db.transaction() as tx:
            rows = tx.execute("UPDATE sqs_queues SET next_seq = next_seq + ? WHERE name = ? "
                              "RETURNING next_seq", (len(messages), queue.name))
            if not rows:
                raise QueueDoesNotExist()
            first = int(rows[0][0]) - len(messages) + 1
            seen: dict[str, tuple[str, int]] = {}
            results: list[tuple[str, int]] = []
            inserts: list[tuple[Any, ...]] = []
            for offset, message in enumerate(messages):
                key = _dedup_key(queue, message)
                earlier = seen.get(key) if key else None
                if key and earlier is None:
                    earlier = _recent_duplicate(tx, queue.name, key, now)
                if earlier is not None:
                    results.append(earlier)
                    continue
                message_id, seq = _new_message_id(), first + offset
                results.append((message_id, seq))
                if key:
                    seen[key] = (message_id, seq)
                inserts.append(_message_row(queue.name, message_id, seq, message, now,
                                            sender_id))
            if inserts:
                tx.executemany(
                    "INSERT INTO sqs_messages (id, queue, seq, body, attributes, "
                    "system_attributes, sent_at, visible_at, group_id, dedup_id, sender_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", inserts)
            if seen:
                tx.executemany(
                    "INSERT INTO sqs_dedup (queue, dedup_key, message_id, seq, expires_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (queue, dedup_key) DO UPDATE SET "
                    "message_id = excluded.message_id, seq = excluded.seq, "
                    "expires_at = excluded.expires_at",
                    [(queue.name, k, mid, s, now + DEDUP_INTERVAL) for k, (mid, s) in seen.items()])
            return results

    def claim(self, claim: Claim) -> tuple[list[Delivered], int]:
        """Receive up to ``claim.limit`` messages; also how many moved to the DLQ instead."""
        queue, postgres = claim.queue, self.db.dialect == "postgres"
        redrive = queue.redrive if claim.dead_letter is not None else None
        delivered: list[Delivered] = []
        moved = 0
        with self.db.transaction() as tx:
            if postgres and queue.fifo:
                tx.execute("SELECT 1 FROM sqs_queues WHERE name = ? FOR UPDATE", (queue.name,))
            while len(delivered) < claim.limit:
                rows = _candidates(tx, claim, claim.limit - len(delivered), postgres)
                if not rows:
                    break
                over = [r for r in rows if redrive and r[6] >= redrive.max_receive_count]
                take = [r for r in rows if not (redrive and r[6] >= redrive.max_receive_count)]
                delivered.extend(_mark_received(tx, claim, take))
                if not over:
                    break
                assert claim.dead_letter is not None
                moved += _move(tx, [str(r[0]) for r in over], claim.dead_letter, queue.arn,
                               claim.now)
        return delivered, moved

    def delete_messages(self, queue: str, message_ids: Sequence[str]) -> None:
        with self.db.transaction() as tx:
            tx.executemany("DELETE FROM sqs_messages WHERE queue = ? AND id = ?",
                           [(queue, m) for m in message_ids])

    def visibility_state(self, queue: str, message_id: str) -> tuple[str | None, float,
                                                                       float | None] | None:
        """(current receipt nonce, visible_at, received_at) of a message, None if gone."""
        rows = self.db.execute("SELECT receipt, visible_at, received_at FROM sqs_messages "
                               "WHERE queue = ? AND id = ?", (queue, message_id))
        if not rows:
            return None
        receipt, visible_at, received_at = rows[0]
        return receipt, float(visible_at), None if received_at is None else float(received_at)

    def set_visible_at(self, queue: str, changes: Sequence[tuple[str, str, float]]) -> int:
        """Apply (message id, receipt nonce, visible_at) where the nonce is still current."""
        with self.db.transaction() as tx:
            return sum(tx.rowcount("UPDATE sqs_messages SET visible_at = ? WHERE queue = ? "
                                   "AND id = ? AND receipt = ?", (at, queue, mid, nonce))
                       for mid, nonce, at in changes)

    def counts(self, queue: Queue, now: float) -> tuple[int, int, int]:
        """(visible, in flight, delayed) messages within the retention period."""
        cutoff = now - queue.integer("MessageRetentionPeriod")
        rows = self.db.execute(
            "SELECT "
            "COALESCE(SUM(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN visible_at > ? AND receive_count > 0 THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN visible_at > ? AND receive_count = 0 THEN 1 ELSE 0 END), 0) "
            "FROM sqs_messages WHERE queue = ? AND sent_at >= ?",
            (now, now, now, queue.name, cutoff))
        visible, in_flight, delayed = rows[0]
        return int(visible), int(in_flight), int(delayed)

    def lag(self, now: float) -> dict[str, tuple[int, float | None]]:
        """Queue name → (visible messages, when the oldest message was sent), for every
        queue: what CloudWatch's AWS/SQS metrics report (one scan for all queues)."""
        found: dict[str, tuple[int, float | None]] = {
            name: (0, None) for name in self.queue_names()}
        for name, visible, oldest in self.db.execute(
                "SELECT queue, COALESCE(SUM(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), 0), "
                "MIN(sent_at) FROM sqs_messages GROUP BY queue", (now,)):
            if str(name) in found:
                found[str(name)] = (int(visible), float(oldest))
        return found

    def expire(self, queue: Queue, now: float) -> int:
        """Drop messages past the retention period and deduplication keys past five minutes."""
        cutoff = now - queue.integer("MessageRetentionPeriod")
        with self.db.transaction() as tx:
            dropped = tx.rowcount("DELETE FROM sqs_messages WHERE queue = ? AND sent_at < ?",
                                  (queue.name, cutoff))
            tx.execute("DELETE FROM sqs_dedup WHERE queue = ? AND expires_at <= ?",
                       (queue.name, now))
            return dropped


def _queue_row(queue: Queue) -> tuple[Any, ...]:
    return (queue.name, queue.arn, queue.url, json.dumps(dict(queue.attributes)),
            json.dumps(dict(queue.tags)), queue.created, queue.modified)


def _queue(row: Sequence[Any]) -> Queue:
    name, arn, url, attributes, tags, created, modified = row
    return Queue(str(name), str(arn), str(url), json.loads(attributes), json.loads(tags),
                 float(created), float(modified))


def _dead_letter_arn(queue: Queue) -> str | None:
    redrive = queue.redrive
    return redrive.dead_letter_arn if redrive else None


def _new_message_id() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:]}"


def _dedup_key(queue: Queue, message: NewMessage) -> str | None:
    if not queue.fifo or message.dedup_id is None:
        return None
    if queue.deduplicate_per_group:
        return f"{message.group_id}\n{message.dedup_id}"
    return message.dedup_id


def _recent_duplicate(tx: Transaction, queue: str, key: str, now: float) -> tuple[str, int] | None:
    rows = tx.execute("SELECT message_id, seq FROM sqs_dedup WHERE queue = ? AND dedup_key = ? "
                      "AND expires_at > ?", (queue, key, now))
    return (str(rows[0][0]), int(rows[0][1])) if rows else None


def _message_row(queue: str, message_id: str, seq: int, message: NewMessage, now: float,
                 sender_id: str) -> tuple[Any, ...]:
    return (message_id, queue, seq, message.body, encode_attributes(message.attributes),
            encode_attributes(message.system_attributes), now, now + message.delay_seconds,
            message.group_id, message.dedup_id, sender_id)


def _candidates(tx: Transaction, claim: Claim, limit: int,
                postgres: bool) -> list[tuple[Any, ...]]:
    lock = " FOR UPDATE SKIP LOCKED" if postgres else ""
    name, now = claim.queue.name, claim.now
    if claim.queue.fifo:
        # A group with a message in flight (or delayed) waits; its visible messages go in order.
        return tx.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM sqs_messages WHERE queue = ? AND visible_at <= ? "
            "AND sent_at >= ? AND group_id NOT IN (SELECT group_id FROM sqs_messages "
            "WHERE queue = ? AND visible_at > ?) ORDER BY seq LIMIT ?" + lock,
            (name, now, claim.cutoff, name, now, limit))
    return tx.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM sqs_messages WHERE queue = ? AND visible_at <= ? "
        "AND sent_at >= ? ORDER BY visible_at, seq LIMIT ?" + lock,
        (name, now, claim.cutoff, limit))


def _mark_received(tx: Transaction, claim: Claim, rows: Sequence[Sequence[Any]]) -> list[Delivered]:
    now, visible_at = claim.now, claim.now + claim.visibility
    delivered, updates = [], []
    for row in rows:
        (message_id, _, body, attributes, system_attributes, sent_at, count, first_receive,
         seq, group_id, dedup_id, sender_id, source_arn) = row
        nonce = secrets.token_hex(8)
        first = now if first_receive is None else float(first_receive)
        updates.append((visible_at, first, nonce, now, message_id))
        delivered.append(Delivered(
            str(message_id), nonce, str(body), decode_attributes(attributes),
            decode_attributes(system_attributes), float(sent_at), int(count) + 1, first,
            int(seq), group_id, dedup_id, str(sender_id), source_arn))
    if updates:
        tx.executemany("UPDATE sqs_messages SET visible_at = ?, receive_count = receive_count + 1, "
                       "first_receive_at = ?, receipt = ?, received_at = ? WHERE id = ?", updates)
    return delivered


def _move(tx: Transaction, message_ids: Sequence[str], target: Queue, source_arn: str,
          now: float) -> int:
    rows = tx.execute("UPDATE sqs_queues SET next_seq = next_seq + ? WHERE name = ? "
                      "RETURNING next_seq", (len(message_ids), target.name))
    if not rows:  # the dead-letter queue is gone: the messages stay where they are
        return 0
    first = int(rows[0][0]) - len(message_ids) + 1
    tx.executemany(
        "UPDATE sqs_messages SET queue = ?, seq = ?, visible_at = ?, receipt = NULL, "
        "source_arn = ? WHERE id = ?",
        [(target.name, first + i, now, source_arn, mid) for i, mid in enumerate(message_ids)])
    return len(message_ids)

