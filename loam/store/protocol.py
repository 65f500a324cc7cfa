"""The ``Store`` contract every backend satisfies.

Invariants (checked by ``tests/integration/test_store_contract.py`` on every
backend):
- a function version is identified by ``(name, version)``; ``$LATEST`` is the
  mutable head;
- ``replace_function`` is a compare-and-swap on ``revision_id``: it succeeds
  only when the stored revision equals ``expected_revision``;
- ``delete_function`` also deletes the function's aliases;
- ``list_functions`` returns ``$LATEST`` records ordered by name, strictly
  after ``after`` when given;
- ``list_versions`` returns every version of one function, ``$LATEST`` first,
  then published versions in ascending numeric order;
- the async-event queue: ``enqueue_events`` commits a batch at once;
  ``claim_events`` leases due events (``not_before`` ≤ now, lease expired)
  to one caller until ``leased_until``; an event stays until
  ``finish_events`` deletes it, so a crash only ever repeats an event
  (at-least-once), never loses one;
- driver exceptions never leak: backends raise ``StoreError`` subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "LATEST",
    "AsyncEventRecord",
    "FunctionRecord",
    "RecordExists",
    "RecordNotFound",
    "RevisionMismatch",
    "Store",
    "StoreError",
    "version_order",
]

LATEST = "$LATEST"


class StoreError(Exception):
    """A backend failed; the message is safe to log, not to show clients."""


class RecordExists(StoreError):
    pass


class RecordNotFound(StoreError):
    pass


class RevisionMismatch(StoreError):
    pass


@dataclass(frozen=True)
class AliasRecord:
    """One alias of a function: its name, revision and JSON document (owned by control)."""

    function: str
    name: str
    revision_id: str
    document: str


@dataclass(frozen=True)
class FunctionRecord:
    """One stored function version: its name, revision and JSON document.

    The document's schema belongs to ``loam.control``; the store treats it as
    an opaque JSON text.
    """

    name: str
    version: str
    revision_id: str
    document: str


@dataclass(frozen=True)
class AsyncEventRecord:
    """One accepted asynchronous invocation waiting in the durable queue.

    ``document`` is JSON owned by ``loam.invoke`` (how the caller named the
    function, client context, the last error); ``payload`` the event itself.
    """

    id: str
    function: str
    payload: bytes
    enqueued_at: float
    attempts: int
    not_before: float
    document: str


class Store(Protocol):
    def create_function(self, record: FunctionRecord) -> None:
        """Insert; ``RecordExists`` if ``(name, version)`` is taken."""

    def get_function(self, name: str, version: str = LATEST) -> FunctionRecord | None: ...

    def list_functions(self, after: str | None, limit: int) -> list[FunctionRecord]: ...

    def replace_function(self, record: FunctionRecord, expected_revision: str) -> None:
        """Compare-and-swap on revision; ``RecordNotFound`` / ``RevisionMismatch``."""

    def list_versions(self, name: str) -> list[FunctionRecord]: ...

    def delete_function(self, name: str) -> bool:
        """Delete every version of ``name``; ``True`` if anything was deleted."""

    def delete_version(self, name: str, version: str) -> bool:
        """Delete one version; ``True`` if it existed."""

    def create_alias(self, record: AliasRecord) -> None:
        """Insert; ``RecordExists`` if the function already has an alias of that name."""

    def get_alias(self, function: str, name: str) -> AliasRecord | None: ...

    def list_aliases(self, function: str) -> list[AliasRecord]:
        """Every alias of ``function``, ordered by name."""

    def replace_alias(self, record: AliasRecord, expected_revision: str) -> None:
        """Compare-and-swap on revision; ``RecordNotFound`` / ``RevisionMismatch``."""

    def delete_alias(self, function: str, name: str) -> bool: ...

    def publish_layer_version(self, name: str, document: str) -> int:
        """Store the next version of layer ``name``; numbers are never reused."""

    def get_layer_version(self, name: str, version: int) -> str | None: ...

    def list_layer_versions(self, name: str) -> list[tuple[int, str]]:
        """``(version, document)`` of layer ``name``, newest first."""

    def list_layer_names(self) -> list[str]:
        """Names of layers with at least one version, ordered."""

    def replace_layer_version(self, name: str, version: int, document: str,
                              expected: str) -> None:
        """Compare-and-swap on the whole document; ``RevisionMismatch`` / ``RecordNotFound``."""

    def delete_layer_version(self, name: str, version: int) -> bool: ...

    def enqueue_events(self, records: list[AsyncEventRecord]) -> None:
        """Insert every record in one transaction (committed when this returns)."""

    def claim_events(self, now: float, leased_until: float,
                     limit: int) -> list[AsyncEventRecord]:
        """Lease up to ``limit`` due events, oldest first, until ``leased_until``."""

    def retry_event(self, record: AsyncEventRecord) -> None:
        """Store the event's new ``attempts``/``not_before``/``document``; release its lease."""

    def finish_events(self, event_ids: list[str]) -> None:
        """Delete the events (in one transaction): they were processed (or given up on)."""

    def release_event_leases(self) -> int:
        """Release every lease (a restarted single node owns none); returns how many."""

    def count_events(self) -> int: ...

    def close(self) -> None: ...


def version_order(record: FunctionRecord) -> tuple[int, int]:
    """Sort key: ``$LATEST`` first, then published versions by number."""
    if record.version == LATEST:
        return (0, 0)
    return (1, int(record.version)) if record.version.isdigit() else (2, 0)
