"""The errors a refused signature becomes, as each service answers them.

Lambda (and a function URL with AWS_IAM auth) answers with its own REST-JSON
errors; EventBridge and API Gateway with their JSON ones; SQS with the query
codes (``InvalidClientTokenId``, ``SignatureDoesNotMatch``,
``MissingAuthenticationToken``), also sent as ``x-amzn-query-error`` by its JSON
protocol. All are 403 but an incomplete signature, which is 400.
"""

from __future__ import annotations

from dataclasses import dataclass

from loam.errors import InvalidSignatureException, LoamError, UnrecognizedClientException
from loam.services.base import ServiceError

__all__ = ["AuthErrors", "errors_for"]

UNKNOWN_KEY = "The security token included in the request is invalid."
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you "
                 "provided. Check your AWS Secret Access Key and signing method. Consult the "
                 "service documentation for details.")
MISSING = "Missing Authentication Token"
SQS_MISSING = ("The request must contain either a valid (registered) AWS access key ID or "
               "X.509 certificate.")


class MissingAuthenticationTokenException(LoamError):
    code = "MissingAuthenticationTokenException"
    status = 403
    error_type = "User"
    message_key = "message"


class IncompleteSignatureException(LoamError):
    code = "IncompleteSignatureException"
    status = 400
    error_type = "User"
    message_key = "message"


class _Unrecognized(ServiceError):
    code = "UnrecognizedClientException"
    status = 403


class _InvalidSignature(ServiceError):
    code = "InvalidSignatureException"
    status = 403


class _Missing(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = 403


class _Incomplete(ServiceError):
    code = "IncompleteSignatureException"


class _SqsUnrecognized(ServiceError):
    code = "InvalidClientTokenId"
    status = 403


class _SqsInvalidSignature(ServiceError):
    code = "SignatureDoesNotMatch"
    status = 403


class _SqsMissing(ServiceError):
    code = "MissingAuthenticationToken"
    status = 403


class _SqsIncomplete(ServiceError):
    code = "IncompleteSignature"


@dataclass(frozen=True)
class AuthErrors:
    """One service's four refusals, built with AWS's messages."""

    unrecognized: type[LoamError]
    invalid_signature: type[LoamError]
    missing: type[LoamError]
    incomplete: type[LoamError]
    missing_message: str = MISSING

    def unknown_key(self) -> LoamError:
        return self.unrecognized(UNKNOWN_KEY)

    def bad_signature(self, message: str = BAD_SIGNATURE) -> LoamError:
        return self.invalid_signature(message)

    def unsigned(self) -> LoamError:
        return self.missing(self.missing_message)

    def malformed(self, message: str) -> LoamError:
        return self.incomplete(message)


_LAMBDA = AuthErrors(UnrecognizedClientException, InvalidSignatureException,
                     MissingAuthenticationTokenException, IncompleteSignatureException)
_JSON = AuthErrors(_Unrecognized, _InvalidSignature, _Missing, _Incomplete)
_SQS = AuthErrors(_SqsUnrecognized, _SqsInvalidSignature, _SqsMissing, _SqsIncomplete,
                  SQS_MISSING)


def errors_for(service: str) -> AuthErrors:
    if service in ("lambda", "lambda-url"):
        return _LAMBDA
    if service in ("sqs", "cloudwatch"):  # the awsQuery-compatible services
        return _SQS
    return _JSON
