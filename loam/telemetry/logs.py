"""Where function log lines go.

``LogSink`` is the seam: the node's console log today; the durable,
CloudWatch-Logs-compatible store plugs in here without touching ``invoke/``.
Sinks must not block the invoke path.
"""

from __future__ import annotations

import logging
from typing import Protocol

__all__ = ["ConsoleLogSink", "LogSink"]


class LogSink(Protocol):
    def emit(self, group: str, stream: str, text: str) -> None: ...


class ConsoleLogSink:
    """Writes each function log line to the ``loam.function`` logger."""

    def __init__(self) -> None:
        self._log = logging.getLogger("loam.function")

    def emit(self, group: str, stream: str, text: str) -> None:
        if self._log.isEnabledFor(logging.INFO):
            for line in text.splitlines():
                self._log.info("%s %s", group, line)
