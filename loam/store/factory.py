"""Choose a backend from ``Settings.database_url``."""

from __future__ import annotations

from pathlib import Path

from loam.store.protocol import Store

__all__ = ["open_store"]


def open_store(database_url: str, data_dir: Path) -> Store:
    if database_url in ("", "sqlite"):
        from loam.store.sqlite import SqliteStore

        return SqliteStore(data_dir / "loam.db")
    if database_url.startswith(("postgresql://", "postgres://")):
        from loam.store.postgres import PostgresStore

        return PostgresStore(database_url)
    raise ValueError(f"unsupported database URL {database_url!r} (use 'sqlite' or postgresql://)")
