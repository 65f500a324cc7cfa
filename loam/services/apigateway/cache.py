"""The node's cache of HTTP API definitions (see ``DefinitionCache``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from loam.clock import Clock
from loam.services.apigateway.models import ApiDefinition

__all__ = ["SHARED_STORE_TTL_S", "Cached", "DefinitionCache"]

# As the function cache: on a store other nodes write, trust an entry this long.
SHARED_STORE_TTL_S = 1.0
_LIMIT = 4096


@dataclass(frozen=True)
class Cached:
    """A cache hit; ``definition`` None means the API is known not to exist."""

    definition: ApiDefinition | None


class DefinitionCache:
    """Each API's definition as last read, so a request to an unchanged API reads no store.

    Coherent on this node: every ``ApiStore`` write calls ``invalidate(api_id)``
    once it has returned, so the request after any apigatewayv2 write reads
    the store again. A reader caches what it read only if no write happened
    since it took its ``token()``: a read that raced a write never leaves the
    replaced definition behind. Unknown ids are remembered too (a scan of
    random ids cannot make every request read), within a bounded size.

    Several nodes sharing PostgreSQL: a write made on another node shows here
    once ``ttl`` seconds have passed, as for the function cache;
    ``invalidate()`` is where a change feed would make that immediate.
    """

    def __init__(self, clock: Clock, ttl: float | None = None, limit: int = _LIMIT) -> None:
        self._clock = clock
        self._ttl = ttl
        self._limit = limit
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[str, tuple[float, ApiDefinition | None]] = {}

    def token(self) -> int:
        """Take before reading the store; hand to ``put`` with what was read."""
        return self._generation

    def get(self, api_id: str) -> Cached | None:
        entry = self._entries.get(api_id)
        if entry is None:
            return None
        if self._ttl is not None and self._clock.monotonic() - entry[0] >= self._ttl:
            return None
        return Cached(entry[1])

    def put(self, api_id: str, definition: ApiDefinition | None, token: int) -> None:
        with self._lock:
            if token != self._generation:
                return
            if api_id not in self._entries and len(self._entries) >= self._limit:
                del self._entries[next(iter(self._entries))]  # the oldest entry
            self._entries[api_id] = (self._clock.monotonic(), definition)

    def invalidate(self, api_id: str | None = None) -> None:
        """Forget one API (or all); reads in flight will not cache what they read."""
        with self._lock:
            self._generation += 1
            if api_id is None:
                self._entries.clear()
            else:
                self._entries.pop(api_id, None)
