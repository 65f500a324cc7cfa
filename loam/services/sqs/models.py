"""SQS's data: queues, messages as stored, and the names that locate them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "Delivered",
    "NewMessage",
    "Queue",
    "RedrivePolicy",
    "name_from_url",
    "valid_queue_name",
]

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_FIFO_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}\.fifo$")


def valid_queue_name(name: str, fifo: bool) -> bool:
    """1–80 characters of letters, digits, ``-`` and ``_``; FIFO names end in ``.fifo``."""
    return bool((_FIFO_NAME if fifo else _NAME).match(name))


def name_from_url(url: str, account_id: str) -> str | None:
    """The queue name of a URL ``{any host}/{account}/{name}``, or a bare queue name."""
    path = urlsplit(url).path if "://" in url else url
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1 and "://" not in url:
        return parts[0]
    if len(parts) >= 2 and parts[-2] == account_id:
        return parts[-1]
    return None


@dataclass(frozen=True)
class RedrivePolicy:
    dead_letter_arn: str
    max_receive_count: int


@dataclass(frozen=True)
class Queue:
    """A queue's settings: ``attributes`` holds every settable attribute, defaults filled in."""

    name: str
    arn: str
    url: str
    attributes: Mapping[str, str]
    tags: Mapping[str, str]
    created: float
    modified: float

    @property
    def fifo(self) -> bool:
        return self.attributes.get("FifoQueue") == "true"

    def integer(self, attribute: str) -> int:
        return int(self.attributes[attribute])

    @property
    def content_based_deduplication(self) -> bool:
        return self.attributes.get("ContentBasedDeduplication") == "true"

    @property
    def deduplicate_per_group(self) -> bool:
        return self.attributes.get("DeduplicationScope") == "messageGroup"

    @property
    def redrive(self) -> RedrivePolicy | None:
        text = self.attributes.get("RedrivePolicy")
        if not text:
            return None
        doc = json.loads(text)
        return RedrivePolicy(str(doc["deadLetterTargetArn"]), int(doc["maxReceiveCount"]))


@dataclass(frozen=True)
class NewMessage:
    """A message accepted for sending, checked and ready to store."""

    body: str
    attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    system_attributes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    delay_seconds: int = 0
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass(frozen=True)
class Delivered:
    """A message as one receive hands it out."""

    message_id: str
    receipt: str
    body: str
    attributes: Mapping[str, Mapping[str, Any]]
    system_attributes: Mapping[str, Mapping[str, Any]]
    sent_at: float
    receive_count: int
    first_receive_at: float
    sequence: int
    group_id: str | None
    dedup_id: str | None
    sender_id: str
    source_arn: str | None
