"""The apigatewayv2 service's client errors, by the names botocore's model gives them.

    ServiceError (loam.services.base)
    ├── BadRequestException (400)   a request API Gateway refuses ("… is invalid")
    ├── NotFoundException (404)     an API, route, integration, stage or authorizer
    └── ConflictException (409)     a route key or stage name already taken

API Gateway's error document is ``{"message": "…"}``.
"""

from __future__ import annotations

from loam.services.base import ServiceError

__all__ = [
    "BadRequestException",
    "ConflictException",
    "NotFoundException",
    "not_found",
]


class BadRequestException(ServiceError):
    code = "BadRequestException"


class NotFoundException(ServiceError):
    code = "NotFoundException"
    status = 404


class ConflictException(ServiceError):
    code = "ConflictException"
    status = 409


def not_found(kind: str, account_id: str, identifier: str) -> NotFoundException:
    """AWS's ``Invalid API identifier specified 123456789012:abc1234567`` and its kin
    (``Invalid Route identifier specified …``)."""
    return NotFoundException(f"Invalid {kind} identifier specified {account_id}:{identifier}")
