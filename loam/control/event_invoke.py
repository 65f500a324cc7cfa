"""Asynchronous-invocation settings: the FunctionEventInvokeConfig API and
Put / GetFunctionRecursionConfig.

Each qualifier (``$LATEST``, a version or an alias; unqualified means
``$LATEST``) has its own settings, kept on the function's ``$LATEST``
document like a reservation, so writing them leaves the RevisionId unchanged.
An invocation uses the settings of the qualifier it was made through, with no
fallback to another qualifier's; what is not set takes AWS's default (two
retries, six hours, no destinations).

Rules, as AWS answers them:
- Put replaces all four settings; Update changes only those named in the
  request (a ``DestinationConfig`` member present without a ``Destination``
  clears that destination) and needs an existing configuration;
- a request naming no setting at all is refused before anything is looked up;
- a destination is a function, SQS queue, SNS topic or EventBridge bus ARN
  (an S3 bucket on failure only); a function destination must exist and must
  not be the function itself;
- settings of a version or alias that has since been deleted are not
  reported, and the next write drops them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.models import EventInvokeSettings, FunctionState
from loam.control.names import FunctionRef, parse_function_name
from loam.control.paging import page_of
from loam.errors import (
    InvalidParameterValueException,
    ResourceNotFoundException,
)

__all__ = ["EffectiveConfig", "EventInvokeConfigs", "check_destinations", "requested_settings"]

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE_S = 21_600
_PAGE = 50
_NO_SETTING = "You must specify at least one of error handling or destination setting."
_NO_FUNCTION = "The function doesn't exist."
_SUCCESS_SERVICES = frozenset({"lambda", "sqs", "sns", "events"})
_FAILURE_SERVICES = _SUCCESS_SERVICES | {"s3"}
_MEMBERS = (("OnSuccess", "on_success"), ("OnFailure", "on_failure"))


@dataclass(frozen=True)
class EffectiveConfig:
    """What the asynchronous queue applies to one invocation, defaults resolved."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_age_s: int = DEFAULT_MAX_AGE_S
    on_success: str | None = None
    on_failure: str | None = None
    dead_letter: str | None = None  # the invoked version's DeadLetterConfig target

    @classmethod
    def of(cls, settings: EventInvokeSettings | None,
           dead_letter: str | None = None) -> EffectiveConfig:
        if settings is None:
            return cls(dead_letter=dead_letter)
        return cls(
            DEFAULT_MAX_RETRIES if settings.max_retries is None else settings.max_retries,
            DEFAULT_MAX_AGE_S if settings.max_age_s is None else settings.max_age_s,
            settings.on_success,
            settings.on_failure,
            dead_letter,
        )


