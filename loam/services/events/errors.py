"""The events service's client errors, by the names botocore's model gives them.

    ServiceError (loam.services.base)
    ├── ValidationException (400)             AWS's rules beyond the model
    ├── InvalidEventPatternException (400)    "Event pattern is not valid. Reason: …"
    ├── ResourceNotFoundException (400)       a bus or rule that does not exist
    ├── ResourceAlreadyExistsException (400)  CreateEventBus on an existing name
    └── LimitExceededException (400)          more than five targets on a rule

EventBridge answers every client error with 400, its not-found errors too.
"""

from __future__ import annotations

from loam.services.base import ServiceError

__all__ = [
    "InvalidEventPatternException",
    "LimitExceededException",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
    "ValidationException",
    "bus_not_found",
    "rule_not_found",
]


class ValidationException(ServiceError):
    code = "ValidationException"


class InvalidEventPatternException(ServiceError):
    code = "InvalidEventPatternException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExistsException(ServiceError):
    code = "ResourceAlreadyExistsException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


def bus_not_found(bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Event bus {bus} does not exist.")


def rule_not_found(rule: str, bus: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Rule {rule} does not exist on EventBus {bus}.")
