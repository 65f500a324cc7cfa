"""Queue attributes: AWS's names, defaults, limits and checks.

``checked(...)`` turns the attributes of a CreateQueue or SetQueueAttributes
request into normalised strings (``"30"``, ``"true"``, compact JSON for the
policies), refusing what AWS refuses with its codes and wording:

- an unknown name, a read-only name, a FIFO-only name on a standard queue,
  or ``FifoQueue`` on SetQueueAttributes → ``InvalidAttributeName``
  ("Unknown Attribute X.");
- a value outside its range or of the wrong form → ``InvalidAttributeValue``
  ("Invalid value for the parameter X.");
- a ``RedrivePolicy`` AWS cannot use → ``InvalidParameterValue``
  ("Value … for parameter RedrivePolicy is invalid. Reason: …").

``reported(...)`` answers GetQueueAttributes in AWS's order and form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loam.services.sqs.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    invalid_parameter,
)

__all__ = ["READ_ONLY", "checked", "defaults", "reported", "requested_names"]

# name: (minimum, maximum, default or None when the attribute has no default)
INTEGERS: dict[str, tuple[int, int, int | None]] = {
    "DelaySeconds": (0, 900, 0),
    "MaximumMessageSize": (1024, 1_048_576, 1_048_576),
    "MessageRetentionPeriod": (60, 1_209_600, 345_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20, 0),
    "VisibilityTimeout": (0, 43_200, 30),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400, None),
}
FIFO_ONLY = {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
ENUMS = {
    "DeduplicationScope": ("messageGroup", "queue"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
BOOLEANS = {"SqsManagedSseEnabled", "ContentBasedDeduplication", "FifoQueue"}
POLICIES = {"Policy", "RedrivePolicy", "RedriveAllowPolicy"}
REMOVABLE = POLICIES | {"KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"}
READ_ONLY = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
)
SETTABLE = set(INTEGERS) | FIFO_ONLY | BOOLEANS | POLICIES | {"KmsMasterKeyId"}
# GetQueueAttributes with All answers in this order.
ORDER = (
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp",
    "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds", "Policy", "RedrivePolicy", "RedriveAllowPolicy",
    "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "FifoQueue",
    "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit",
)
MAX_RECEIVE_COUNT = 1000
MAX_SOURCE_QUEUE_ARNS = 10

# ARN of a queue → whether it is FIFO and its RedriveAllowPolicy, or None if absent.
QueueLookup = Callable[[str], "tuple[bool, str | None] | None"]


def defaults(fifo: bool) -> dict[str, str]:
    values = {name: str(d) for name, (_, _, d) in INTEGERS.items() if d is not None}
    values["SqsManagedSseEnabled"] = "true"
    if fifo:
        values.update(FifoQueue="true", ContentBasedDeduplication="false",
                      DeduplicationScope="queue", FifoThroughputLimit="perQueue")
    return values


def checked(given: Mapping[str, str], *, fifo: bool, creating: bool, queue_arn: str,
            lookup: QueueLookup) -> dict[str, str]:
    """Normalised values of ``given``; "" for a policy or key that is being removed."""
    result: dict[str, str] = {}
    for name, raw in given.items():
        value = str(raw)
        if name not in SETTABLE or (name in FIFO_ONLY and not fifo) or (
                name == "FifoQueue" and not creating):
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
        if value == "" and name in REMOVABLE and not creating:
            result[name] = ""
            continue
        result[name] = _value(name, value, fifo=fifo, queue_arn=queue_arn, lookup=lookup)
    scope = result.get("DeduplicationScope")
    if result.get("FifoThroughputLimit") == "perMessageGroupId" and scope == "queue":
        raise InvalidAttributeValue("Invalid value for the parameter FifoThroughputLimit. "
                                    "Reason: perMessageGroupId is allowed only when the value "
                                    "for DeduplicationScope is messageGroup.")
    return result


def _invalid(name: str) -> InvalidAttributeValue:
    return InvalidAttributeValue(f"Invalid value for the parameter {name}.")


def _value(name: str, value: str, *, fifo: bool, queue_arn: str, lookup: QueueLookup) -> str:
    if name in INTEGERS:
        low, high, _ = INTEGERS[name]
        if not value.strip().lstrip("-").isdigit() or not low <= int(value) <= high:
            raise _invalid(name)
        return str(int(value))
    if name in BOOLEANS:
        if value.lower() not in ("true", "false"):
            raise _invalid(name)
        if name == "FifoQueue" and (value.lower() == "true") != fifo:
            raise _invalid(name)
        return value.lower()
    if name in ENUMS:
        if value not in ENUMS[name]:
            raise _invalid(name)
        return value
    if name == "RedrivePolicy":
        return _redrive_policy(value, fifo=fifo, queue_arn=queue_arn, lookup=lookup)
    if name == "RedriveAllowPolicy":
        return _redrive_allow_policy(value)
    if name == "Policy":
        doc = _json_object(value)
        if doc is None:
            raise _invalid(name)
        return json.dumps(doc, separators=(",", ":"))
    return value  # KmsMasterKeyId: any key id or alias


def _json_object(value: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _redrive_policy(value: str, *, fifo: bool, queue_arn: str, lookup: QueueLookup) -> str:
    def refuse(reason: str) -> Exception:
        return invalid_parameter("RedrivePolicy", value, reason)

    doc = _json_object(value)
    if doc is None:
        raise refuse("Redrive policy is not a valid JSON map.")
    for key in ("deadLetterTargetArn", "maxReceiveCount"):
        if key not in doc:
            raise refuse(f"Redrive policy does not contain mandatory attribute: {key}.")
    unknown = sorted(set(doc) - {"deadLetterTargetArn", "maxReceiveCount"})
    if unknown:
        raise refuse(f"Only following attributes are supported: [deadLetterTargetArn, "
                     f"maxReceiveCount]. Unknown attribute: {unknown[0]}.")
    count = doc["maxReceiveCount"]
    if isinstance(count, bool) or not str(count).isdigit() or not (
            1 <= int(count) <= MAX_RECEIVE_COUNT):
        raise refuse(f"Invalid value for maxReceiveCount: {count}, valid values are from 1 "
                     f"to {MAX_RECEIVE_COUNT} both inclusive.")
    target = str(doc["deadLetterTargetArn"])
    found = lookup(target)
    if found is None:
        raise refuse("Dead letter target does not exist.")
    target_fifo, allow = found
    if target_fifo != fifo:
        raise refuse("Dead-letter queue must be same type of queue as the source..")
    if not _allows(allow, queue_arn):
        raise refuse(f"Queue {target} does not allow this queue to use it as a "
                     "dead-letter queue.")
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": int(count)},
                      separators=(",", ":"))


def _allows(allow_policy: str | None, source_arn: str) -> bool:
    if not allow_policy:
        return True
    doc = json.loads(allow_policy)
    permission = doc.get("redrivePermission")
    if permission == "denyAll":
        return False
    if permission == "byQueue":
        return source_arn in doc.get("sourceQueueArns", [])
    return True


def _redrive_allow_policy(value: str) -> str:
    def refuse(reason: str) -> Exception:
        return invalid_parameter("RedriveAllowPolicy", value, reason)

    doc = _json_object(value)
    if doc is None:
        raise refuse("Redrive allow policy is not a valid JSON map.")
    permission = doc.get("redrivePermission")
    if permission not in ("allowAll", "denyAll", "byQueue"):
        raise refuse("Redrive permission should be one of allowAll, denyAll, byQueue.")
    sources = doc.get("sourceQueueArns")
    if permission == "byQueue":
        if not isinstance(sources, list) or not sources:
            raise refuse("At least one source queue must be specified for byQueue permission.")
        if len(sources) > MAX_SOURCE_QUEUE_ARNS:
            raise refuse(f"Redrive allow policy cannot contain more than "
                         f"{MAX_SOURCE_QUEUE_ARNS} source queue ARNs.")
    elif sources is not None:
        raise refuse("Source queues can only be specified with byQueue permission.")
    return json.dumps(doc, separators=(",", ":"))


def requested_names(names: Iterable[str] | None) -> list[str]:
    """Which attributes a GetQueueAttributes asked for, unknown names refused."""
    wanted = list(names or [])
    if "All" in wanted:
        return list(ORDER)
    for name in wanted:
        if name not in ORDER:
            raise InvalidAttributeName(f"Unknown Attribute {name}.")
    return list(dict.fromkeys(wanted))


def reported(names: Iterable[str], stored: Mapping[str, str],
             computed: Mapping[str, str]) -> dict[str, str]:
    """The requested attributes that this queue has: stored settings, then computed ones."""
    result: dict[str, str] = {}
    for name in names:
        if name in computed:
            result[name] = computed[name]
        elif stored.get(name):
            result[name] = stored[name]
    if stored.get("KmsMasterKeyId") and "SqsManagedSseEnabled" in result:
        result["SqsManagedSseEnabled"] = "false"
    return result
