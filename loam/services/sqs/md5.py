"""The digests SQS returns so clients can check what arrived.

``MD5OfMessageBody`` is the MD5 of the body's UTF-8 bytes. The digest of a
set of message attributes (``MD5OfMessageAttributes``, and the same for
``MD5OfMessageSystemAttributes``) is AWS's documented encoding: the
attributes sorted by name, each contributing

    len(name) name len(data type) data type transport value-length value

where lengths are 4-byte big-endian, strings are UTF-8, and the one-byte
transport is 1 for a string value (String and Number types) and 2 for a
binary value. SDKs that verify digests (the Java SDK, the .NET SDK) refuse a
response whose digest differs, so this must be exact. A digest over the
attributes a receiver asked for covers only those attributes.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["attributes_md5", "body_md5"]

_STRING = 1
_BINARY = 2


def body_md5(body: str) -> str:
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The digest of message attributes in their API form, or None when there are none."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type = str(value["DataType"])
        digest.update(_field(name.encode("utf-8")))
        digest.update(_field(data_type.encode("utf-8")))
        if "BinaryValue" in value and value["BinaryValue"] is not None:
            digest.update(bytes([_BINARY]))
            digest.update(_field(bytes(value["BinaryValue"])))
        else:
            digest.update(bytes([_STRING]))
            digest.update(_field(str(value.get("StringValue", "")).encode("utf-8")))
    return digest.hexdigest()
