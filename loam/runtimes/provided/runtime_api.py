"""The Lambda Runtime API for custom runtimes (mounted at /var/runtime).

Serves ``http://127.0.0.1:9001/2018-06-01/runtime/...`` inside the
environment's own network namespace, runs the function's ``bootstrap``
(``/var/task/bootstrap``, else ``/opt/bootstrap``) with
``AWS_LAMBDA_RUNTIME_API`` pointing at it, and relays between that API and
loam's framed channel (argv[1] is its fd), exactly as ``bootstrap.py`` does
for the managed Python runtime. Standard library only.

Init ends when the runtime first asks for the next invocation (or reports an
init error, or exits). The API's status codes and error documents follow
AWS's Runtime API and its emulator.

Response streaming: a response POSTed with ``Lambda-Runtime-Function-Response-Mode:
streaming`` (chunked, or with a length) is relayed piece by piece as ``chunk``
frames while it arrives, then ended by a ``response`` frame, or by an
``error`` frame when the runtime sends the trailers
``Lambda-Runtime-Function-Error-Type`` and ``Lambda-Runtime-Function-Error-Body``
(base64 of the error document). Past ``MAX_STREAMED`` bytes the runtime gets
413 and the invocation ends in ``Function.ResponseSizeTooLarge``.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API = "127.0.0.1:9001"
PREFIX = "/2018-06-01/runtime"
MAX_RESPONSE = 6_291_556
# AWS's (soft) limit on a streamed response.
MAX_STREAMED = 20 * 1024 * 1024
MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
PIECE = 1 << 20
_HEADER = struct.Struct("!II")


class Channel:
    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.lock = threading.Lock()

    def send(self, header: dict, body: bytes = b"") -> None:
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

    def recv(self) -> tuple[dict, bytes]:
        head_len, body_len = _HEADER.unpack(self._exact(_HEADER.size))
        header = json.loads(self._exact(head_len))
        return header, self._exact(body_len) if body_len else b""


class Relay:
    """State shared by the HTTP handlers and the channel reader."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.pending: queue.Queue[tuple[dict, bytes]] = queue.Queue()
        self.current: str | None = None
        self.initialised = threading.Event()
        self.init_failed = False
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def next_invocation(self) -> tuple[dict, bytes]:
        with self.lock:
            if not self.initialised.is_set():
                self.initialised.set()
                self.channel.send({"type": "ready",
                                   "init_ms": (time.monotonic() - self.started) * 1000})
        header, body = self.pending.get()
        self.current = header["request_id"]
        return header, body

    def claim(self, request_id: str) -> bool:
        """Take the invocation for its one answer; False unless ``request_id`` is current."""
        with self.lock:
            if request_id != self.current:
                return False
            self.current = None
        return True

    def finish(self, request_id: str, kind: str, body: bytes) -> bool:
        if not self.claim(request_id):
            return False
        self.channel.send({"type": kind}, body)
        return True

    def init_error(self, body: bytes) -> None:
        with self.lock:
            if self.initialised.is_set():
                return
            self.initialised.set()
            self.init_failed = True
        self.channel.send({"type": "init_error"}, body)


