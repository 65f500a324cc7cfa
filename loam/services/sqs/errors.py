"""SQS's refusals, with AWS's JSON codes and, where they differ, awsQuery codes.

    ServiceError (loam.services.base, 400, Sender)
    ├── QueueDoesNotExist            AWS.SimpleQueueService.NonExistentQueue
    ├── QueueNameExists              QueueAlreadyExists
    ├── QueueDeletedRecently         AWS.SimpleQueueService.QueueDeletedRecently
    ├── PurgeQueueInProgress         AWS.SimpleQueueService.PurgeQueueInProgress
    ├── InvalidAttributeName / InvalidAttributeValue
    ├── InvalidParameterValue / MissingParameter
    ├── InvalidMessageContents
    ├── ReceiptHandleIsInvalid
    ├── MessageNotInflight           AWS.SimpleQueueService.MessageNotInflight
    ├── UnsupportedOperation         AWS.SimpleQueueService.UnsupportedOperation
    └── the batch refusals (EmptyBatchRequest, TooManyEntriesInBatchRequest,
        BatchEntryIdsNotDistinct, InvalidBatchEntryId, BatchRequestTooLong),
        each AWS.SimpleQueueService.<name> on the query protocol

Per-entry failures of a batch are not raised: the entry's ``code`` and
message go into the response's ``Failed`` list.
"""

from __future__ import annotations

from loam.services.base import ServiceError

__all__ = [
    "BatchEntryIdsNotDistinct",
    "BatchRequestTooLong",
    "EmptyBatchRequest",
    "InvalidAttributeName",
    "InvalidAttributeValue",
    "InvalidBatchEntryId",
    "InvalidMessageContents",
    "InvalidParameterValue",
    "MessageNotInflight",
    "MissingParameter",
    "PurgeQueueInProgress",
    "QueueDeletedRecently",
    "QueueDoesNotExist",
    "QueueNameExists",
    "ReceiptHandleIsInvalid",
    "TooManyEntriesInBatchRequest",
    "UnsupportedOperation",
    "invalid_parameter",
]

_QUERY_PREFIX = "AWS.SimpleQueueService."


class QueueDoesNotExist(ServiceError):
    code = "QueueDoesNotExist"
    query_code = _QUERY_PREFIX + "NonExistentQueue"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(ServiceError):
    code = "QueueNameExists"
    query_code = "QueueAlreadyExists"


class QueueDeletedRecently(ServiceError):
    code = "QueueDeletedRecently"
    query_code = _QUERY_PREFIX + "QueueDeletedRecently"


class PurgeQueueInProgress(ServiceError):
    code = "PurgeQueueInProgress"
    query_code = _QUERY_PREFIX + "PurgeQueueInProgress"


class InvalidAttributeName(ServiceError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(ServiceError):
    code = "InvalidAttributeValue"


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValue"


class MissingParameter(ServiceError):
    code = "MissingParameter"

    @classmethod
    def named(cls, parameter: str) -> MissingParameter:
        return cls(f"The request must contain the parameter {parameter}.")


class InvalidMessageContents(ServiceError):
    code = "InvalidMessageContents"


class ReceiptHandleIsInvalid(ServiceError):
    code = "ReceiptHandleIsInvalid"

    @classmethod
    def of(cls, handle: str) -> ReceiptHandleIsInvalid:
        return cls(f'The input receipt handle "{handle}" is not a valid receipt handle.')


class MessageNotInflight(ServiceError):
    code = "MessageNotInflight"
    query_code = _QUERY_PREFIX + "MessageNotInflight"


class UnsupportedOperation(ServiceError):
    code = "UnsupportedOperation"
    query_code = _QUERY_PREFIX + "UnsupportedOperation"


class EmptyBatchRequest(ServiceError):
    code = "EmptyBatchRequest"
    query_code = _QUERY_PREFIX + "EmptyBatchRequest"


class TooManyEntriesInBatchRequest(ServiceError):
    code = "TooManyEntriesInBatchRequest"
    query_code = _QUERY_PREFIX + "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(ServiceError):
    code = "BatchEntryIdsNotDistinct"
    query_code = _QUERY_PREFIX + "BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(ServiceError):
    code = "InvalidBatchEntryId"
    query_code = _QUERY_PREFIX + "InvalidBatchEntryId"


class BatchRequestTooLong(ServiceError):
    code = "BatchRequestTooLong"
    query_code = _QUERY_PREFIX + "BatchRequestTooLong"


def invalid_parameter(name: str, value: object, reason: str) -> InvalidParameterValue:
    """AWS's usual wording for a parameter outside its range."""
    return InvalidParameterValue(f"Value {value} for parameter {name} is invalid. Reason: {reason}")
