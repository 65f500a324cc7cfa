"""The shared backend: one PostgreSQL table, same schema as the SQLite store.

Invariants:
- one autocommit connection guarded by a lock, so every method is one
  committed unit and the store is safe to share between threads;
- a broken connection is dropped and reopened on the next call; a failed
  write is never retried, so a lost reply cannot turn into a duplicate;
- ``name`` uses the "C" collation, so ``list_functions`` orders and pages by
  code point exactly like SQLite, whatever the database's locale;
- every ``psycopg.Error`` becomes a ``StoreError`` subclass.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors
from psycopg.rows import TupleRow, class_row

from loam.store.protocol import (
    LATEST,
    AliasRecord,
    AsyncEventRecord,
    FunctionRecord,
    RecordExists,
    RecordNotFound,
    RevisionMismatch,
    StoreError,
    version_order,
)

__all__ = ["PostgresStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name        TEXT COLLATE "C" NOT NULL,
    version     TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS aliases (
    function    TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    revision_id TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (function, name)
);
CREATE TABLE IF NOT EXISTS layer_versions (
    name     TEXT COLLATE "C" NOT NULL,
    version  BIGINT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS layer_counters (
    name TEXT COLLATE "C" PRIMARY KEY,
    last BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS async_events (
    id           TEXT PRIMARY KEY,
    function     TEXT NOT NULL,
    payload      BYTEA NOT NULL,
    enqueued_at  DOUBLE PRECISION NOT NULL,
    attempts     INTEGER NOT NULL,
    not_before   DOUBLE PRECISION NOT NULL,
    leased_until DOUBLE PRECISION NOT NULL DEFAULT 0,
    document     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (not_before)
"""
_ALIAS_COLUMNS = "SELECT function, name, revision_id, document FROM aliases"
_EVENT_COLUMNS = "id, function, payload, enqueued_at, attempts, not_before, document"
_SCHEMA_LOCK = 0x6C6F616D  # serialises CREATE TABLE IF NOT EXISTS, which can race
_COLUMNS = "SELECT name, version, revision_id, document FROM functions"

Connection = psycopg.Connection[TupleRow]


class PostgresStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._closed = False
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA)

    def create_function(self, record: FunctionRecord) -> None:
        with self._connection() as conn:
            try:
                conn.execute(
                    "INSERT INTO functions (name, version, revision_id, document)"
                    " VALUES (%s, %s, %s, %s)",
                    (record.name, record.version, record.revision_id, record.document),
                )
            except errors.UniqueViolation as exc:
                raise RecordExists(record.name) from exc

    def get_function(self, name: str, version: str = LATEST) -> FunctionRecord | None:
        with self._connection() as conn:
            cur = conn.cursor(row_factory=class_row(FunctionRecord))
            return cur.execute(
                _COLUMNS + " WHERE name = %s AND version = %s", (name, version)
            ).fetchone()

    def list_functions(self, after: str | None, limit: int) -> list[FunctionRecord]:
        with self._connection() as conn:
            cur = conn.cursor(row_factory=class_row(FunctionRecord))
            return cur.execute(
                _COLUMNS + " WHERE version = %s AND name > %s ORDER BY name LIMIT %s",
                (LATEST, after or "", limit),
            ).fetchall()

    def replace_function(self, record: FunctionRecord, expected_revision: str) -> None:
        self._swap("functions", "revision_id = %s, document = %s",
                   (record.revision_id, record.document), "name = %s AND version = %s",
                   (record.name, record.version), "revision_id = %s", expected_revision,
                   record.name)

    def list_versions(self, name: str) -> list[FunctionRecord]:
        with self._connection() as conn:
            cur = conn.cursor(row_factory=class_row(FunctionRecord))
            rows = cur.execute(_COLUMNS + " WHERE name = %s", (name,)).fetchall()
        return sorted(rows, key=version_order)

    def delete_version(self, name: str, version: str) -> bool:
        with self._connection() as conn:
            cur = conn.execute(
                "DELETE FROM functions WHERE name = %s AND version = %s", (name, version)
            )
            return cur.rowcount > 0

    def delete_function(self, name: str) -> bool:
        with self._connection() as conn:
            cur = conn.execute("DELETE FROM functions WHERE name = %s", (name,))
            conn.execute("DELETE FROM aliases WHERE function = %s", (name,))
            return cur.rowcount > 0

    def create_alias(self, record: AliasRecord) -> None:
        with self._connection() as conn:
            try:
                conn.execute(
                    "INSERT INTO aliases (function, name, revision_id, document)"
                    " VALUES (%s, %s, %s, %s)",
                    (record.function, record.name, record.revision_id, record.document),
                )
            except errors.UniqueViolation as exc:
                raise RecordExists(record.name) from exc

    def get_alias(self, function: str, name: str) -> AliasRecord | None:
        with self._connection() as conn:
            cur = conn.cursor(row_factory=class_row(AliasRecord))
            return cur.execute(
                _ALIAS_COLUMNS + " WHERE function = %s AND name = %s", (function, name)
            ).fetchone()

    def list_aliases(self, function: str) -> list[AliasRecord]:
        with self._connection() as conn:
            cur = conn.cursor(row_factory=class_row(AliasRecord))
            return cur.execute(
                _ALIAS_COLUMNS + " WHERE function = %s ORDER BY name", (function,)
            ).fetchall()

    def replace_alias(self, record: AliasRecord, expected_revision: str) -> None:
        self._swap("aliases", "revision_id = %s, document = %s",
                   (record.revision_id, record.document), "function = %s AND name = %s",
                   (record.function, record.name), "revision_id = %s", expected_revision,
                   record.name)

    def delete_alias(self, function: str, name: str) -> bool:
        with self._connection() as conn:
            cur = conn.execute(
                "DELETE FROM aliases WHERE function = %s AND name = %s", (function, name)
            )
            return cur.rowcount > 0

    def publish_layer_version(self, name: str, document: str) -> int:
        with self._connection() as conn, conn.transaction():
            row = conn.execute(
                "INSERT INTO layer_counters (name, last) VALUES (%s, 1)"
                " ON CONFLICT (name) DO UPDATE SET last = layer_counters.last + 1"
                " RETURNING last", (name,),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO layer_versions (name, version, document) VALUES (%s, %s, %s)",
                (name, row[0], document),
            )
        return int(row[0])

    def get_layer_version(self, name: str, version: int) -> str | None:
        rows = self._layer_rows("WHERE name = %s AND version = %s", (name, version))
        return rows[0][1] if rows else None

    def list_layer_versions(self, name: str) -> list[tuple[int, str]]:
        return self._layer_rows("WHERE name = %s ORDER BY version DESC", (name,))

    def list_layer_names(self) -> list[str]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT name FROM layer_versions ORDER BY name"
            ).fetchall()
        return [str(row[0]) for row in rows]

    def replace_layer_version(self, name: str, version: int, document: str,
                              expected: str) -> None:
        self._swap("layer_versions", "document = %s", (document,), "name = %s AND version = %s",
                   (name, version), "document = %s", expected, name)

    def delete_layer_version(self, name: str, version: int) -> bool:
        with self._connection() as conn:
            cur = conn.execute(
                "DELETE FROM layer_versions WHERE name = %s AND version = %s", (name, version)
            )
            return cur.rowcount > 0

    def _layer_rows(self, where: str, params: tuple[object, ...]) -> list[tuple[int, str]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT version, document FROM layer_versions " + where, params
            ).fetchall()
        return [(int(v), str(d)) for v, d in rows]

    def _swap(self, table: str, assign: str, values: tuple[object, ...], key: str,
              key_values: tuple[object, ...], guard: str, expected: object, name: str) -> None:
        """Compare-and-swap one row: ``RevisionMismatch`` if the guard fails, else
        ``RecordNotFound`` if the row is absent. Table and column names are constants."""
        with self._connection() as conn:
            cur = conn.execute(
                f"UPDATE {table} SET {assign} WHERE {key} AND {guard}",
                (*values, *key_values, expected),
            )
            if cur.rowcount == 1:
                return
            exists = conn.execute(
                f"SELECT 1 FROM {table} WHERE {key}", key_values
            ).fetchone()
        raise RevisionMismatch(name) if exists else RecordNotFound(name)

    # -- the async-event queue ------------------------------------------------

    def enqueue_events(self, records: list[AsyncEventRecord]) -> None:
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO async_events (" + _EVENT_COLUMNS + ") VALUES"
                " (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                [(r.id, r.function, r.payload, r.enqueued_at, r.attempts, r.not_before,
                  r.document) for r in records])

    def claim_events(self, now: float, leased_until: float,
                     limit: int) -> list[AsyncEventRecord]:
        with self._connection() as conn:
            rows = conn.execute(
                "UPDATE async_events SET leased_until = %s WHERE id IN ("
                " SELECT id FROM async_events WHERE not_before <= %s AND leased_until <= %s"
                " ORDER BY not_before LIMIT %s FOR UPDATE SKIP LOCKED)"
                " RETURNING " + _EVENT_COLUMNS, (leased_until, now, now, limit)).fetchall()
        records = [AsyncEventRecord(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6])
                   for r in rows]
        return sorted(records, key=lambda r: r.not_before)

    def retry_event(self, record: AsyncEventRecord) -> None:
        with self._connection() as conn:
            conn.execute(
                "UPDATE async_events SET attempts = %s, not_before = %s, document = %s,"
                " leased_until = 0 WHERE id = %s",
                (record.attempts, record.not_before, record.document, record.id))

    def finish_events(self, event_ids: list[str]) -> None:
        with self._connection() as conn:
            conn.execute("DELETE FROM async_events WHERE id = ANY(%s)", (event_ids,))

    def release_event_leases(self) -> int:
        with self._connection() as conn:
            cur = conn.execute("UPDATE async_events SET leased_until = 0 WHERE leased_until > 0")
            return cur.rowcount

    def count_events(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT COUNT(*) FROM async_events").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """Hold the lock and a live connection; translate driver errors."""
        with self._lock:
            if self._closed:
                raise StoreError("PostgreSQL store is closed")
            try:
                if self._conn is None or self._conn.closed or self._conn.broken:
                    self._conn = psycopg.connect(self._url, autocommit=True)
                yield self._conn
            except psycopg.Error as exc:
                if self._conn is not None and self._conn.broken:
                    self._conn.close()
                    self._conn = None
                raise StoreError(f"PostgreSQL store: {exc}") from exc
