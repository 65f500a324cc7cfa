"""The Python runtime inside an execution environment (mounted at /var/runtime).

Speaks loam's framed protocol over the inherited channel socket (argv[1] is
its fd): each frame is ``!II`` (header length, body length), a JSON header
and a raw body. It imports nothing from loam, only the standard library, and
runs on every supported Python (3.9+).

Frames it sends: ``ready`` (Init done), ``init_error``, ``log``, ``response``,
``error``. Frames it receives: ``invoke``.
Init errors and handler errors are the documents AWS's Python runtime
produces (errorMessage, errorType, requestId, stackTrace).
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import socket
import struct
import sys
import threading
import time
import traceback

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


class LogStream:
    """A text stream whose lines become ``log`` frames, ordered with responses."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer_text = ""
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.buffer_text += text
            if "\n" in self.buffer_text:
                head, _, self.buffer_text = self.buffer_text.rpartition("\n")
                self.channel.send({"type": "log"}, (head + "\n").encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        with self.lock:
            if self.buffer_text:
                self.channel.send({"type": "log"}, self.buffer_text.encode("utf-8", "replace"))
                self.buffer_text = ""

    def isatty(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("log stream has no file descriptor")


class LambdaContext:
    def __init__(self, header: dict) -> None:
        env = os.environ
        self.aws_request_id = header["request_id"]
        self.invoked_function_arn = header["invoked_function_arn"]
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self._deadline_ms = header["deadline_ms"]
        self.identity = CognitoIdentity(header.get("cognito_identity") or {})
        self.client_context = _client_context(header.get("client_context"))
        self.tenant_id = header.get("tenant_id")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def log(self, msg: str) -> None:
        sys.stdout.write(msg)

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},"
                f"log_group_name={self.log_group_name},log_stream_name={self.log_stream_name},"
                f"function_name={self.function_name},memory_limit_in_mb={self.memory_limit_in_mb},"
                f"function_version={self.function_version},"
                f"invoked_function_arn={self.invoked_function_arn},"
                f"client_context={self.client_context},identity={self.identity}])")


class CognitoIdentity:
    def __init__(self, doc: dict) -> None:
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")

    def __repr__(self) -> str:
        return (f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}])")


class Client:
    def __init__(self, doc: dict) -> None:
        self.installation_id = doc.get("installation_id")
        self.app_title = doc.get("app_title")
        self.app_version_name = doc.get("app_version_name")
        self.app_version_code = doc.get("app_version_code")
        self.app_package_name = doc.get("app_package_name")


class ClientContext:
    def __init__(self, doc: dict) -> None:
        self.client = Client(doc["client"]) if doc.get("client") else None
        self.custom = doc.get("custom")
        self.env = doc.get("env")

    def __repr__(self) -> str:
        return f"ClientContext([client={self.client},custom={self.custom},env={self.env}])"


def _client_context(raw: str | None) -> ClientContext | None:
    if not raw:
        return None
    return ClientContext(json.loads(raw))


class FaultError(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def _trace(exc: BaseException) -> list[str]:
    frames = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in frames if not f.filename.startswith("/var/runtime/")]
    return traceback.format_list(frames)


def load_handler(handler: str):  # noqa: ANN201 - any callable
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultError("Runtime.BuiltInModuleConflict",
                         f"Cannot use built-in module {modname} as a handler module")
    try:
        module = importlib.import_module(modname)
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{modname}': {exc}") from exc
    except SyntaxError as exc:
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{modname}': {exc}", _trace(exc)) from exc
    except Exception as exc:  # user code raised during Init
        raise FaultError(type(exc).__name__, str(exc), _trace(exc)) from exc
    func = getattr(module, fname, None)
    if func is None:
        raise FaultError("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")
    return func


def error_document(error_type: str, message: str, trace: list[str], request_id: str) -> bytes:
    doc = {"errorMessage": message, "errorType": error_type, "requestId": request_id,
           "stackTrace": trace}
    return json.dumps(doc).encode()


def log_error(error_type: str, message: str, trace: list[str]) -> None:
    text = f"[ERROR] {error_type}: {message}"
    if trace:
        text += "\nTraceback (most recent call last):\n" + "".join(trace).rstrip("\n")
    sys.stdout.write(text.replace("\n", "\r") + "\n")
    sys.stdout.flush()


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        return True


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestIdFilter())
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
        "%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.terminator = ""
    root = logging.getLogger()
    root.handlers = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "")
    if level:
        root.setLevel(level.upper())


def invoke(channel: Channel, handler, header: dict, body: bytes) -> None:  # noqa: ANN001
    request_id = header["request_id"]
    RequestIdFilter.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = header.get("trace_id", "")
    try:
        try:
            event = json.loads(body) if body else {}
        except ValueError as exc:
            raise FaultError("Runtime.UnmarshalError",
                             f"Unable to unmarshal input: {exc}") from exc
        result = handler(event, LambdaContext(header))
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc
    except FaultError as fault:
        log_error(fault.error_type, fault.message, fault.trace)
        _finish(channel, "error", error_document(fault.error_type, fault.message, fault.trace,
                                                 request_id))
        return
    except Exception as exc:
        trace = _trace(exc)
        log_error(type(exc).__name__, str(exc), trace)
        _finish(channel, "error", error_document(type(exc).__name__, str(exc), trace, request_id))
        return
    _finish(channel, "response", payload)


def _finish(channel: Channel, kind: str, body: bytes) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    channel.send({"type": kind}, body)


def main() -> None:
    channel = Channel(int(sys.argv[1]))
    stream = LogStream(channel)
    sys.stdout = stream  # type: ignore[assignment]
    sys.stderr = stream  # type: ignore[assignment]
    sys.path[:0] = [os.environ.get("LAMBDA_TASK_ROOT", "/var/task")]
    configure_logging()
    started = time.monotonic()
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except FaultError as fault:
        log_error(fault.error_type, fault.message, fault.trace)
        sys.stdout.flush()
        channel.send({"type": "init_error"},
                     error_document(fault.error_type, fault.message, fault.trace, ""))
        return
    channel.send({"type": "ready", "init_ms": (time.monotonic() - started) * 1000})
    while True:
        try:
            header, body = channel.recv()
        except EOFError:
            return
        if header.get("type") == "invoke":
            invoke(channel, handler, header, body)


if __name__ == "__main__":
    main()
