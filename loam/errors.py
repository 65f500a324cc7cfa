"""The one error tree of loam.

Every error a client can see is a ``LoamError``. Subclasses carry the AWS
error code (``code``), the HTTP status (``status``) and the casing of the
message key in the JSON body (``message_key``), as the Lambda service model
declares them, so botocore raises the matching exception class.

    LoamError (ServiceException, 500)
    ├── ValidationException (400)            model constraint violations
    ├── InvalidParameterValueException (400) Lambda rules beyond the model
    ├── InvalidRequestContentException (400) body is not valid JSON
    ├── UnsupportedMediaTypeException (415)
    ├── ResourceNotFoundException (404)
    ├── ResourceConflictException (409)
    ├── ResourceInUseException (400)          an event source mapping in transition
    ├── PreconditionFailedException (412)
    ├── RequestTooLargeException (413)
    ├── RequestEntityTooLargeException (413)  what AWS sends for oversized bodies
    ├── TooManyRequestsException (429)
    ├── RecursiveInvocationException (400)   a recursive loop was stopped
    ├── UnrecognizedClientException (403)
    ├── InvalidSignatureException (403)
    └── SandboxUnavailable (500, ServiceException) the host cannot isolate

Driver and OS errors are translated at the boundary that meets them
(``raise ... from exc``); nothing else escapes to a client.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "InvalidParameterValueException",
    "InvalidRequestContentException",
    "InvalidSignatureException",
    "LoamError",
    "PreconditionFailedException",
    "ProvisionedConcurrencyConfigNotFoundException",
    "RecursiveInvocationException",
    "RequestEntityTooLargeException",
    "RequestTooLargeException",
    "ResourceConflictException",
    "ResourceInUseException",
    "ResourceNotFoundException",
    "SandboxUnavailable",
    "TooManyRequestsException",
    "UnrecognizedClientException",
    "UnsupportedMediaTypeException",
    "ValidationException",
]


class LoamError(Exception):
    """Root of every client-visible error; by itself an AWS ServiceException."""

    code: ClassVar[str] = "ServiceException"
    status: ClassVar[int] = 500
    message_key: ClassVar[str] = "Message"
    error_type: ClassVar[str] = "Service"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Type": self.error_type, self.message_key: self.message}
        doc.update(self.extra)
        return doc

    def headers(self) -> dict[str, str]:
        return {}


class _UserError(LoamError):
    error_type = "User"
    message_key = "message"


class ValidationException(_UserError):
    code = "ValidationException"
    status = 400

    @classmethod
    def from_violations(cls, violations: list[str]) -> ValidationException:
        count = len(violations)
        noun = "error" if count == 1 else "errors"
        return cls(f"{count} validation {noun} detected: " + "; ".join(violations))


class InvalidParameterValueException(_UserError):
    code = "InvalidParameterValueException"
    status = 400


class InvalidRequestContentException(_UserError):
    code = "InvalidRequestContentException"
    status = 400


class UnsupportedMediaTypeException(_UserError):
    code = "UnsupportedMediaTypeException"
    status = 415


class ResourceNotFoundException(_UserError):
    code = "ResourceNotFoundException"
    status = 404
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(_UserError):
    code = "ProvisionedConcurrencyConfigNotFoundException"
    status = 404


class ResourceConflictException(_UserError):
    code = "ResourceConflictException"
    status = 409


class PreconditionFailedException(_UserError):
    code = "PreconditionFailedException"
    status = 412

    @classmethod
    def stale_revision(cls, read_api: str = "GetFunction/GetAlias") -> PreconditionFailedException:
        """AWS's answer to a RevisionId that is not the latest one."""
        return cls(
            "The Revision Id provided does not match the latest Revision Id. Call the "
            f"{read_api} API to retrieve the latest Revision Id"
        )


class RequestTooLargeException(_UserError):
    code = "RequestTooLargeException"
    status = 413


class RequestEntityTooLargeException(_UserError):
    code = "RequestEntityTooLargeException"
    status = 413


class TooManyRequestsException(_UserError):
    code = "TooManyRequestsException"
    status = 429

    def __init__(self, message: str, *, reason: str, retry_after: int = 1) -> None:
        super().__init__(message, Reason=reason)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ResourceInUseException(_UserError):
    code = "ResourceInUseException"
    status = 400
    message_key = "Message"


class RecursiveInvocationException(_UserError):
    code = "RecursiveInvocationException"
    status = 400
    message_key = "Message"


class UnrecognizedClientException(_UserError):
    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(_UserError):
    code = "InvalidSignatureException"
    status = 403


class SandboxUnavailable(LoamError):
    """The host lacks something essential for isolation; says what."""
