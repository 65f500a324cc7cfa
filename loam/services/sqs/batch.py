"""The rules every SQS batch request shares, and the shape of a failed entry."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from loam.services.base import ServiceError
from loam.services.sqs.errors import (
    BatchEntryIdsNotDistinct,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    TooManyEntriesInBatchRequest,
)

__all__ = ["MAX_ENTRIES", "check_entries", "failure"]

MAX_ENTRIES = 10
_ENTRY_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


def check_entries(entries: Sequence[Mapping[str, Any]] | None, entry_shape: str) -> None:
    """Refuse a batch as AWS does: empty, too long, a malformed or a repeated ``Id``."""
    if not entries:
        raise EmptyBatchRequest(f"There should be at least one {entry_shape} in the request.")
    if len(entries) > MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(
            f"Maximum number of entries per request are {MAX_ENTRIES}. "
            f"You have sent {len(entries)}.")
    seen: set[str] = set()
    for entry in entries:
        entry_id = str(entry.get("Id", ""))
        if not _ENTRY_ID.match(entry_id):
            raise InvalidBatchEntryId("A batch entry id can only contain alphanumeric "
                                      "characters, hyphens and underscores. It can be at most "
                                      "80 letters long.")
        if entry_id in seen:
            raise BatchEntryIdsNotDistinct(f"Id {entry_id} repeated.")
        seen.add(entry_id)


def failure(entry_id: str, error: ServiceError) -> dict[str, Any]:
    """A ``BatchResultErrorEntry`` for an entry refused on its own."""
    return {"Id": entry_id, "SenderFault": error.sender_fault, "Code": error.code,
            "Message": error.message}