def handler_class(relay: Relay) -> type[BaseHTTPRequestHandler]:
    class RuntimeApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _reply(self, status: int, doc: dict, headers: dict | None = None,
                   raw: bytes | None = None) -> None:
            body = raw if raw is not None else json.dumps(doc).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            if self._chunked():
                return b"".join(self._pieces())
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _chunked(self) -> bool:
            return "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()

        def _pieces(self) -> Iterator[bytes]:
            """The request body as it arrives; a chunked body's trailers land in ``trailers``."""
            self.trailers: dict[str, str] = {}
            if not self._chunked():
                left = int(self.headers.get("Content-Length") or 0)
                while left:
                    piece = self.rfile.read1(min(left, PIECE))
                    if not piece:
                        raise ConnectionError("the runtime closed its response early")
                    left -= len(piece)
                    yield piece
                return
            while True:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    break
                while size:
                    piece = self.rfile.read1(min(size, PIECE))
                    if not piece:
                        raise ConnectionError("the runtime closed its response early")
                    size -= len(piece)
                    yield piece
                self.rfile.readline(1024)  # the CRLF after each chunk
            while True:
                line = self.rfile.readline(65537).strip()
                if not line:
                    return
                name, _, value = line.decode("latin-1").partition(":")
                self.trailers[name.strip().lower()] = value.strip()

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self._reply(404, {"errorMessage": "Not Found", "errorType": "InvalidRequest"})
                return
            header, payload = relay.next_invocation()
            headers = {
                "Lambda-Runtime-Aws-Request-Id": header["request_id"],
                "Lambda-Runtime-Deadline-Ms": str(header["deadline_ms"]),
                "Lambda-Runtime-Invoked-Function-Arn": header["invoked_function_arn"],
                "Lambda-Runtime-Trace-Id": header.get("trace_id") or "",
            }
            if header.get("client_context"):
                headers["Lambda-Runtime-Client-Context"] = header["client_context"]
            if header.get("cognito_identity"):
                headers["Lambda-Runtime-Cognito-Identity"] = json.dumps(header["cognito_identity"])
            self._reply(200, {}, headers, raw=payload)

        def do_POST(self) -> None:
            mode = self.headers.get(MODE_HEADER)
            if mode is not None and self.path.endswith("/response"):
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if len(parts) == 3 and parts[0] == "invocation":
                    self._streamed(parts[1], mode)
                    return
            body = self._body()
            if self.path == f"{PREFIX}/init/error":
                relay.init_error(_error_body(body, self.headers))
                self._reply(202, {"status": "OK"})
                return
            parts = self.path[len(PREFIX):].strip("/").split("/")
            if len(parts) != 3 or parts[0] != "invocation" or parts[2] not in ("response",
                                                                                "error"):
                self._reply(404, {"errorMessage": "Not Found", "errorType": "InvalidRequest"})
                return
            request_id, kind = parts[1], parts[2]
            if kind == "response" and len(body) > MAX_RESPONSE:
                self._reply(413, {
                    "errorMessage": f"Exceeded maximum allowed payload size ({MAX_RESPONSE} "
                                    "bytes).",
                    "errorType": "RequestEntityTooLarge"})
                relay.finish(request_id, "error", json.dumps({
                    "errorMessage": f"Response payload size exceeded maximum allowed payload "
                                    f"size ({MAX_RESPONSE} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge"}).encode())
                return
            payload = body if kind == "response" else _error_body(body, self.headers)
            if not relay.finish(request_id, kind, payload):
                self._reply(400, {"errorMessage": "Invalid request ID",
                                  "errorType": "InvalidRequestID"})
                return
            self._reply(202, {"status": "OK"})

        def _streamed(self, request_id: str, mode: str) -> None:
            """A response in a declared mode; only ``streaming`` exists."""
            if mode.lower() != "streaming":
                self._body()
                relay.finish(request_id, "error", json.dumps({
                    "errorType": "Runtime.InvalidResponseModeHeader",
                    "errorMessage": f"Invalid function response mode: {mode}"}).encode())
                self._reply(400, {"errorMessage": "Invalid function response mode",
                                  "errorType": "InvalidFunctionResponseMode"})
                return
            if not relay.claim(request_id):
                self._body()
                self._reply(400, {"errorMessage": "Invalid request ID",
                                  "errorType": "InvalidRequestID"})
                return
            sent = 0
            try:
                for piece in self._pieces():
                    sent += len(piece)
                    if sent <= MAX_STREAMED:
                        relay.channel.send({"type": "chunk"}, piece)
                    elif sent - len(piece) <= MAX_STREAMED:  # the invocation ends here
                        relay.channel.send({"type": "error"}, json.dumps({
                            "errorType": "Function.ResponseSizeTooLarge",
                            "errorMessage": "Response payload size exceeded maximum allowed "
                                            f"payload size ({MAX_STREAMED} bytes)."}).encode())
            except (ConnectionError, ValueError):  # cut off or malformed: the response ends here
                if sent <= MAX_STREAMED:
                    relay.channel.send({"type": "error"}, json.dumps({
                        "errorType": "Runtime.TruncatedResponse",
                        "errorMessage": "The runtime's streamed response ended early."}).encode())
                self.close_connection = True
                return
            if sent > MAX_STREAMED:
                self._reply(413, {
                    "errorMessage": f"Exceeded maximum allowed payload size ({MAX_STREAMED} "
                                    "bytes).",
                    "errorType": "RequestEntityTooLarge"})
                return
            error_type = self.trailers.get(ERROR_TYPE_TRAILER)
            if error_type:
                relay.channel.send({"type": "error"}, _error_body(
                    _unbase64(self.trailers.get(ERROR_BODY_TRAILER, "")),
                    {"Lambda-Runtime-Function-Error-Type": error_type}))
            else:
                relay.channel.send({"type": "response"})
            self._reply(202, {"status": "OK"})

    return RuntimeApiHandler


def _unbase64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def _error_body(body: bytes, headers: Any) -> bytes:
    """The error document the caller sees: the runtime's JSON, typed by its header."""
    error_type = headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(doc, dict):
        doc = {"errorMessage": str(doc)}
    doc.setdefault("errorType", error_type)
    doc.setdefault("errorMessage", "")
    return json.dumps(doc).encode()


def task_root() -> str:
    return os.environ.get("LAMBDA_TASK_ROOT", "/var/task")


def find_bootstrap() -> str | None:
    for path in (os.path.join(task_root(), "bootstrap"), "/opt/bootstrap"):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def main() -> None:
    channel = Channel(int(sys.argv[1]))
    os.set_inheritable(channel.sock.fileno(), False)
    relay = Relay(channel)
    server = ThreadingHTTPServer(("127.0.0.1", 9001), handler_class(relay))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="runtime-api", daemon=True).start()
    bootstrap = find_bootstrap()
    if bootstrap is None:
        relay.init_error(json.dumps({
            "errorType": "Runtime.InvalidEntrypoint",
            "errorMessage": "Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                            "/opt/bootstrap]"}).encode())
        sys.exit(0)
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=API)
    process = subprocess.Popen([bootstrap], env=env, cwd=task_root())
    threading.Thread(target=_pump, args=(channel, relay), name="channel", daemon=True).start()
    code = process.wait()
    if not relay.initialised.is_set():
        relay.init_error(json.dumps({
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: Error: Runtime exited with error: exit status {code}",
        }).encode())
    sys.stdout.flush()
    os._exit(code if code >= 0 else 128 - code)


def _pump(channel: Channel, relay: Relay) -> None:
    while True:
        try:
            header, body = channel.recv()
        except (EOFError, OSError):
            os._exit(0)
        if header.get("type") == "invoke":
            relay.pending.put((header, body))


if __name__ == "__main__":
    main()
