"""Length-prefixed frames between loam and the runtime inside an environment.

A frame is ``!II`` (header length, body length), a JSON header, a raw body.
The runtime side re-implements these few lines (it may not import loam).
A streamed response is a run of ``chunk`` frames (each body a piece of the
response, in order) ended by the one ``response`` or ``error`` frame.

A body over ``MAX_BODY`` is read and thrown away, never held: its frame
arrives with an empty body and ``header["oversized"]`` = its length, so the
stream stays in step and the caller decides what an oversized frame means.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import orjson

__all__ = ["FrameChannel"]

_HEADER = struct.Struct("!II")
MAX_HEADER = 1 << 20
MAX_BODY = 8 << 20
COALESCE_BYTES = 256 << 10
# A frame whose body is at most this is read with its header (a copy of the body is
# cheaper than a second read); a bigger body is read on its own, without the copy.
JOINED_READ_BYTES = 64 << 10


class FrameChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        head = orjson.dumps(header)
        prefix = _HEADER.pack(len(head), len(body)) + head
        if len(body) <= COALESCE_BYTES:
            # One write, one wake-up of the runtime (a copy is cheaper than a syscall here).
            self._writer.write(prefix + body)
        else:
            self._writer.write(prefix)
            self._writer.write(body)
        await self._writer.drain()

    async def receive(self) -> tuple[dict[str, Any], bytes]:
        """Next frame; ``EOFError`` when the runtime has gone."""
        try:
            head_len, body_len = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))
            if head_len > MAX_HEADER:
                raise EOFError("runtime sent an oversized frame header")
            joined = body_len <= JOINED_READ_BYTES  # header and body in one read (the usual)
            data = await self._reader.readexactly(head_len + body_len if joined else head_len)
            header = orjson.loads(memoryview(data)[:head_len])
            if not isinstance(header, dict):
                raise EOFError("runtime sent a malformed frame")
            if body_len > MAX_BODY:
                await self._discard(body_len)
                header["oversized"] = body_len
                return header, b""
            body = data[head_len:] if joined else await self._reader.readexactly(body_len)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise EOFError("runtime closed the channel") from exc
        return header, body

    async def _discard(self, length: int) -> None:
        while length:
            length -= len(await self._reader.readexactly(min(length, 1 << 20)))

    def close(self) -> None:
        self._writer.close()
