"""Access keys: the ``auth_keys`` table, and a short-lived cache of secrets.

A key is an access key id (20 characters, ``AKIA`` + 16 of ``[A-Z2-7]``, as
AWS's look) and a 40-character secret. Secrets are kept as they are: SigV4
verification needs the secret itself. The cache keeps a found secret for
``SECRET_TTL_S`` so a key deleted by ``loam keys delete`` (another process)
stops working within that time; an unknown id is always looked up.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from loam.clock import Clock
from loam.store.sql import Database

__all__ = ["AccessKey", "AccessKeys"]

SECRET_TTL_S = 5.0
_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_keys (
    access_key_id {text_key} PRIMARY KEY,
    secret TEXT NOT NULL,
    created {real} NOT NULL
)
"""


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret: str
    created: float  # epoch seconds


class AccessKeys:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        database.schema(_SCHEMA)

    def create(self) -> AccessKey:
        key = self._new_key()
        self.database.execute(
            "INSERT INTO auth_keys (access_key_id, secret, created) VALUES (?, ?, ?)",
            (key.access_key_id, key.secret, key.created))
        return key

    def create_first(self) -> AccessKey | None:
        """A new key if there is none at all (one transaction: one first key)."""
        with self.database.transaction() as tx:
            if tx.execute("SELECT 1 FROM auth_keys LIMIT 1"):
                return None
            key = self._new_key()
            tx.execute("INSERT INTO auth_keys (access_key_id, secret, created) VALUES (?, ?, ?)",
                       (key.access_key_id, key.secret, key.created))
            return key

    def _new_key(self) -> AccessKey:
        return AccessKey("AKIA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16)),
                         "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
                         self.clock.time())

    def list(self) -> list[AccessKey]:
        rows = self.database.execute(
            "SELECT access_key_id, secret, created FROM auth_keys ORDER BY created, access_key_id")
        return [AccessKey(str(a), str(s), float(c)) for a, s, c in rows]

    def delete(self, access_key_id: str) -> bool:
        with self._lock:
            self._cache.pop(access_key_id, None)
        return self.database.rowcount(
            "DELETE FROM auth_keys WHERE access_key_id = ?", (access_key_id,)) > 0

    def secret(self, access_key_id: str) -> str | None:
        """The key's secret, or None for an id that is not a key."""
        now = self.clock.monotonic()
        cached = self._cache.get(access_key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        rows = self.database.execute(
            "SELECT secret FROM auth_keys WHERE access_key_id = ?", (access_key_id,))
        if not rows:
            with self._lock:
                self._cache.pop(access_key_id, None)
            return None
        secret = str(rows[0][0])
        with self._lock:
            self._cache[access_key_id] = (secret, now + SECRET_TTL_S)
        return secret
