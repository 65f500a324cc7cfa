"""A RESPONSE_STREAM function URL's response, written as the function streams it.

A handler that wraps its stream in ``awslambda.HttpResponseStream.from(stream,
{statusCode, headers, cookies})`` (or a custom runtime that writes the same
bytes) sends that metadata as JSON first, then 8 NUL bytes, then the body.
The status line is held back until the metadata is complete, or until the
stream shows it has none (it does not open with ``{``, or the first
``MAX_PRELUDE`` bytes hold no separator): then it is 200, with the body as
streamed (``application/octet-stream``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from loam.http.payload_v2 import response_headers

__all__ = ["MAX_PRELUDE", "StreamedResponse"]

MAX_PRELUDE = 64 * 1024
SEPARATOR = b"\x00" * 8
Start = Callable[[int, list[tuple[str, str]]], Awaitable[None]]
Body = Callable[[bytes], Awaitable[None]]


class StreamedResponse:
    def __init__(self, start: Start, body: Body) -> None:
        self._start = start
        self._body = body
        self._pending = b""
        self.started = False

    async def write(self, data: bytes) -> None:
        if self.started:
            await self._body(data)
            return
        self._pending += data
        at = self._pending.find(SEPARATOR)
        if at >= 0:
            await self._decide(self._pending[:at], self._pending[at + len(SEPARATOR):])
        elif self._no_prelude():
            await self._decide(None, self._pending)

    def _no_prelude(self) -> bool:
        opening = self._pending.lstrip()
        return (bool(opening) and not opening.startswith(b"{")) or len(opening) > MAX_PRELUDE

    async def finish(self) -> None:
        """The stream ended: send what is held back (the status line at least)."""
        if not self.started:
            await self._decide(None, self._pending)

    async def _decide(self, prelude: bytes | None, rest: bytes) -> None:
        doc = _metadata(prelude)
        if doc is None:
            status = 200
            headers = [("content-type", "application/octet-stream")]
            rest = self._pending
        else:
            status = int(doc.get("statusCode", 200))
            headers = response_headers(doc.get("headers"), doc.get("cookies"))
        self.started = True
        self._pending = b""
        await self._start(status, headers)
        if rest:
            await self._body(rest)


def _metadata(prelude: bytes | None) -> dict[str, Any] | None:
    if prelude is None:
        return None
    try:
        doc = json.loads(prelude)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None
