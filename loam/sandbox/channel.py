"""Length-prefixed frames between loam and the runtime inside an environment.

A frame is ``!II`` (header length, body length), a JSON header, a raw body.
The runtime side re-implements these few lines (it may not import loam).
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

__all__ = ["FrameChannel"]

_HEADER = struct.Struct("!II")
MAX_HEADER = 1 << 20
MAX_BODY = 64 << 20


class FrameChannel:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        head = json.dumps(header).encode()
        self._writer.write(_HEADER.pack(len(head), len(body)) + head)
        if body:
            self._writer.write(body)
        await self._writer.drain()

    async def receive(self) -> tuple[dict[str, Any], bytes]:
        """Next frame; ``EOFError`` when the runtime has gone."""
        try:
            head_len, body_len = _HEADER.unpack(await self._reader.readexactly(_HEADER.size))
            if head_len > MAX_HEADER or body_len > MAX_BODY:
                raise EOFError("runtime sent an oversized frame")
            header = json.loads(await self._reader.readexactly(head_len))
            body = await self._reader.readexactly(body_len) if body_len else b""
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as exc:
            raise EOFError("runtime closed the channel") from exc
        if not isinstance(header, dict):
            raise EOFError("runtime sent a malformed frame")
        return header, body

    def close(self) -> None:
        self._writer.close()
