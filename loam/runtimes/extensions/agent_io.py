"""Frames and log output for the extensions agent.

``Channel`` re-implements loam's frame format (``!II`` lengths, JSON header,
raw body), as every program inside an environment does: it may not import
loam. ``OutputPump`` copies one pipe (the runtime's or the extensions'
stdout/stderr) to the environment's log (the agent's own stdout) as it
comes, and hands each complete line to the Telemetry API.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct("!II")
MAX_LINE = 256 << 10


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.set_inheritable(False)
        self.lock = threading.Lock()

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        head = json.dumps(header).encode()
        with self.lock:
            self.sock.sendall(_HEADER.pack(len(head), len(body)) + head + body)

    def _exact(self, n: int) -> bytes:
        chunks = []
        while n:
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> tuple[dict[str, Any], bytes]:
        head_len, body_len = _HEADER.unpack(self._exact(_HEADER.size))
        header = json.loads(self._exact(head_len))
        return header, self._exact(body_len) if body_len else b""


_LOG_LOCK = threading.Lock()


def log(data: bytes) -> None:
    """Write to the environment's log (fd 1) whole: records never interleave."""
    with _LOG_LOCK:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(1, view):]
            except BlockingIOError:
                select.select([], [1], [])


class OutputPump:
    """One pipe's read end → fd 1, line by line to ``on_line``.

    ``drain`` copies whatever is already in the pipe before it returns: the
    agent calls it before forwarding the runtime's answer, so output written
    before the answer is logged with that invocation, as without the agent.
    """

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.on_line = on_line
        self.lock = threading.Lock()
        self.partial = b""
        self.eof = False
        threading.Thread(target=self._run, name=f"output-{fd}", daemon=True).start()

    def _run(self) -> None:
        while not self.eof:
            try:
                select.select([self.fd], [], [])
            except (OSError, ValueError):
                return
            with self.lock:
                self._copy()

    def drain(self) -> None:
        with self.lock:
            self._copy()

    def _copy(self) -> None:
        while not self.eof:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
                if self.partial:
                    self._lines(b"\n")
                return
            log(chunk)
            self._lines(chunk)

    def _lines(self, chunk: bytes) -> None:
        data = self.partial + chunk
        *lines, self.partial = data.split(b"\n")
        if len(self.partial) >= MAX_LINE:
            lines.append(self.partial)
            self.partial = b""
        for line in lines:
            self.on_line(line.decode("utf-8", "replace"))
