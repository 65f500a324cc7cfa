"""A small SQL layer for the embedded services' own tables.

The function store (``sqlite.py`` / ``postgres.py``) speaks a fixed
protocol. The embedded services (``loam.services.sqs``, ``loam.services.events``,
event source mappings) each own a few tables; they write their SQL once, in
the dialect both backends share, against a ``Database``:

- placeholders are ``?`` (rewritten to ``%s`` for PostgreSQL);
- ``{text_key}`` in DDL is a TEXT column that orders by code point on both
  (``TEXT COLLATE "C"`` on PostgreSQL, plain ``TEXT`` on SQLite);
- ``{blob}`` in DDL is ``BLOB`` / ``BYTEA``; ``{real}`` is ``REAL`` /
  ``DOUBLE PRECISION``;
- ``INSERT … ON CONFLICT`` and ``RETURNING`` work on both;
- ``dialect`` says which one this is, for the rare statement that differs
  (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, where nodes share tables).

Every call is one committed unit; ``transaction()`` groups several. Driver
errors become ``StoreError`` (``RecordExists`` for a unique violation).
SQLite shares the node's database file (WAL) through its own connection.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from loam.store.protocol import RecordExists, StoreError

__all__ = ["Database", "Dialect", "Transaction", "open_database"]

Dialect = Literal["sqlite", "postgres"]
Row = tuple[Any, ...]
_DDL = {
    "sqlite": {"text_key": "TEXT", "blob": "BLOB", "real": "REAL"},
    "postgres": {"text_key": 'TEXT COLLATE "C"', "blob": "BYTEA", "real": "DOUBLE PRECISION"},
}
_PLACEHOLDER = re.compile(r"\?")


class Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement; its rows (empty for statements without any)."""

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...


class Database:
    """One connection, one lock: safe to share between threads."""

    def __init__(self, dialect: Dialect, connect: Any) -> None:
        self.dialect: Dialect = dialect
        self._connect = connect
        self._conn: Any = None
        self._lock = threading.RLock()

    def schema(self, ddl: str) -> None:
        """Create tables and indexes (idempotent ``IF NOT EXISTS`` statements)."""
        text = ddl.format(**_DDL[self.dialect])
        with self.transaction() as tx:
            if self.dialect == "postgres":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (0x6C6F616E,))
            for statement in filter(str.strip, text.split(";")):
                tx.execute(statement)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.transaction() as tx:
            return tx.rowcount(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Statements inside commit together, or not at all."""
        with self._lock:
            conn = self._connection()
            try:
                if self.dialect == "sqlite":
                    conn.execute("BEGIN IMMEDIATE")
                    yield _Tx(conn, self.dialect)
                    conn.execute("COMMIT")
                else:
                    with conn.transaction():
                        yield _Tx(conn, self.dialect)
            except BaseException as exc:
                if self.dialect == "sqlite" and conn.in_transaction:
                    conn.execute("ROLLBACK")
                translated = _translate(exc)
                if translated is None:
                    raise
                if self.dialect == "postgres" and _is_connection_error(exc):
                    self._drop()
                raise translated from exc

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._connect()
            except Exception as exc:  # the driver boundary
                raise StoreError(f"cannot connect to the database: {exc}") from exc
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


class _Tx:
    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self._postgres = dialect == "postgres"

    def _sql(self, sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql) if self._postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        if cur.description is None:
            return []
        return [tuple(row) for row in cur.fetchall()]

    def rowcount(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._postgres:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])
        else:
            self._conn.executemany(sql, [tuple(r) for r in rows])


def _translate(exc: BaseException) -> StoreError | None:
    if isinstance(exc, StoreError):
        return None
    if isinstance(exc, sqlite3.IntegrityError):
        return RecordExists(str(exc))
    if isinstance(exc, sqlite3.Error):
        return StoreError(str(exc))
    try:
        import psycopg
        from psycopg import errors
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    if isinstance(exc, errors.UniqueViolation):
        return RecordExists(str(exc))
    if isinstance(exc, psycopg.Error):
        return StoreError(str(exc))
    return None


def _is_connection_error(exc: BaseException) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError)


def open_database(database_url: str, data_dir: Path, sqlite_file: str = "loam.db") -> Database:
    """A ``Database`` on the node's store: the SQLite file in ``data_dir`` (``sqlite_file``:
    a separate file keeps a high-volume writer's locks away from the rest) or PostgreSQL."""
    if database_url in ("", "sqlite"):
        path = data_dir / sqlite_file

        def connect_sqlite() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            return conn

        return Database("sqlite", connect_sqlite)
    if database_url.startswith(("postgresql://", "postgres://")):
        import psycopg

        def connect_postgres() -> Any:
            return psycopg.connect(database_url, autocommit=True)

        return Database("postgres", connect_postgres)
    raise ValueError(f"unsupported database URL {database_url!r} (use 'sqlite' or postgresql://)")
