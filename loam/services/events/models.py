"""The events service's data: buses, rules, targets, outbox deliveries, ARNs.

Invariants:
- the bus ``default`` always exists; a rule belongs to exactly one bus;
- a rule has an event pattern, a schedule expression, or both; schedules
  live only on the default bus;
- ``Rule.fired_until`` (epoch seconds) is the horizon up to which the rule's
  schedule has been handled: every fire time at or before it was either
  enqueued in the outbox or skipped as too old, in the same transaction that
  moved the horizon.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_BUS",
    "Arns",
    "Bus",
    "Delivery",
    "EventsStatistics",
    "Rule",
    "Target",
]

DEFAULT_BUS = "default"
_ENABLED = frozenset({"ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"})


@dataclass(frozen=True, slots=True)
class Bus:
    name: str
    description: str | None
    created: float
    modified: float


@dataclass(frozen=True, slots=True)
class Rule:
    bus: str
    name: str
    event_pattern: str | None
    schedule_expression: str | None
    state: str
    description: str | None
    role_arn: str | None
    created: float
    schedule_anchor: float | None  # the phase of a rate(...) schedule
    fired_until: float | None

    @property
    def enabled(self) -> bool:
        return self.state in _ENABLED


@dataclass(frozen=True, slots=True)
class Target:
    """A rule's target exactly as ``PutTargets`` gave it (the model's ``Target``)."""

    id: str
    arn: str
    document: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row: a payload on its way to one target."""

    id: str
    target_arn: str
    payload: bytes
    target: Mapping[str, Any]
    created: float
    attempts: int


@dataclass(frozen=True, slots=True)
class EventsStatistics:
    rules: int
    events_put: int
    events_matched: int
    scheduled_fires: int
    deliveries: int
    delivery_failures: int
    deliveries_dropped: int
    outbox_pending: int


_BUS_ARN = re.compile(r"arn:aws[\w-]*:events:[a-z0-9-]+:[0-9]{12}:event-bus/(.+)")
_RULE_ARN = re.compile(r"arn:aws[\w-]*:events:[a-z0-9-]+:[0-9]{12}:rule/(.+)")


@dataclass(frozen=True, slots=True)
class Arns:
    region: str
    account_id: str

    def bus(self, name: str) -> str:
        return f"arn:aws:events:{self.region}:{self.account_id}:event-bus/{name}"

    def rule(self, bus: str, name: str) -> str:
        path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
        return f"arn:aws:events:{self.region}:{self.account_id}:rule/{path}"

    @staticmethod
    def bus_name(name_or_arn: str | None) -> str:
        """``EventBusName`` may be a name or an ARN; absent means ``default``."""
        if not name_or_arn:
            return DEFAULT_BUS
        match = _BUS_ARN.fullmatch(name_or_arn)
        return match.group(1) if match else name_or_arn

    @staticmethod
    def parse_bus(arn: str) -> str | None:
        match = _BUS_ARN.fullmatch(arn)
        return match.group(1) if match else None

    @staticmethod
    def parse_rule(arn: str) -> tuple[str, str] | None:
        """``(bus, rule)`` from a rule ARN (``rule/name`` or ``rule/bus/name``)."""
        match = _RULE_ARN.fullmatch(arn)
        if match is None:
            return None
        bus, _, name = match.group(1).rpartition("/")
        return (bus or DEFAULT_BUS), name
