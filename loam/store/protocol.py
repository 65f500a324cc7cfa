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
- driver exceptions never leak: backends raise ``StoreError`` subclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "LATEST",
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

    def close(self) -> None: ...


def version_order(record: FunctionRecord) -> tuple[int, int]:
    """Sort key: ``$LATEST`` first, then published versions by number."""
    if record.version == LATEST:
        return (0, 0)
    return (1, int(record.version)) if record.version.isdigit() else (2, 0)
