"""The event source mapping as stored, its AWS shape, and its state machine.

States, as AWS reports them for an SQS mapping:

    Create  ──> Creating ──┬─> Enabled   (Enabled was true or omitted)
                           └─> Disabled  (Enabled=false)
    Update  ──> Enabling  ───> Enabled   (Enabled=true on a disabled mapping)
            ──> Disabling ───> Disabled  (Enabled=false on an enabled mapping)
            ──> Updating  ───> Enabled / Disabled (as it was)
    Delete  ──> Deleting  ───> (gone)

Only ``Enabled`` and ``Disabled`` accept an update or a delete; the others
are transitional and settle through ``settled`` (the event source's
supervisor applies it within moments of the change). ``settled`` is the one
place that knows where each state leads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from typing import Any

__all__ = [
    "DEFAULT_SQS_BATCH_SIZE",
    "STABLE_STATES",
    "EventSourceMapping",
    "settled",
    "state_after_update",
]

DEFAULT_SQS_BATCH_SIZE = 10
STABLE_STATES = frozenset({"Enabled", "Disabled"})
# Where each transitional state leads once the change is applied: None means
# "whichever of Enabled / Disabled the mapping asks for", "" means deleted.
_SETTLES_TO: dict[str, str | None] = {
    "Creating": None,
    "Enabling": "Enabled",
    "Disabling": "Disabled",
    "Updating": None,
    "Deleting": "",
}


@dataclass(frozen=True)
class EventSourceMapping:
    """One SQS event source mapping.

    ``function_arn`` is qualified when the mapping names a version or alias
    (``qualifier``); ``filters`` are the FilterCriteria patterns as given
    (JSON text), each already validated; ``revision`` changes with every
    write and guards compare-and-swap updates.
    """

    uuid: str
    source_arn: str
    function_name: str
    qualifier: str | None
    function_arn: str
    batch_size: int
    window_s: int
    enabled: bool
    state: str
    last_modified: float
    filters: tuple[str, ...] = ()
    response_types: tuple[str, ...] = ()
    max_concurrency: int | None = None
    region: str = "us-east-1"
    account_id: str = "123456789012"
    revision: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:event-source-mapping:{self.uuid}"

    @property
    def fifo(self) -> bool:
        return self.source_arn.endswith(".fifo")

    @property
    def reports_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.response_types

    def evolve(self, **changes: Any) -> EventSourceMapping:
        return replace(self, revision=self.revision + 1, **changes)

    def describe(self) -> dict[str, Any]:
        """The ``EventSourceMappingConfiguration`` AWS returns for an SQS mapping.

        AWS leaves out ``LastProcessingResult`` for SQS mappings (it reports
        it for streams only), and ``FilterCriteria`` / ``ScalingConfig`` when
        they are not set; ``FunctionResponseTypes`` is always there.
        """
        out: dict[str, Any] = {
            "UUID": self.uuid,
            "BatchSize": self.batch_size,
            "MaximumBatchingWindowInSeconds": self.window_s,
            "EventSourceArn": self.source_arn,
            "FunctionArn": self.function_arn,
            "LastModified": self.last_modified,
            "State": self.state,
            "StateTransitionReason": "USER_INITIATED",
            "FunctionResponseTypes": list(self.response_types),
            "EventSourceMappingArn": self.arn,
        }
        if self.filters:
            out["FilterCriteria"] = {"Filters": [{"Pattern": p} for p in self.filters]}
        if self.max_concurrency is not None:
            out["ScalingConfig"] = {"MaximumConcurrency": self.max_concurrency}
        return out

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> EventSourceMapping:
        doc = json.loads(text)
        doc["filters"] = tuple(doc.get("filters", ()))
        doc["response_types"] = tuple(doc.get("response_types", ()))
        return cls(**doc)


def settled(mapping: EventSourceMapping) -> EventSourceMapping | None:
    """The mapping once its transition is done: itself when stable, None when deleted."""
    if mapping.state in STABLE_STATES:
        return mapping
    target = _SETTLES_TO[mapping.state]
    if target == "":
        return None
    if target is None:
        target = "Enabled" if mapping.enabled else "Disabled"
    return mapping.evolve(state=target)


def state_after_update(mapping: EventSourceMapping, enabled: bool | None) -> str:
    """The transitional state an UpdateEventSourceMapping puts a stable mapping in."""
    if enabled is True and mapping.state == "Disabled":
        return "Enabling"
    if enabled is False and mapping.state == "Enabled":
        return "Disabling"
    return "Updating"
