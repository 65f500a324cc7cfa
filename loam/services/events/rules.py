"""Rule operations: PutRule, DescribeRule, ListRules, DeleteRule, EnableRule,
DisableRule, ListRuleNamesByTarget.

``PutRule`` creates or replaces: members it omits are cleared, as AWS
documents, and tags apply only to a new rule. A rule needs an event pattern
or a schedule expression (both are validated with AWS's messages), and a
schedule only on the default bus. A rule's schedule horizon restarts when
its expression changes or it is enabled (see ``scheduler.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.events.errors import (
    InvalidEventPatternException,
    ValidationException,
    bus_not_found,
    rule_not_found,
)
from loam.services.events.models import DEFAULT_BUS, Arns, Rule
from loam.services.events.paging import DEFAULT_LIMIT, after_token, page
from loam.services.events.patterns import InvalidEventPatternError
from loam.services.events.patterns import compile as compile_pattern
from loam.services.events.schedule import ScheduleError
from loam.services.events.schedule import parse as parse_schedule
from loam.services.events.store import EventsStore

__all__ = ["RuleOperations"]


class RuleOperations:
    def __init__(self, store: EventsStore, arns: Arns, clock: Clock,
                 on_change: Callable[[], None]) -> None:
        self.store = store
        self.arns = arns
        self.clock = clock
        self.on_change = on_change  # wakes the scheduler

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutRule": self.put_rule,
            "DescribeRule": self.describe_rule,
            "ListRules": self.list_rules,
            "DeleteRule": self.delete_rule,
            "EnableRule": self.enable_rule,
            "DisableRule": self.disable_rule,
            "ListRuleNamesByTarget": self.list_rule_names_by_target,
        }

    def _require_bus(self, bus: str) -> None:
        if self.store.bus(bus) is None:
            raise bus_not_found(bus)

    def rule_doc(self, rule: Rule) -> dict[str, Any]:
        doc: dict[str, Any] = {"Name": rule.name, "Arn": self.arns.rule(rule.bus, rule.name),
                               "State": rule.state, "EventBusName": rule.bus}
        for key, value in (("EventPattern", rule.event_pattern),
                           ("ScheduleExpression", rule.schedule_expression),
                           ("Description", rule.description), ("RoleArn", rule.role_arn)):
            if value is not None:
                doc[key] = value
        return doc

    async def put_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        bus = Arns.bus_name(params.get("EventBusName"))
        pattern: str | None = params.get("EventPattern") or None
        expression: str | None = params.get("ScheduleExpression") or None
        if pattern is None and expression is None:
            raise ValidationException(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.")
        if expression is not None:
            if bus != DEFAULT_BUS:
                raise ValidationException(
                    "ScheduleExpression is supported only on the default event bus.")
            try:
                parse_schedule(expression)
            except ScheduleError as exc:
                raise ValidationException(exc.message) from None
        if pattern is not None:
            try:
                compile_pattern(pattern)
            except InvalidEventPatternError as exc:
                raise InvalidEventPatternException(exc.message) from None
        now = self.clock.time()
        arn = self.arns.rule(bus, name)
        tags = [(arn, t["Key"], t["Value"]) for t in params.get("Tags") or ()]

        def put() -> None:
            self._require_bus(bus)
            old = self.store.rule(bus, name)
            state = params.get("State") or "ENABLED"
            anchor = fired = None
            if expression is not None:
                keep = (old is not None and old.schedule_expression == expression
                        and old.enabled and old.fired_until is not None)
                anchor = old.schedule_anchor if keep and old else now
                fired = old.fired_until if keep and old else now
            rule = Rule(bus, name, pattern, expression, state, params.get("Description"),
                        params.get("RoleArn"), old.created if old else now, anchor, fired)
            self.store.put_rule(rule, tags)

        await asyncio.to_thread(put)
        self.on_change()
        return {"RuleArn": arn}

    async def describe_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        bus = Arns.bus_name(params.get("EventBusName"))

        def describe() -> Rule:
            self._require_bus(bus)
            rule = self.store.rule(bus, name)
            if rule is None:
                raise rule_not_found(name, bus)
            return rule

        rule = await asyncio.to_thread(describe)
        doc = self.rule_doc(rule)
        doc["CreatedBy"] = self.arns.account_id
        return doc

    async def list_rules(self, params: dict[str, Any]) -> dict[str, Any]:
        bus = Arns.bus_name(params.get("EventBusName"))
        limit = params.get("Limit") or DEFAULT_LIMIT

        def listing() -> list[Rule]:
            self._require_bus(bus)
            return self.store.rules(bus, params.get("NamePrefix") or "", after_token(params),
                                    limit + 1)

        rules = await asyncio.to_thread(listing)
        out: dict[str, Any] = {"Rules": [self.rule_doc(r) for r in rules[:limit]]}
        token = page([r.name for r in rules], limit)
        if token:
            out["NextToken"] = token
        return out

    async def delete_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        name: str = params["Name"]
        bus = Arns.bus_name(params.get("EventBusName"))

        def delete() -> bool:
            self._require_bus(bus)
            if self.store.rule(bus, name) is None:
                return True  # deleting a rule that does not exist succeeds, as in AWS
            return self.store.delete_rule(bus, name, self.arns.rule(bus, name),
                                          bool(params.get("Force")))

        if not await asyncio.to_thread(delete):
            raise ValidationException("Rule can't be deleted since it has targets.")
        self.on_change()
        return {}

    async def _set_state(self, params: dict[str, Any], state: str) -> dict[str, Any]:
        name: str = params["Name"]
        bus = Arns.bus_name(params.get("EventBusName"))

        def update() -> None:
            self._require_bus(bus)
            rule = self.store.rule(bus, name)
            if rule is None:
                raise rule_not_found(name, bus)
            restart = state == "ENABLED" and not rule.enabled and rule.schedule_expression
            self.store.set_state(bus, name, state, self.clock.time() if restart else None)

        await asyncio.to_thread(update)
        self.on_change()
        return {}

    async def enable_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._set_state(params, "ENABLED")

    async def disable_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self._set_state(params, "DISABLED")

    async def list_rule_names_by_target(self, params: dict[str, Any]) -> dict[str, Any]:
        bus = Arns.bus_name(params.get("EventBusName"))
        limit = params.get("Limit") or DEFAULT_LIMIT

        def listing() -> list[str]:
            self._require_bus(bus)
            return self.store.rule_names_by_target(bus, params["TargetArn"],
                                                   after_token(params), limit + 1)

        names = await asyncio.to_thread(listing)
        out: dict[str, Any] = {"RuleNames": names[:limit]}
        token = page(names, limit)
        if token:
            out["NextToken"] = token
        return out
