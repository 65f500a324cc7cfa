"""Where function log lines go.

``LogSink`` is the seam: the node's console log today; the durable,
CloudWatch-Logs-compatible store plugs in here without touching ``invoke/``.
Sinks must not block the invoke path.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from typing import Protocol

__all__ = ["ConsoleLogSink", "LogSink"]

MAX_PENDING_CHARS = 8 << 20


class LogSink(Protocol):
    def emit(self, group: str, stream: str, text: str) -> None: ...


class ConsoleLogSink:
    """Writes each function log line to the ``loam.function`` logger.

    Writing happens on a thread of its own: ``emit`` only queues the text, so
    a function that logs a million lines cannot stall the event loop. At most
    ``max_pending`` characters wait; past that, texts are dropped and counted,
    and the count is logged once the writer catches up.
    """

    def __init__(self, max_pending: int = MAX_PENDING_CHARS) -> None:
        self._log = logging.getLogger("loam.function")
        self._max_pending = max_pending
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pending = 0
        self._dropped = 0
        threading.Thread(target=self._write_forever, name="loam-function-logs",
                         daemon=True).start()
        atexit.register(self.flush)

    def emit(self, group: str, stream: str, text: str) -> None:
        if not self._log.isEnabledFor(logging.INFO):
            return
        with self._lock:
            if self._pending + len(text) > self._max_pending:
                self._dropped += 1
                return
            self._pending += len(text)
        self._queue.put((group, text))

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait (bounded) until everything queued is written; True when it was."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.01)
        return False

    def _write_forever(self) -> None:
        while True:
            group, text = self._queue.get()
            for line in text.splitlines():
                self._log.info("%s %s", group, line)
            with self._lock:
                self._pending -= len(text)
                dropped, self._dropped = self._dropped, 0
            if dropped:
                self._log.warning("%d function log texts were dropped: the console "
                                  "could not keep up", dropped)
