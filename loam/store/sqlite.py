"""The embedded default backend: one SQLite file in WAL mode."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

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

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_versions (
    name     TEXT NOT NULL,
    version  INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS layer_counters (
    name TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    function    TEXT NOT NULL,
    name        TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (function, name)
);
CREATE TABLE IF NOT EXISTS async_events (
    id           TEXT PRIMARY KEY,
    function     TEXT NOT NULL,
    payload      BLOB NOT NULL,
    enqueued_at  REAL NOT NULL,
    attempts     INTEGER NOT NULL,
    not_before   REAL NOT NULL,
    leased_until REAL NOT NULL DEFAULT 0,
    document     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (not_before);
CREATE TABLE IF NOT EXISTS functions (
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    document    TEXT NOT NULL,
    PRIMARY KEY (name, version)
);
"""


class SqliteStore:
    """Thread-safe: one connection guarded by a lock (SQLite serialises writes anyway)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA busy_timeout=5000")
            self._conn.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store at {path}: {exc}") from exc
        self._lock = threading.Lock()

    def create_function(self, record: FunctionRecord) -> None:
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO functions (name, version, revision_id, document) VALUES (?,?,?,?)",
                    (record.name, record.version, record.revision_id, record.document),
                )
        except sqlite3.IntegrityError as exc:
            raise RecordExists(record.name) from exc
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def get_function(self, name: str, version: str = LATEST) -> FunctionRecord | None:
        row = self._one(
            "SELECT name, version, revision_id, document FROM functions WHERE name=? AND version=?",
            (name, version),
        )
        return FunctionRecord(*row) if row else None

    def list_functions(self, after: str | None, limit: int) -> list[FunctionRecord]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT name, version, revision_id, document FROM functions"
                    " WHERE version=? AND name > ? ORDER BY name LIMIT ?",
                    (LATEST, after or "", limit),
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return [FunctionRecord(*row) for row in rows]

    def replace_function(self, record: FunctionRecord, expected_revision: str) -> None:
        self._swap("functions", "revision_id=?, document=?", (record.revision_id, record.document),
                   "name=? AND version=?", (record.name, record.version),
                   "revision_id=?", expected_revision, record.name)

    def list_versions(self, name: str) -> list[FunctionRecord]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT name, version, revision_id, document FROM functions WHERE name=?",
                    (name,),
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return sorted((FunctionRecord(*row) for row in rows), key=version_order)

    def delete_version(self, name: str, version: str) -> bool:
        try:
            with self._lock:
                cur = self._conn.execute(
                    "DELETE FROM functions WHERE name=? AND version=?", (name, version)
                )
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return cur.rowcount > 0

    def delete_function(self, name: str) -> bool:
        try:
            with self._lock:
                cur = self._conn.execute("DELETE FROM functions WHERE name=?", (name,))
                self._conn.execute("DELETE FROM aliases WHERE function=?", (name,))
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return cur.rowcount > 0

    def create_alias(self, record: AliasRecord) -> None:
        try:
            with self._lock:
                self._conn.execute(
                    "INSERT INTO aliases (function, name, revision_id, document) VALUES (?,?,?,?)",
                    (record.function, record.name, record.revision_id, record.document),
                )
        except sqlite3.IntegrityError as exc:
            raise RecordExists(record.name) from exc
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def get_alias(self, function: str, name: str) -> AliasRecord | None:
        rows = self._aliases("WHERE function=? AND name=?", (function, name))
        return rows[0] if rows else None

    def list_aliases(self, function: str) -> list[AliasRecord]:
        return self._aliases("WHERE function=? ORDER BY name", (function,))

    def replace_alias(self, record: AliasRecord, expected_revision: str) -> None:
        self._swap("aliases", "revision_id=?, document=?", (record.revision_id, record.document),
                   "function=? AND name=?", (record.function, record.name),
                   "revision_id=?", expected_revision, record.name)

    def delete_alias(self, function: str, name: str) -> bool:
        try:
            with self._lock:
                cur = self._conn.execute(
                    "DELETE FROM aliases WHERE function=? AND name=?", (function, name)
                )
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return cur.rowcount > 0

    def _aliases(self, where: str, params: tuple[str, ...]) -> list[AliasRecord]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT function, name, revision_id, document FROM aliases " + where, params
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return [AliasRecord(*row) for row in rows]

    def publish_layer_version(self, name: str, document: str) -> int:
        with self._transaction() as conn:
            (version,) = conn.execute(
                "INSERT INTO layer_counters (name, last) VALUES (?, 1)"
                " ON CONFLICT (name) DO UPDATE SET last = last + 1 RETURNING last",
                (name,),
            ).fetchone()
            conn.execute(
                "INSERT INTO layer_versions (name, version, document) VALUES (?,?,?)",
                (name, version, document),
            )
        return int(version)

    def get_layer_version(self, name: str, version: int) -> str | None:
        rows = self._layer_rows("WHERE name=? AND version=?", (name, version))
        return rows[0][1] if rows else None

    def list_layer_versions(self, name: str) -> list[tuple[int, str]]:
        return self._layer_rows("WHERE name=? ORDER BY version DESC", (name,))

    def list_layer_names(self) -> list[str]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT DISTINCT name FROM layer_versions ORDER BY name"
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return [row[0] for row in rows]

    def replace_layer_version(self, name: str, version: int, document: str,
                              expected: str) -> None:
        self._swap("layer_versions", "document=?", (document,), "name=? AND version=?",
                   (name, version), "document=?", expected, name)

    def delete_layer_version(self, name: str, version: int) -> bool:
        try:
            with self._lock:
                cur = self._conn.execute(
                    "DELETE FROM layer_versions WHERE name=? AND version=?", (name, version)
                )
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return cur.rowcount > 0

    def _layer_rows(self, where: str, params: tuple[object, ...]) -> list[tuple[int, str]]:
        try:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT version, document FROM layer_versions " + where, params
                ).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return [(int(v), d) for v, d in rows]

    def _swap(self, table: str, assign: str, values: tuple[object, ...], key: str,
              key_values: tuple[object, ...], guard: str, expected: object, name: str) -> None:
        """Compare-and-swap one row: ``RevisionMismatch`` if the guard fails, else
        ``RecordNotFound`` if the row is absent. Table and column names are constants."""
        try:
            with self._lock:
                cur = self._conn.execute(
                    f"UPDATE {table} SET {assign} WHERE {key} AND {guard}",
                    (*values, *key_values, expected),
                )
                if cur.rowcount == 1:
                    return
                exists = self._conn.execute(
                    f"SELECT 1 FROM {table} WHERE {key}", key_values
                ).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        raise RevisionMismatch(name) if exists else RecordNotFound(name)

    # -- the async-event queue ------------------------------------------------

    def enqueue_events(self, records: list[AsyncEventRecord]) -> None:
        rows = [(r.id, r.function, r.payload, r.enqueued_at, r.attempts, r.not_before,
                 r.document) for r in records]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO async_events (id, function, payload, enqueued_at,"
                " attempts, not_before, document) VALUES (?,?,?,?,?,?,?)", rows)

    def claim_events(self, now: float, leased_until: float,
                     limit: int) -> list[AsyncEventRecord]:
        with self._transaction() as conn:
            rows = conn.execute(
                "SELECT id, function, payload, enqueued_at, attempts, not_before, document"
                " FROM async_events WHERE not_before <= ? AND leased_until <= ?"
                " ORDER BY not_before LIMIT ?", (now, now, limit)).fetchall()
            conn.executemany("UPDATE async_events SET leased_until=? WHERE id=?",
                             [(leased_until, row[0]) for row in rows])
        return [AsyncEventRecord(r[0], r[1], bytes(r[2]), r[3], r[4], r[5], r[6]) for r in rows]

    def retry_event(self, record: AsyncEventRecord) -> None:
        self._exec("UPDATE async_events SET attempts=?, not_before=?, document=?, leased_until=0"
                   " WHERE id=?", (record.attempts, record.not_before, record.document, record.id))

    def finish_events(self, event_ids: list[str]) -> None:
        with self._transaction() as conn:
            conn.executemany("DELETE FROM async_events WHERE id=?", [(i,) for i in event_ids])

    def release_event_leases(self) -> int:
        return self._exec("UPDATE async_events SET leased_until=0 WHERE leased_until > 0", ())

    def count_events(self) -> int:
        try:
            with self._lock:
                row = self._conn.execute("SELECT COUNT(*) FROM async_events").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return int(row[0])

    def _exec(self, sql: str, params: tuple[object, ...]) -> int:
        try:
            with self._lock:
                return self._conn.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, in one IMMEDIATE transaction: committed when the
        block ends, rolled back if it raises; driver errors become ``StoreError``."""
        try:
            with self._lock:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _one(self, sql: str, params: tuple[object, ...]) -> tuple[str, str, str, str] | None:
        try:
            with self._lock:
                row = self._conn.execute(sql, params).fetchone()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
        return row  # type: ignore[no-any-return]
