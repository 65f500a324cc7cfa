"""AWS's event document, and ``PutEvents``' checks of each entry.

The document every target receives (unless its input is customised)::

    {"version": "0", "id": <uuid>, "detail-type": …, "source": …,
     "account": …, "time": "YYYY-MM-DDTHH:MM:SSZ", "region": …,
     "resources": […], "detail": {…}}

A scheduled rule's event is the same document with ``detail-type``
"Scheduled Event", ``source`` "aws.events", the rule's ARN as the one
resource and ``{}`` as the detail.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "MAX_REQUEST_BYTES",
    "EntryError",
    "entry_error",
    "entry_size",
    "event_document",
    "format_time",
    "scheduled_event",
]

# PutEvents' limit on the total size of a request's entries.
MAX_REQUEST_BYTES = 256 * 1024
_TIME_BYTES = 14  # AWS counts a Time member as 14 bytes


@dataclass(frozen=True, slots=True)
class EntryError:
    code: str
    message: str


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as AWS counts it against the request limit: Time (14
    bytes), and the UTF-8 bytes of Source, DetailType, Detail and each resource."""
    size = _TIME_BYTES if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(member) or "").encode())
    return size + sum(len(r.encode()) for r in entry.get("Resources") or ())


def entry_error(entry: Mapping[str, Any]) -> EntryError | None:
    """Why ``PutEvents`` fails this entry, in AWS's order of checks; None if it is good."""
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return EntryError("InvalidArgument", f"Parameter {member} is not valid. "
                              f"Reason: {member} is a required argument.")
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return EntryError("MalformedDetail", "Detail is malformed.")
    return None


def event_document(entry: Mapping[str, Any], account_id: str, region: str,
                   now: float) -> dict[str, Any]:
    """The event a good entry becomes (``Time`` defaults to when it was put)."""
    when = entry.get("Time")
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # the API layer's timestamps are UTC
    epoch = when.timestamp() if isinstance(when, datetime) else now
    return _document(str(entry["DetailType"]), str(entry["Source"]), account_id, epoch,
                     region, list(entry.get("Resources") or ()), json.loads(entry["Detail"]))


def scheduled_event(rule_arn: str, account_id: str, region: str,
                    fire_time: float) -> dict[str, Any]:
    return _document("Scheduled Event", "aws.events", account_id, fire_time, region,
                     [rule_arn], {})


def _document(detail_type: str, source: str, account_id: str, epoch: float, region: str,
              resources: Sequence[str], detail: Any) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": format_time(epoch),
        "region": region,
        "resources": list(resources),
        "detail": detail,
    }
