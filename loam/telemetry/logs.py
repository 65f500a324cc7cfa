"""Where function log lines go.

``LogSink`` is the seam the invoke path writes to (``emit`` from threads, ``put``
from the event loop; neither may block the loop);
``LogLine`` is one line as the durable sink stores it; ``ConsoleEcho`` prints
written lines on the node's console, called by the sink's writer thread with
each batch it has stored — one write per batch, no thread or logging record of
its own per line.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

__all__ = ["ConsoleEcho", "LogLine", "LogSink"]


class LogSink(Protocol):
    def emit(self, group: str, stream: str, text: str) -> None: ...

    async def put(self, group: str, stream: str, text: str,
                  max_wait_s: float | None = None) -> None: ...


@dataclass(frozen=True)
class LogLine:
    group: str
    stream: str
    timestamp: int  # epoch milliseconds
    message: str


class ConsoleEcho:
    """Prints function log lines as the ``loam.function`` logger would (same
    ``time LEVEL name: message`` shape as the node's own log), when that logger
    is enabled for INFO."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._log = logging.getLogger("loam.function")
        self._stream = stream

    def __call__(self, lines: Sequence[LogLine]) -> None:
        if not lines or not self._log.isEnabledFor(logging.INFO):
            return
        stream = self._stream or sys.stderr
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        prefix = f"{stamp},{int(now * 1000) % 1000:03d} INFO loam.function: "
        stream.write("".join(f"{prefix}{line.group} {line.message.rstrip(chr(10))}\n"
                             for line in lines))
        stream.flush()
