"""How messages are kept in their table and how receipt handles are made.

Message attributes are stored as JSON in their API form, binary values
base64-encoded. A receipt handle is opaque to clients: base64 of the queue
name, the message id and the nonce of the receive that issued it. A handle
that does not decode, or names another queue, is invalid
(``ReceiptHandleIsInvalid``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Receipt", "decode_attributes", "encode_attributes"]


def encode_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    if not attributes:
        return None
    doc: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        entry: dict[str, Any] = {"DataType": value["DataType"]}
        if value.get("BinaryValue") is not None:
            entry["BinaryValue"] = base64.b64encode(bytes(value["BinaryValue"])).decode("ascii")
        else:
            entry["StringValue"] = value.get("StringValue", "")
        doc[name] = entry
    return json.dumps(doc)


def decode_attributes(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    doc: dict[str, dict[str, Any]] = json.loads(text)
    for entry in doc.values():
        if "BinaryValue" in entry:
            entry["BinaryValue"] = base64.b64decode(entry["BinaryValue"])
    return doc


@dataclass(frozen=True)
class Receipt:
    queue: str
    message_id: str
    nonce: str

    def handle(self) -> str:
        raw = f"{self.queue}\n{self.message_id}\n{self.nonce}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def parse(cls, handle: str) -> Receipt | None:
        try:
            raw = base64.urlsafe_b64decode(handle.encode("ascii")).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError):
            return None
        parts = raw.split("\n")
        if len(parts) != 3 or not all(parts):
            return None
        return cls(*parts)
