"""CloudWatch's errors: the model's error shapes, with their awsQuery codes."""

from __future__ import annotations

from loam.services.base import ServiceError

__all__ = ["InvalidNextToken", "InvalidParameterCombination", "InvalidParameterValue",
           "MissingParameter"]


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValueException"
    query_code = "InvalidParameterValue"


class MissingParameter(ServiceError):
    code = "MissingRequiredParameterException"
    query_code = "MissingParameter"


class InvalidParameterCombination(ServiceError):
    code = "InvalidParameterCombinationException"
    query_code = "InvalidParameterCombination"


class InvalidNextToken(ServiceError):
    code = "InvalidNextToken"
