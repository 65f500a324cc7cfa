"""Durable state behind one protocol: SQLite (embedded) or PostgreSQL."""

from __future__ import annotations

from loam.store.blobs import BlobStore
from loam.store.factory import open_store
from loam.store.protocol import (
    AliasRecord,
    AsyncEventRecord,
    FunctionRecord,
    RecordExists,
    RecordNotFound,
    RevisionMismatch,
    Store,
    StoreError,
)

__all__ = [
    "AliasRecord",
    "AsyncEventRecord",
    "BlobStore",
    "FunctionRecord",
    "RecordExists",
    "RecordNotFound",
    "RevisionMismatch",
    "Store",
    "StoreError",
    "open_store",
]
