"""The event-stream encoder, read back by botocore's own event-stream parser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.eventstream import ChecksumMismatch, EventStream, EventStreamBuffer
from botocore.parsers import EventStreamJSONParser

from loam.api import eventstream
from loam.api.eventstream import encode_message, invoke_complete, payload_chunk
from loam.api.model import service_model


def _messages(data: bytes, piece: int | None = None) -> list[Any]:
    buffer = EventStreamBuffer()
    out: list[Any] = []
    step = piece or max(1, len(data))
    for i in range(0, len(data), step):
        buffer.add_data(data[i:i + step])
        out.extend(buffer)
    return out


class _RawStream:
    """What botocore's EventStream reads: a body that yields its bytes in pieces."""

    def __init__(self, data: bytes, piece: int) -> None:
        self.data = data
        self.piece = piece

    def stream(self) -> Iterator[bytes]:
        for i in range(0, len(self.data), self.piece):
            yield self.data[i:i + self.piece]

    def close(self) -> None:
        pass


def _lambda_events(data: bytes, piece: int = 7) -> list[dict[str, Any]]:
    """The events boto3's ``invoke_with_response_stream`` would hand its caller."""
    op = service_model("lambda").operation_model("InvokeWithResponseStream")
    shape = op.output_shape.members["EventStream"]  # type: ignore[union-attr]
    stream = EventStream(_RawStream(data, piece), shape, EventStreamJSONParser(),
                         op.name)
    return list(stream)


def test_a_message_round_trips_with_its_headers_in_order() -> None:
    data = encode_message({":event-type": "Thing", ":message-type": "event", "x": "é"}, b"body")
    [message] = _messages(data)
    assert list(message.headers.items()) == [
        (":event-type", "Thing"), (":message-type", "event"), ("x", "é")]
    assert message.payload == b"body"
    assert message.prelude.total_length == len(data)


def test_an_empty_payload_and_messages_split_anywhere() -> None:
    data = encode_message({"a": "1"}, b"") + encode_message({"b": "2"}, b"xyz" * 100)
    messages = _messages(data, piece=3)
    assert [m.payload for m in messages] == [b"", b"xyz" * 100]


def test_a_corrupted_message_fails_its_checksum() -> None:
    data = bytearray(encode_message({"a": "1"}, b"payload"))
    data[-6] ^= 0xFF
    with pytest.raises(ChecksumMismatch):
        _messages(bytes(data))


def test_header_values_over_64_kb_are_refused() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_message({"a": "x" * 70_000}, b"")


def test_payload_chunks_then_invoke_complete_parse_as_lambda_events() -> None:
    data = payload_chunk(b"hello ") + payload_chunk(b"\x00\xffworld") + invoke_complete()
    assert _lambda_events(data) == [
        {"PayloadChunk": {"Payload": b"hello "}},
        {"PayloadChunk": {"Payload": b"\x00\xffworld"}},
        {"InvokeComplete": {}},
    ]


def test_invoke_complete_carries_error_and_log_members() -> None:
    data = invoke_complete("Sandbox.Timedout", "Task timed out after 1.00 seconds", "U1RBUlQ=")
    [message] = _messages(data)
    assert message.headers == {":event-type": "InvokeComplete",
                               ":content-type": "application/json",
                               ":message-type": "event"}
    assert json.loads(message.payload) == {
        "ErrorCode": "Sandbox.Timedout", "ErrorDetails": "Task timed out after 1.00 seconds",
        "LogResult": "U1RBUlQ="}
    assert _lambda_events(data) == [{"InvokeComplete": json.loads(message.payload)}]


def test_a_payload_chunk_is_headed_as_aws_heads_it() -> None:
    [message] = _messages(payload_chunk(b"x"))
    assert message.headers == {":event-type": "PayloadChunk",
                               ":content-type": "application/octet-stream",
                               ":message-type": "event"}


def test_very_large_data_is_split_into_several_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventstream, "MAX_PAYLOAD", 4)
    events = _lambda_events(payload_chunk(b"0123456789"))
    assert [e["PayloadChunk"]["Payload"] for e in events] == [b"0123", b"4567", b"89"]
