"""What SendMessage(Batch) accepts: bodies, message attributes, FIFO fields.

``prepare(queue, entry)`` checks one entry (a SendMessage request or one
SendMessageBatch entry) against the queue and returns a ``NewMessage``, or
raises the error AWS answers: ``InvalidMessageContents`` for characters
outside XML's set, ``MissingParameter`` for an empty body or a FIFO message
without a group, ``InvalidParameterValue`` for sizes, attributes, delays and
FIFO rules. Message attributes and the body count toward
``MaximumMessageSize``: each attribute's name, data type and value.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from loam.invoke.lineage import incoming_trace
from loam.services.sqs.errors import (
    InvalidMessageContents,
    InvalidParameterValue,
    MissingParameter,
    invalid_parameter,
)
from loam.services.sqs.models import NewMessage, Queue

__all__ = ["MAX_ATTRIBUTES", "attributes_size", "prepare"]

MAX_ATTRIBUTES = 10
MAX_DELAY = 900
_INVALID_CHAR = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_TOKEN = re.compile(r"""^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$""")
_TYPES = ("String", "Number", "Binary")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def prepare(queue: Queue, entry: Mapping[str, Any]) -> NewMessage:
    body = entry.get("MessageBody")
    if not body:
        raise MissingParameter.named("MessageBody")
    bad = _INVALID_CHAR.search(body)
    if bad:
        raise InvalidMessageContents(
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, "
            "the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to "
            "#xFFFD | #x10000 to #x10FFFF")
    attributes = checked_attributes(entry.get("MessageAttributes") or {})
    system = checked_system_attributes(entry.get("MessageSystemAttributes") or {})
    trace = incoming_trace.get()
    if trace and "AWSTraceHeader" not in system:  # as SQS keeps a sender's X-Amzn-Trace-Id
        system["AWSTraceHeader"] = {"DataType": "String", "StringValue": trace}
    limit = queue.integer("MaximumMessageSize")
    if len(body.encode("utf-8")) + attributes_size(attributes) > limit:
        raise InvalidParameterValue("One or more parameters are invalid. Reason: Message must "
                                    f"be shorter than {limit} bytes.")
    group_id, dedup_id = _fifo_fields(queue, entry, body)
    return NewMessage(body=body, attributes=attributes, system_attributes=system,
                      delay_seconds=_delay(queue, entry.get("DelaySeconds")),
                      group_id=group_id, dedup_id=dedup_id)


def _delay(queue: Queue, given: int | None) -> int:
    if given is None:
        return queue.integer("DelaySeconds")
    if queue.fifo:
        raise invalid_parameter("DelaySeconds", given, "The request include parameter that "
                                "is not valid for this queue type.")
    if not 0 <= given <= MAX_DELAY:
        raise invalid_parameter("DelaySeconds", given,
                                f"DelaySeconds must be >= 0 and <= {MAX_DELAY}.")
    return given


def _fifo_fields(queue: Queue, entry: Mapping[str, Any], body: str) -> tuple[str | None,
                                                                             str | None]:
    group_id, dedup_id = entry.get("MessageGroupId"), entry.get("MessageDeduplicationId")
    for name, value in (("MessageGroupId", group_id), ("MessageDeduplicationId", dedup_id)):
        if value is not None and not _TOKEN.match(value):
            raise invalid_parameter(name, value, f"{name} can only include alphanumeric and "
                                    "punctuation characters. 1 to 128 in length.")
    if not queue.fifo:
        if dedup_id is not None:
            raise invalid_parameter("MessageDeduplicationId", dedup_id, "The request include "
                                    "parameter that is not valid for this queue type.")
        return group_id, None
    if group_id is None:
        raise MissingParameter.named("MessageGroupId")
    if dedup_id is None:
        if not queue.content_based_deduplication:
            raise InvalidParameterValue("The queue should either have ContentBasedDeduplication "
                                        "enabled or MessageDeduplicationId provided explicitly")
        dedup_id = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return group_id, dedup_id


def attributes_size(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    size = 0
    for name, value in attributes.items():
        size += len(name.encode("utf-8")) + len(str(value["DataType"]).encode("utf-8"))
        if value.get("BinaryValue") is not None:
            size += len(value["BinaryValue"])
        else:
            size += len(str(value.get("StringValue", "")).encode("utf-8"))
    return size


def checked_attributes(given: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes as AWS accepts them, in the API's form."""
    if len(given) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(f"Number of message attributes [{len(given)}] exceeds the "
                                    f"allowed maximum [{MAX_ATTRIBUTES}].")
    result: dict[str, dict[str, Any]] = {}
    for name, value in given.items():
        _check_name(name)
        result[name] = _checked_value(name, value)
    return result


def _check_name(name: str) -> None:
    lowered = name.lower()
    if (not _ATTRIBUTE_NAME.match(name) or name.startswith(".") or name.endswith(".")
            or ".." in name or lowered.startswith(("aws.", "amazon."))):
        raise InvalidParameterValue(
            f"Message (user) attribute name '{name}' is invalid. The attribute name can contain "
            "alphanumeric characters, underscore (_), hyphen (-) and period (.), must not start "
            "or end with a period, must not have successive periods, must not start with the "
            "reserved prefixes AWS. or Amazon. and can be up to 256 characters long.")


def _checked_value(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    data_type = str(value.get("DataType") or "")
    base = data_type.split(".", 1)[0]
    if base not in _TYPES or data_type.endswith("."):
        raise InvalidParameterValue(
            f"The type of message (user) attribute '{name}' is invalid. You must use only the "
            "following supported type prefixes: Binary, Number, String.")
    if base == "Binary":
        binary = value.get("BinaryValue")
        if value.get("StringValue") is not None:
            raise InvalidParameterValue(f"Message (user) attribute '{name}' with type 'Binary' "
                                        "must use field 'Binary'.")
        if not binary:
            raise InvalidParameterValue(f"Message (user) attribute '{name}' must contain a "
                                        "non-empty value of type 'Binary'.")
        return {"DataType": data_type, "BinaryValue": bytes(binary)}
    text = value.get("StringValue")
    if value.get("BinaryValue") is not None:
        raise InvalidParameterValue(f"Message (user) attribute '{name}' with type '{base}' "
                                    "must use field 'String'.")
    if not text:
        raise InvalidParameterValue(f"Message (user) attribute '{name}' must contain a "
                                    f"non-empty value of type '{base}'.")
    if base == "Number" and not _NUMBER.match(text.strip()):
        raise InvalidParameterValue(f"Can't cast the value of message (user) attribute '{name}' "
                                    "to a number.")
    if _INVALID_CHAR.search(text):
        raise InvalidParameterValue(f"Message (user) attribute '{name}' contains characters "
                                    "outside the allowed set.")
    return {"DataType": data_type, "StringValue": text}


def checked_system_attributes(given: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for name, value in given.items():
        if name != "AWSTraceHeader":
            raise InvalidParameterValue(f"Message system attribute name '{name}' is invalid.")
        if value.get("DataType") != "String" or not value.get("StringValue"):
            raise InvalidParameterValue("Message system attribute 'AWSTraceHeader' must contain "
                                        "a non-empty value of type 'String'.")
        result[name] = {"DataType": "String", "StringValue": str(value["StringValue"])}
    return result
