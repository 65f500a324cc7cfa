"""What an SQS event source makes of queue messages, and of the function's answer.

- ``lambda_record``: one ReceiveMessage message as the record AWS puts in
  ``{"Records": [...]}`` (camel-case keys, attributes in AWS's order,
  ``md5OfMessageAttributes`` only when the message has attributes);
- ``RecordFilter``: FilterCriteria applied as Lambda applies them to SQS
  records (any filter may match; ``body`` is matched inside the message when
  the body is JSON, as its text otherwise);
- ``failed_items`` / ``deletable``: AWS's rules for ReportBatchItemFailures
  answers and for which records a batch result lets go of (on FIFO queues a
  failed record holds back the rest of its message group).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from loam.services.events import Pattern, compile_pattern

__all__ = ["RecordFilter", "deletable", "failed_items", "lambda_record"]

# The system attributes Lambda passes on, in the order its events list them.
_ATTRIBUTES = (
    "ApproximateReceiveCount", "SentTimestamp", "SequenceNumber", "MessageGroupId",
    "SenderId", "MessageDeduplicationId", "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader", "DeadLetterQueueSourceArn",
)  # fmt: skip

Record = dict[str, Any]


def lambda_record(message: Mapping[str, Any], source_arn: str, region: str) -> Record:
    attributes = message.get("Attributes") or {}
    record: Record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {k: str(attributes[k]) for k in _ATTRIBUTES if k in attributes},
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record["md5OfBody"] = message.get("MD5OfBody", "")
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = source_arn
    record["awsRegion"] = region
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if value.get("StringValue") is not None:
        out["stringValue"] = value["StringValue"]
    if value.get("BinaryValue") is not None:
        out["binaryValue"] = _b64(value["BinaryValue"])
    out["stringListValues"] = list(value.get("StringListValues") or [])
    out["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues") or []]
    out["dataType"] = value.get("DataType", "String")
    return out


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value).decode() if isinstance(value, bytes) else value


class RecordFilter:
    """A mapping's FilterCriteria; no filters lets every record through."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns: tuple[Pattern, ...] = tuple(compile_pattern(p) for p in patterns)

    def __bool__(self) -> bool:
        return bool(self._patterns)

    def matches(self, record: Record) -> bool:
        if not self._patterns:
            return True
        view = dict(record)
        body = record.get("body")
        if isinstance(body, str):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, (dict, list)):
                view["body"] = parsed
        return any(p.matches(view) for p in self._patterns)


def failed_items(payload: bytes, message_ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures answer names as failed; None when the
    answer fails the whole batch.

    Complete success: an empty or null answer, no ``batchItemFailures`` or a
    null / empty list. Complete failure: an answer that is not JSON (or not an
    object), and any entry without a non-empty ``itemIdentifier`` naming a
    message of this batch.
    """
    text = payload.strip()
    if not text:
        return set()
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if doc is None:
        return set()
    if not isinstance(doc, dict):
        return None
    failures = doc.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for entry in failures:
        if not isinstance(entry, dict):
            return None
        item = entry.get("itemIdentifier")
        if not isinstance(item, str) or item not in message_ids:
            return None
        failed.add(item)
    return failed


def deletable(records: Sequence[Record], failed: set[str] | None, fifo: bool) -> list[Record]:
    """The records a batch result lets go of: all but the failed ones (none when the
    whole batch failed); on a FIFO queue, also none after a failure in its group."""
    if failed is None:
        return []
    held_groups: set[str] = set()
    out: list[Record] = []
    for record in records:
        group = record["attributes"].get("MessageGroupId", "") if fifo else ""
        if record["messageId"] in failed:
            if fifo:
                held_groups.add(group)
            continue
        if fifo and group in held_groups:
            continue
        out.append(record)
    return out