def requested_settings(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``EventInvokeSettings`` fields a Put / Update request names, by field name.

    A ``DestinationConfig`` member without a ``Destination`` (or with an empty
    one) names that destination as unset.
    """
    named: dict[str, Any] = {}
    if params.get("MaximumRetryAttempts") is not None:
        named["max_retries"] = params["MaximumRetryAttempts"]
    if params.get("MaximumEventAgeInSeconds") is not None:
        named["max_age_s"] = params["MaximumEventAgeInSeconds"]
    destinations = params.get("DestinationConfig")
    if destinations is not None:
        for member, attr in _MEMBERS:
            if member in destinations:
                named[attr] = destinations[member].get("Destination") or None
    return named


def check_destinations(function: str, on_success: str | None, on_failure: str | None,
                       function_exists: Callable[[str], bool]) -> None:
    """AWS's checks on destination ARNs (the model's pattern has been checked already).

    ``function_exists(arn)`` answers for a function ARN of this account and region.
    """
    invalid = False
    for arn, services in ((on_failure, _FAILURE_SERVICES), (on_success, _SUCCESS_SERVICES)):
        if not arn:
            continue
        service = arn.split(":")[2] if arn.count(":") >= 2 else ""
        if service not in services:
            invalid = True
        elif service == "lambda":
            _check_function_destination(function, arn, function_exists)
    if invalid:
        success = f"OnSuccess(destination={on_success})" if on_success else "null"
        failure = f"OnFailure(destination={on_failure})" if on_failure else "null"
        raise InvalidParameterValueException(
            f"The provided destination config DestinationConfig(onSuccess={success}, "
            f"onFailure={failure}) is invalid."
        )


def _check_function_destination(function: str, arn: str,
                                function_exists: Callable[[str], bool]) -> None:
    try:
        ref = parse_function_name(arn)
    except InvalidParameterValueException:
        ref = None
    if ref is None or not function_exists(arn):
        raise InvalidParameterValueException(f"The destination ARN {arn} is invalid.")
    if ref.name == function:
        raise InvalidParameterValueException(
            "You can't specify the function as a destination for itself."
        )


class EventInvokeConfigs:
    def __init__(self, functions: FunctionService, clock: Clock) -> None:
        self.functions = functions
        self.clock = clock

    # -- the read the asynchronous queue uses ----------------------------------

    def for_invocation(self, function_name: str, version_or_alias: str | None) -> EffectiveConfig:
        """The settings for an invocation made through ``version_or_alias``.

        Served from the node's function cache when it can be; raises
        ResourceNotFoundException if the function is gone.
        """
        ref = parse_function_name(function_name, version_or_alias)
        latest = (self.functions.resolve_cached(ref.name, None)
                  or self.functions.resolve(ref.name))
        return EffectiveConfig.of(latest.event_invoke.get(ref.qualifier or "$LATEST"),
                                  self._dead_letter(latest, ref.name, ref.qualifier))

    def _dead_letter(self, latest: FunctionState, name: str, qualifier: str | None) -> str | None:
        """The invoked version's DeadLetterConfig target (None if the qualifier is gone:
        the attempt will find that out)."""
        if qualifier in (None, "$LATEST"):
            return latest.dead_letter_target
        try:
            invoked = (self.functions.resolve_cached(name, qualifier)
                       or self.functions.resolve(name, qualifier))
        except ResourceNotFoundException:
            return None
        return invoked.dead_letter_target

    # -- FunctionEventInvokeConfig API -------------------------------------------

    def put(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._write_settings(params, merge=False)

    def update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return self._write_settings(params, merge=True)

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        ref = parse_function_name(function_name, qualifier)
        latest, key = self._configured(ref)
        return self._describe(latest.name, key, latest.event_invoke[key])

    def delete(self, function_name: str, qualifier: str | None) -> None:
        ref = parse_function_name(function_name, qualifier)
        _, key = self._configured(ref)

        def remove(latest: FunctionState) -> FunctionState:
            if key not in latest.event_invoke:
                raise self._not_configured(ref.name, key)
            live = self._live_qualifiers(latest.name)
            return latest.evolve(event_invoke={q: s for q, s in latest.event_invoke.items()
                                               if q in live and q != key})

        self.functions.change_latest(ref.name, remove)

    def list(self, function_name: str, marker: str | None,
             max_items: int | None) -> dict[str, Any]:
        name = parse_function_name(function_name).name
        latest = self._latest(name)
        live = self._live_qualifiers(name)
        items = [self._describe(name, q, s)
                 for q, s in sorted(latest.event_invoke.items(), key=lambda i: _order(i[0]))
                 if q in live]
        return page_of(items, "FunctionEventInvokeConfigs", marker, max_items, _PAGE)

    # -- FunctionRecursionConfig API ---------------------------------------------

    def put_recursion(self, function_name: str, recursive_loop: str) -> dict[str, Any]:
        name = parse_function_name(function_name).name
        self.functions.change_latest(name, lambda fn: fn.evolve(recursive_loop=recursive_loop))
        return {"RecursiveLoop": recursive_loop}

    def get_recursion(self, function_name: str) -> dict[str, Any]:
        latest = self.functions.resolve(parse_function_name(function_name).name)
        return {"RecursiveLoop": latest.recursive_loop}

    # -- helpers -------------------------------------------------------------

    def _write_settings(self, params: Mapping[str, Any], merge: bool) -> dict[str, Any]:
        if not any(params.get(k) is not None for k in
                   ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")):
            raise InvalidParameterValueException(_NO_SETTING)
        named = requested_settings(params)
        ref = parse_function_name(params["FunctionName"], params.get("Qualifier"))
        _, key = self._target(ref)

        def configure(latest: FunctionState) -> FunctionState:
            live = self._live_qualifiers(latest.name)
            if key not in live:
                raise ResourceNotFoundException(_NO_FUNCTION)
            base = latest.event_invoke.get(key) if merge else EventInvokeSettings()
            if base is None:
                raise self._not_configured(ref.name, key)
            settings = replace(base, **named, last_modified=round(self.clock.time(), 3))
            check_destinations(latest.name, settings.on_success, settings.on_failure,
                               self._function_exists)
            configs = {q: s for q, s in latest.event_invoke.items() if q in live}
            configs[key] = settings
            return latest.evolve(event_invoke=configs)

        updated = self.functions.change_latest(ref.name, configure)
        return self._describe(updated.name, key, updated.event_invoke[key])

    def _target(self, ref: FunctionRef) -> tuple[FunctionState, str]:
        """``$LATEST`` and the qualifier's key; "The function doesn't exist." if either is gone."""
        latest = self._latest(ref.name)
        key = ref.qualifier or "$LATEST"
        if key not in self._live_qualifiers(ref.name):
            raise ResourceNotFoundException(_NO_FUNCTION)
        return latest, key

    def _configured(self, ref: FunctionRef) -> tuple[FunctionState, str]:
        """Like ``_target``, for a qualifier that must have settings."""
        key = ref.qualifier or "$LATEST"
        missing = self._not_configured(ref.name, key)
        try:
            latest = self.functions.resolve(ref.name)
        except ResourceNotFoundException as exc:
            raise missing from exc
        if key not in latest.event_invoke or key not in self._live_qualifiers(ref.name):
            raise missing
        return latest, key

    def _not_configured(self, name: str, key: str) -> ResourceNotFoundException:
        arn = self.functions.arns.function(name, key)
        return ResourceNotFoundException(f"The function {arn} doesn't have an EventInvokeConfig")

    def _latest(self, name: str) -> FunctionState:
        try:
            return self.functions.resolve(name)
        except ResourceNotFoundException as exc:
            raise ResourceNotFoundException(_NO_FUNCTION) from exc

    def _live_qualifiers(self, name: str) -> set[str]:
        store = self.functions.store
        live = {record.version for record in store.list_versions(name)}
        live.update(record.name for record in store.list_aliases(name))
        return live

    def _function_exists(self, arn: str) -> bool:
        ref = parse_function_name(arn)
        if self.functions.arns.function(ref.name, ref.qualifier) != arn:
            return False  # another account or region
        try:
            self.functions.resolve(ref.name, ref.qualifier)
        except ResourceNotFoundException:
            return False
        return True

    def _describe(self, name: str, qualifier: str,
                  settings: EventInvokeSettings) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "LastModified": settings.last_modified,
            "FunctionArn": self.functions.arns.function(name, qualifier),
            "DestinationConfig": {
                "OnSuccess": _destination(settings.on_success),
                "OnFailure": _destination(settings.on_failure),
            },
        }
        if settings.max_retries is not None:
            doc["MaximumRetryAttempts"] = settings.max_retries
        if settings.max_age_s is not None:
            doc["MaximumEventAgeInSeconds"] = settings.max_age_s
        return doc



def _destination(arn: str | None) -> dict[str, str]:
    return {"Destination": arn} if arn else {}


def _order(qualifier: str) -> tuple[int, int, str]:
    """``$LATEST``, then versions by number, then aliases by name."""
    if qualifier == "$LATEST":
        return (0, 0, "")
    if qualifier.isdigit():
        return (1, int(qualifier), "")
    return (2, 0, qualifier)
