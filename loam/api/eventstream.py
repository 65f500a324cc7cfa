"""The ``application/vnd.amazon.eventstream`` framing, encode side only.

A message is a 12-byte prelude (total length, headers length, CRC32 of
those 8 bytes), the headers, the payload, and a CRC32 of everything before
it. Every header here is a string (value type 7): a one-byte name length,
the name, the type, a two-byte value length, the value.

``payload_chunk`` and ``invoke_complete`` are the two events of Lambda's
``InvokeWithResponseStream`` (``PayloadChunk`` carries raw bytes,
``InvokeComplete`` a JSON document), headed as AWS heads them.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Awaitable, Callable, Mapping

__all__ = ["CONTENT_TYPE", "EventSource", "Write", "encode_message", "invoke_complete",
           "payload_chunk"]

CONTENT_TYPE = "application/vnd.amazon.eventstream"
# An operation's event-stream output: given a writer, it writes every encoded
# message in order, each as soon as it exists, and returns when the stream ends.
Write = Callable[[bytes], Awaitable[None]]
EventSource = Callable[[Write], Awaitable[None]]

_PRELUDE = struct.Struct("!II")
_CRC = struct.Struct("!I")
_STRING = 7
# Readers refuse long payloads (botocore: over 24 MB); larger data is split.
MAX_PAYLOAD = 16 * 1024 * 1024


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message; headers in the order given."""
    head = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + _CRC.size + len(head) + len(payload) + _CRC.size
    prelude = _PRELUDE.pack(total, len(head))
    prelude += _CRC.pack(zlib.crc32(prelude))
    message = prelude + head + payload
    return message + _CRC.pack(zlib.crc32(message))


def _header(name: str, value: str) -> bytes:
    raw_name = name.encode()
    raw_value = value.encode()
    if len(raw_name) > 255 or len(raw_value) > 65535:
        raise ValueError(f"event-stream header {name!r} is too long")
    return bytes([len(raw_name)]) + raw_name + bytes([_STRING]) + struct.pack(
        "!H", len(raw_value)) + raw_value


def payload_chunk(data: bytes) -> bytes:
    """``PayloadChunk`` events carrying ``data`` (several if it is very large)."""
    headers = {":event-type": "PayloadChunk", ":content-type": "application/octet-stream",
               ":message-type": "event"}
    if len(data) <= MAX_PAYLOAD:
        return encode_message(headers, data)
    return b"".join(encode_message(headers, data[i:i + MAX_PAYLOAD])
                    for i in range(0, len(data), MAX_PAYLOAD))


def invoke_complete(error_code: str | None = None, error_details: str | None = None,
                    log_result: str | None = None) -> bytes:
    """The ``InvokeComplete`` event that ends every stream; absent members are left out."""
    doc = {"ErrorCode": error_code, "ErrorDetails": error_details, "LogResult": log_result}
    body = json.dumps({k: v for k, v in doc.items() if v is not None}).encode()
    return encode_message({":event-type": "InvokeComplete", ":content-type": "application/json",
                           ":message-type": "event"}, body)
