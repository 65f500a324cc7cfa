"""Event source mappings (SQS): Create / Get / Update / Delete / List, with
AWS's rules and messages, stored in the node's ``Database`` (``esm_mappings``).

Invariants:
- one mapping per (queue ARN, function ARN): a unique index holds it, so two
  racing creates cannot both win;
- every write is a compare-and-swap on the mapping's ``revision``;
- a change is announced to subscribers (the SQS event source) after it
  commits; other nodes see it on their next store re-check;
- deleting a function leaves its mappings, as AWS does (its DeleteFunction
  documentation says to delete them with DeleteEventSourceMapping): the
  poller finds the function missing and stops invoking until it is back.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from loam.clock import Clock
from loam.control.event_source_models import (
    DEFAULT_SQS_BATCH_SIZE,
    STABLE_STATES,
    EventSourceMapping,
    settled,
    state_after_update,
)
from loam.control.functions import FunctionService
from loam.control.names import Arns, parse_function_name
from loam.control.paging import page_of
from loam.errors import (
    InvalidParameterValueException,
    LoamError,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from loam.services.events import InvalidEventPatternError, compile_pattern
from loam.store import RecordExists
from loam.store.sql import Database

__all__ = ["EventSourceMappings", "QueueDirectory"]

PAGE_LIMIT = 100
_SCHEMA = """
CREATE TABLE IF NOT EXISTS esm_mappings (
    uuid {text_key} PRIMARY KEY,
    source_arn {text_key} NOT NULL,
    function_arn {text_key} NOT NULL,
    state TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at {real} NOT NULL,
    document TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS esm_mappings_pair ON esm_mappings (source_arn, function_arn);
"""
_COLUMNS = "document"


class QueueDirectory(Protocol):
    """What the control plane needs of SQS: does the queue exist (its URL, or None)."""

    def queue_url_of(self, arn: str) -> str | None: ...


class EventSourceMappings:
    def __init__(self, database: Database, functions: FunctionService, clock: Clock,
                 arns: Arns, sqs: QueueDirectory) -> None:
        self.database = database
        self.functions = functions
        self.clock = clock
        self.arns = arns
        self.sqs = sqs
        self._listeners: list[Callable[[], None]] = []
        database.schema(_SCHEMA)

    # -- change notification ---------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from whichever thread wrote) after every committed change."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    # -- the API ---------------------------------------------------------------

    def create(self, p: dict[str, Any]) -> dict[str, Any]:
        source_arn: str = p.get("EventSourceArn") or ""
        _check_sqs_arn(source_arn)
        batch_size = p.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)
        window = p.get("MaximumBatchingWindowInSeconds", 0)
        _check_batching(source_arn, batch_size, window)
        filters = _filters(p.get("FilterCriteria"))
        name, qualifier, function_arn = self._function(p["FunctionName"])
        self._check_queue(source_arn)
        mapping = EventSourceMapping(
            uuid=str(uuid.uuid4()), source_arn=source_arn, function_name=name,
            qualifier=qualifier, function_arn=function_arn, batch_size=batch_size,
            window_s=window, enabled=p.get("Enabled", True), state="Creating",
            last_modified=self._now(), filters=filters,
            response_types=tuple(p.get("FunctionResponseTypes") or ()),
            max_concurrency=(p.get("ScalingConfig") or {}).get("MaximumConcurrency"),
            region=self.arns.region, account_id=self.arns.account_id,
        )
        try:
            self.database.execute(
                "INSERT INTO esm_mappings (uuid, source_arn, function_arn, state, revision, "
                "created_at, document) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (mapping.uuid, source_arn, function_arn, mapping.state, mapping.revision,
                 self.clock.time(), mapping.to_json()),
            )
        except RecordExists:
            raise self._conflict(source_arn, function_arn, name) from None
        self._changed()
        return mapping.describe()

    def get(self, mapping_uuid: str) -> dict[str, Any]:
        return self.load(mapping_uuid).describe()

    def update(self, p: dict[str, Any]) -> dict[str, Any]:
        current = self.load(p["UUID"])
        if current.state not in STABLE_STATES:
            raise ResourceInUseException(
                "Cannot update the event source mapping because it is in use."
            )
        changes: dict[str, Any] = {}
        if "FunctionName" in p:
            name, qualifier, function_arn = self._function(p["FunctionName"])
            changes.update(function_name=name, qualifier=qualifier, function_arn=function_arn)
        if "BatchSize" in p:
            changes["batch_size"] = p["BatchSize"]
        if "MaximumBatchingWindowInSeconds" in p:
            changes["window_s"] = p["MaximumBatchingWindowInSeconds"]
        _check_batching(current.source_arn, changes.get("batch_size", current.batch_size),
                        changes.get("window_s", current.window_s))
        if "FilterCriteria" in p:
            changes["filters"] = _filters(p["FilterCriteria"])
        if "FunctionResponseTypes" in p:
            changes["response_types"] = tuple(p["FunctionResponseTypes"] or ())
        if "ScalingConfig" in p:
            changes["max_concurrency"] = (p["ScalingConfig"] or {}).get("MaximumConcurrency")
        enabled = p.get("Enabled")
        if enabled is not None:
            changes["enabled"] = enabled
        updated = current.evolve(state=state_after_update(current, enabled),
                                 last_modified=self._now(), **changes)
        try:
            self._swap(current, updated)
        except RecordExists:
            raise self._conflict(updated.source_arn, updated.function_arn,
                                 updated.function_name) from None
        self._changed()
        return updated.describe()

    def delete(self, mapping_uuid: str) -> dict[str, Any]:
        current = self.load(mapping_uuid)
        if current.state not in STABLE_STATES:
            raise ResourceInUseException(
                "Cannot delete the event source mapping because it is in use."
            )
        deleting = current.evolve(state="Deleting", last_modified=self._now())
        self._swap(current, deleting)
        self._changed()
        return deleting.describe()

    def list_mappings(self, source_arn: str | None, function_name: str | None, marker: str | None,
             max_items: int | None) -> dict[str, Any]:
        mappings = self.all_mappings()
        if source_arn is not None:
            mappings = [m for m in mappings if m.source_arn == source_arn]
        if function_name is not None:
            ref = parse_function_name(function_name)
            wanted = self.arns.function(ref.name, ref.qualifier)
            mappings = [m for m in mappings if m.function_arn == wanted]
        described = [m.describe() for m in mappings]
        return page_of(described, "EventSourceMappings", marker, max_items, PAGE_LIMIT)

    # -- for the event source --------------------------------------------------

    def load(self, mapping_uuid: str) -> EventSourceMapping:
        rows = self.database.execute(
            f"SELECT {_COLUMNS} FROM esm_mappings WHERE uuid = ?", (mapping_uuid,)
        )
        if not rows:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        return EventSourceMapping.from_json(rows[0][0])

    def all_mappings(self) -> list[EventSourceMapping]:
        rows = self.database.execute(
            f"SELECT {_COLUMNS} FROM esm_mappings ORDER BY created_at, uuid"
        )
        return [EventSourceMapping.from_json(row[0]) for row in rows]

    def settle_all(self) -> list[EventSourceMapping]:
        """Finish every transition (Creating → Enabled, Deleting → gone, …); the
        mappings that remain, as they now are."""
        out: list[EventSourceMapping] = []
        changed = False
        for mapping in self.all_mappings():
            after = settled(mapping)
            if after is mapping:
                out.append(mapping)
                continue
            changed = True
            with contextlib.suppress(_Stale):
                if after is None:
                    self._remove(mapping)
                else:
                    self._swap(mapping, after)
                    out.append(after)
        if changed:
            self._changed()
        return out

    # -- helpers ---------------------------------------------------------------

    def _now(self) -> float:
        return round(self.clock.time(), 3)

    def _function(self, function_name: str) -> tuple[str, str | None, str]:
        """The function's name, the qualifier it was named with and its (qualified) ARN;
        ResourceNotFoundException when it (or that version / alias) does not exist."""
        fn = self.functions.resolve(function_name)
        qualifier = parse_function_name(function_name).qualifier
        return fn.name, qualifier, self.arns.function(fn.name, qualifier)

    def _check_queue(self, source_arn: str) -> None:
        if self.sqs.queue_url_of(source_arn) is None:
            raise InvalidParameterValueException(
                "Error occurred while ReceiveMessage. SQS Error Code: "
                "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The specified "
                "queue does not exist or you do not have access to it."
            )

    def _conflict(self, source_arn: str, function_arn: str,
                  name: str) -> ResourceConflictException:
        rows = self.database.execute(
            "SELECT uuid FROM esm_mappings WHERE source_arn = ? AND function_arn = ?",
            (source_arn, function_arn),
        )
        existing = rows[0][0] if rows else ""
        return ResourceConflictException(
            f'An event source mapping with SQS arn (" {source_arn} ") and function '
            f'(" {name} ") already exists. Please update or delete the existing mapping '
            f"with UUID {existing}"
        )

    def _swap(self, old: EventSourceMapping, new: EventSourceMapping) -> None:
        changed = self.database.rowcount(
            "UPDATE esm_mappings SET function_arn = ?, state = ?, revision = ?, document = ? "
            "WHERE uuid = ? AND revision = ?",
            (new.function_arn, new.state, new.revision, new.to_json(), old.uuid, old.revision),
        )
        if changed != 1:
            raise _Stale(old.uuid)

    def _remove(self, mapping: EventSourceMapping) -> None:
        changed = self.database.rowcount(
            "DELETE FROM esm_mappings WHERE uuid = ? AND revision = ?",
            (mapping.uuid, mapping.revision),
        )
        if changed != 1:
            raise _Stale(mapping.uuid)


class _Stale(LoamError):
    """A concurrent write changed the mapping first (another node settled it)."""


def _check_sqs_arn(arn: str) -> None:
    parts = arn.split(":")
    if len(parts) != 6 or parts[2] != "sqs" or not parts[5]:
        raise InvalidParameterValueException(
            f"Unsupported event source: {arn}. loam supports Amazon SQS queues only."
        )


def _check_batching(source_arn: str, batch_size: int, window: int) -> None:
    if batch_size > 10 and window == 0:
        raise InvalidParameterValueException(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
            "greater than 10"
        )
    if source_arn.endswith(".fifo") and window > 0:
        raise InvalidParameterValueException("Batching window is not supported for FIFO queues")


def _filters(criteria: dict[str, Any] | None) -> tuple[str, ...]:
    """The patterns of FilterCriteria, each checked as Lambda checks it."""
    patterns: list[str] = []
    for entry in (criteria or {}).get("Filters") or ():
        pattern = entry.get("Pattern")
        if not pattern:
            raise InvalidParameterValueException("Invalid filter pattern definition.")
        try:
            compile_pattern(pattern)
        except InvalidEventPatternError:
            raise InvalidParameterValueException("Invalid filter pattern definition.") from None
        patterns.append(pattern)
    return tuple(patterns)
