"""Target operations: PutTargets, RemoveTargets, ListTargetsByRule.

A rule has at most five targets (``LimitExceededException`` beyond, as AWS).
A target is kept exactly as given, so ``ListTargetsByRule`` reports every
member back (``Input``…, ``SqsParameters``, ``DeadLetterConfig``,
``RetryPolicy``). Input members are validated with AWS's messages; a target
whose ARN is malformed, or a FIFO queue without ``SqsParameters``, fails as
its own entry (``FailedEntries``) while the others are put.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from loam.clock import Clock
from loam.services.base import Handler
from loam.services.events.errors import LimitExceededException, bus_not_found, rule_not_found
from loam.services.events.models import Arns, Target
from loam.services.events.paging import DEFAULT_LIMIT, after_token, page
from loam.services.events.store import EventsStore, TargetLimitExceeded
from loam.services.events.transform import validate_target

__all__ = ["MAX_TARGETS_PER_RULE", "TargetOperations"]

MAX_TARGETS_PER_RULE = 5
_ARN = re.compile(r"arn:aws[\w-]*:[a-z0-9-]+:[a-z0-9-]*:(?:[0-9]{12})?:.+")


def _entry_failure(target: dict[str, Any]) -> dict[str, str] | None:
    arn: str = target["Arn"]
    if _ARN.fullmatch(arn) is None:
        return {"TargetId": target["Id"], "ErrorCode": "ValidationException",
                "ErrorMessage": f"Parameter {arn} is not valid. "
                                "Reason: Provided Arn is not in correct format."}
    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
    if ":sqs:" in arn and arn.endswith(".fifo") and not group:
        return {"TargetId": target["Id"], "ErrorCode": "ValidationException",
                "ErrorMessage": "Parameter(s) SqsParameters must be specified for target: "
                                f"{target['Id']}."}
    return None


class TargetOperations:
    def __init__(self, store: EventsStore, arns: Arns, clock: Clock) -> None:
        self.store = store
        self.arns = arns
        self.clock = clock

    def handlers(self) -> dict[str, Handler]:
        return {
            "PutTargets": self.put_targets,
            "RemoveTargets": self.remove_targets,
            "ListTargetsByRule": self.list_targets_by_rule,
        }

    def _require_rule(self, bus: str, name: str) -> None:
        if self.store.bus(bus) is None:
            raise bus_not_found(bus)
        if self.store.rule(bus, name) is None:
            raise rule_not_found(name, bus)

    async def put_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        rule: str = params["Rule"]
        bus = Arns.bus_name(params.get("EventBusName"))
        for target in params["Targets"]:
            validate_target(target)
        failed: list[dict[str, str]] = []
        good: list[Target] = []
        for target in params["Targets"]:
            failure = _entry_failure(target)
            if failure is not None:
                failed.append(failure)
            else:
                good.append(Target(target["Id"], target["Arn"], dict(target)))

        def put() -> None:
            self._require_rule(bus, rule)
            self.store.put_targets(bus, rule, good, MAX_TARGETS_PER_RULE)

        try:
            await asyncio.to_thread(put)
        except TargetLimitExceeded:
            raise LimitExceededException(
                "The requested resource exceeds the maximum number allowed.") from None
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def remove_targets(self, params: dict[str, Any]) -> dict[str, Any]:
        rule: str = params["Rule"]
        bus = Arns.bus_name(params.get("EventBusName"))

        def remove() -> list[str]:
            self._require_rule(bus, rule)
            return self.store.remove_targets(bus, rule, params["Ids"])

        missing = await asyncio.to_thread(remove)
        failed = [{"TargetId": target_id, "ErrorCode": "ResourceNotFoundException",
                   "ErrorMessage": f"Rule '{rule}' does not have a target with the Id "
                                   f"'{target_id}'."} for target_id in missing]
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    async def list_targets_by_rule(self, params: dict[str, Any]) -> dict[str, Any]:
        rule: str = params["Rule"]
        bus = Arns.bus_name(params.get("EventBusName"))
        limit = params.get("Limit") or DEFAULT_LIMIT
        after = after_token(params)

        def listing() -> list[Target]:
            self._require_rule(bus, rule)
            return [t for t in self.store.targets(bus, rule) if t.id > after]

        targets = await asyncio.to_thread(listing)
        out: dict[str, Any] = {"Targets": [dict(t.document) for t in targets[:limit]]}
        token = page([t.id for t in targets], limit)
        if token:
            out["NextToken"] = token
        return out
