"""The node's cache of resolved functions and aliases, and the store wrapper
that keeps it coherent (see ``FunctionCache``)."""

from __future__ import annotations

import threading
from typing import Any

from loam.clock import Clock
from loam.control.models import Alias, FunctionState
from loam.store import Store

__all__ = ["CoherentStore", "FunctionCache"]


class FunctionCache:
    """Resolved functions and aliases, so a warm invoke never reads the store.

    Coherent on this node: every store write made through
    ``FunctionService.store`` (the service's own, and those of versions,
    aliases and reserved concurrency, which share it) empties the cache once
    the write has returned, so the request after an UpdateFunction*,
    DeleteFunction or UpdateAlias reads the store again. A reader caches what
    it read only if no write happened since it took its ``token()``: a read
    that raced a write can never leave the replaced document behind. Writes
    are rare, so the whole cache goes; the next invoke of each function
    reads it once.

    Several nodes sharing PostgreSQL: a write made on another node is not
    seen here until ``ttl`` seconds have passed (the node sets a short one
    for shared stores). ``invalidate()`` is the seam for a change feed
    (PostgreSQL ``LISTEN``/``NOTIFY``) to make that immediate too.
    """

    def __init__(self, clock: Clock, ttl: float | None = None) -> None:
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._generation = 0
        self._functions: dict[tuple[str, str], tuple[float, FunctionState]] = {}
        self._aliases: dict[tuple[str, str], tuple[float, Alias]] = {}

    def token(self) -> int:
        """Take before reading the store; hand to ``put_*`` with what was read."""
        return self._generation

    def function(self, name: str, version: str) -> FunctionState | None:
        entry = self._functions.get((name, version))
        return entry[1] if entry is not None and self._fresh(entry[0]) else None

    def alias(self, function: str, name: str) -> Alias | None:
        entry = self._aliases.get((function, name))
        return entry[1] if entry is not None and self._fresh(entry[0]) else None

    def put_function(self, fn: FunctionState, token: int) -> None:
        with self._lock:
            if token == self._generation:
                self._functions[(fn.name, fn.version)] = (self._clock.monotonic(), fn)

    def put_alias(self, alias: Alias, token: int) -> None:
        with self._lock:
            if token == self._generation:
                self._aliases[(alias.function, alias.name)] = (self._clock.monotonic(), alias)

    def invalidate(self) -> None:
        """Forget everything; reads in flight will not cache what they read."""
        with self._lock:
            self._generation += 1
            self._functions.clear()
            self._aliases.clear()

    def _fresh(self, stored_at: float) -> bool:
        return self._ttl is None or self._clock.monotonic() - stored_at < self._ttl


class CoherentStore:
    """The store, with every call that is not a read followed by ``cache.invalidate()``.

    Reads are ``get_*`` and ``list_*``; anything else (create, replace,
    delete, and whatever the protocol grows) counts as a write, so a new
    write method is coherent without being listed here.
    """

    def __init__(self, store: Store, cache: FunctionCache) -> None:
        self._store = store
        self._cache = cache

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name.startswith(("get_", "list_")) or name == "close" or not callable(attr):
            return attr

        def write(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            finally:
                self._cache.invalidate()

        return write
