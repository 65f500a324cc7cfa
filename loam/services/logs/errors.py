"""CloudWatch Logs' errors, with AWS's codes and messages."""

from __future__ import annotations

from loam.services.base import ServiceError

__all__ = ["InvalidParameter", "ResourceAlreadyExists", "ResourceNotFound", "group_not_found",
           "stream_not_found"]


class ResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"


class ResourceAlreadyExists(ServiceError):
    code = "ResourceAlreadyExistsException"


class InvalidParameter(ServiceError):
    code = "InvalidParameterException"


def group_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log group does not exist.")


def stream_not_found() -> ResourceNotFound:
    return ResourceNotFound("The specified log stream does not exist.")
