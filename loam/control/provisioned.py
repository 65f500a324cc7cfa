"""Provisioned concurrency: Put / Get / Delete / ListProvisionedConcurrencyConfig(s).

The configuration (qualifier → requested environments) is part of the
function's ``$LATEST`` document, like a reservation, and leaves its RevisionId
unchanged. What has been allocated is not stored: the engine reports it
(``ProvisionedStatus``), because it is a fact about live environments.

Invariants, as AWS:
- only a published version or an alias carries a configuration, never
  ``$LATEST``; a version and an alias pointing at it cannot both carry one;
- a function with reserved concurrency provisions at most that much in all;
  otherwise the account keeps ``MIN_UNRESERVED`` unreserved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loam.clock import Clock
from loam.control.concurrency import MIN_UNRESERVED
from loam.control.functions import FunctionService
from loam.control.models import Alias, FunctionState, aws_timestamp
from loam.control.names import FunctionRef, parse_function_name
from loam.control.paging import page_of
from loam.errors import (
    InvalidParameterValueException,
    ProvisionedConcurrencyConfigNotFoundException,
    ResourceConflictException,
    ResourceNotFoundException,
)

__all__ = ["ProvisionedConcurrency", "ProvisionedStatus", "provisioned_targets"]

_PAGE = 50


@dataclass(frozen=True)
class ProvisionedStatus:
    """What the engine has made of one configuration."""

    allocated: int
    status: str = "IN_PROGRESS"  # IN_PROGRESS | READY | FAILED
    reason: str | None = None


# (function name, version) → the engine's status for it.
StatusSource = Callable[[str, str], ProvisionedStatus | None]


class ProvisionedConcurrency:
    def __init__(self, functions: FunctionService, clock: Clock,
                 status: StatusSource = lambda name, version: None,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.functions = functions
        self.clock = clock
        self.status = status
        self.on_change = on_change

    # -- API -----------------------------------------------------------------

    def put(self, function_name: str, qualifier: str | None, requested: int) -> dict[str, Any]:
        ref = parse_function_name(function_name, qualifier)
        if ref.qualifier in (None, "$LATEST"):
            raise InvalidParameterValueException(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        qualifier = ref.qualifier
        assert qualifier is not None
        now = aws_timestamp(self.clock.time())

        def configure(latest: FunctionState) -> FunctionState:
            target = self._target(ref)
            self._check_exclusive(latest, qualifier, target)
            self._check_limits(latest, qualifier, requested)
            return latest.evolve(provisioned={**latest.provisioned, qualifier: (requested, now)})

        self.functions.change_latest(ref.name, configure)
        self.on_change()
        return {
            "RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": 0,
            "AllocatedProvisionedConcurrentExecutions": 0,
            "Status": "IN_PROGRESS",
            "LastModified": now,
        }

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        ref = self._qualified(function_name, qualifier)
        target = self._target(ref)
        latest = self.functions.resolve(ref.name)
        assert ref.qualifier is not None
        config = latest.provisioned.get(ref.qualifier)
        if config is None:
            raise ProvisionedConcurrencyConfigNotFoundException(
                "No Provisioned Concurrency Config found for this function"
            )
        return self._describe(ref.name, target, config)

    def delete(self, function_name: str, qualifier: str | None) -> None:
        ref = self._qualified(function_name, qualifier)
        self._target(ref)
        qualifier = ref.qualifier

        def remove(latest: FunctionState) -> FunctionState:
            if qualifier not in latest.provisioned:
                raise ProvisionedConcurrencyConfigNotFoundException(
                    "No Provisioned Concurrency Config found for this function"
                )
            return latest.evolve(provisioned={q: c for q, c in latest.provisioned.items()
                                              if q != qualifier})

        self.functions.change_latest(ref.name, remove)
        self.on_change()

    def list(self, function_name: str, marker: str | None,
             max_items: int | None) -> dict[str, Any]:
        ref = parse_function_name(function_name)
        latest = self.functions.resolve(ref.name)
        items = []
        for qualifier, config in sorted(latest.provisioned.items()):
            try:
                target = self._target(FunctionRef(ref.name, qualifier))
            except ResourceNotFoundException:
                continue  # its version or alias was deleted since
            doc = self._describe(ref.name, target, config)
            items.append({"FunctionArn": self.functions.arns.function(ref.name, qualifier), **doc})
        return page_of(items, "ProvisionedConcurrencyConfigs", marker, max_items, _PAGE)

    # -- helpers -------------------------------------------------------------

    def _qualified(self, function_name: str, qualifier: str | None) -> FunctionRef:
        ref = parse_function_name(function_name, qualifier)
        if ref.qualifier in (None, "$LATEST"):
            raise InvalidParameterValueException(
                "The function resource provided must be an alias or a published version."
            )
        return ref

    def _target(self, ref: FunctionRef) -> str:
        """The version a qualifier provisions; ResourceNotFoundException if it is gone."""
        assert ref.qualifier is not None
        if not ref.qualifier.isdigit():
            record = self.functions.store.get_alias(ref.name, ref.qualifier)
            if record is None:
                arn = self.functions.arns.function(ref.name, ref.qualifier)
                raise ResourceNotFoundException(f"Cannot find alias arn: {arn}")
            return Alias.from_record(record).function_version
        self.functions.resolve(ref.name, ref.qualifier)
        return ref.qualifier

    def _check_exclusive(self, latest: FunctionState, qualifier: str, version: str) -> None:
        aliases = [Alias.from_record(r) for r in self.functions.store.list_aliases(latest.name)]
        if not qualifier.isdigit():
            alias = next(a for a in aliases if a.name == qualifier)
            if alias.function_version == "$LATEST":
                raise InvalidParameterValueException(
                    "Provisioned Concurrency Configs cannot be applied to unpublished function "
                    "versions."
                )
            if alias.weights:
                raise ResourceConflictException(
                    "Alias with weights can not be used with Provisioned Concurrency"
                )
            if version in latest.provisioned:
                raise ResourceConflictException(
                    "Alias can't be used for Provisioned Concurrency configuration on an already "
                    "Provisioned version"
                )
            return
        if any(a.function_version == qualifier and a.name in latest.provisioned for a in aliases):
            raise ResourceConflictException("Version is pointed by a Provisioned Concurrency alias")

    def _check_limits(self, latest: FunctionState, qualifier: str, requested: int) -> None:
        others = sum(n for q, (n, _) in latest.provisioned.items() if q != qualifier)
        if latest.reserved_concurrency is not None:
            if others + requested > latest.reserved_concurrency:
                raise InvalidParameterValueException(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
            return
        limit = self.functions.account_concurrency
        committed = self.functions.reserved_total(excluding=latest.name)
        if limit - committed - others - requested < MIN_UNRESERVED:
            raise InvalidParameterValueException(
                "Specified ConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )

    def _describe(self, name: str, version: str, config: tuple[int, str]) -> dict[str, Any]:
        requested, modified = config
        state = self.status(name, version) or ProvisionedStatus(0)
        allocated = min(state.allocated, requested)
        doc: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": state.status,
            "LastModified": modified,
        }
        if state.reason:
            doc["StatusReason"] = state.reason
        return doc



def provisioned_targets(functions: FunctionService) -> dict[tuple[str, str], int]:
    """(function, version) → environments to keep initialised, from every configuration.

    An alias's configuration provisions the version it points at (as AWS); a
    configuration whose version or alias is gone provisions nothing.
    """
    targets: dict[tuple[str, str], int] = {}
    for latest in functions.all_functions():
        if not latest.provisioned:
            continue
        aliases = {a.name: a for a in map(Alias.from_record,
                                           functions.store.list_aliases(latest.name))}
        for qualifier, (requested, _) in latest.provisioned.items():
            if qualifier.isdigit():
                version: str | None = qualifier
            else:
                alias = aliases.get(qualifier)
                version = alias.function_version if alias is not None else None
            if version is None or version == "$LATEST":
                continue
            if functions.store.get_function(latest.name, version) is None:
                continue
            key = (latest.name, version)
            targets[key] = targets.get(key, 0) + requested
    return targets
