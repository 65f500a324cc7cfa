"""The Python runtime inside an execution environment (mounted at /var/runtime).

Speaks loam's framed protocol over the inherited channel socket (argv[1] is
its fd): each frame is ``!II`` (header length, body length), a JSON header
and a raw body. It imports nothing from loam, only the standard library, and
runs on every supported Python (3.9+).

Frames it sends: ``ready`` (Init done), ``init_error``, ``response``,
``error``. Frames it receives: ``invoke``. Logs are not framed: stdout and
stderr are the environment's log pipe, written through at once (as AWS).

It mirrors AWS's runtime interface client (awslambdaric) exactly where user
code can tell: handler resolution and the ``Runtime.*`` fault documents
(errorMessage, errorType, requestId, stackTrace), the ``[ERROR]`` log record
(lines joined by ``\r``, trace indentation as U+00A0), the logging format,
the context object, and response marshalling (bytes pass through, Decimal is
a JSON number, non-ASCII is kept as is from python3.12 on).
"""

from __future__ import annotations

import contextlib
import decimal
import importlib
import json
import logging
import math
import os
import re
import socket
import struct
import sys
import threading
import time
import traceback
from typing import Any

_HEADER = struct.Struct("!II")


class Channel:
    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.set_inheritable(False)  # user code's child processes never get it
        self.lock = threading.Lock()
        self._buffer = bytearray()  # received, not yet taken: a frame is one recv, mostly

    def rebind(self, sock: socket.socket) -> None:
        """Serve another socket from now on (a template's fork: its own channel)."""
        self.sock = sock
        self._buffer = bytearray()

    def send(self, header: dict, body: bytes = b"") -> None:
        head = json.dumps(header).encode()
        with self.lock:
            self.sock.sendall(_HEADER.pack(len(head), len(body)) + head + body)

    def _exact(self, n: int) -> bytes:
        buffer = self._buffer
        while len(buffer) < n:
            chunk = self.sock.recv(max(1 << 16, min(n - len(buffer), 1 << 20)))
            if not chunk:
                raise EOFError
            buffer += chunk
        data = bytes(memoryview(buffer)[:n])
        del buffer[:n]
        return data

    def recv(self) -> tuple[dict, bytes]:
        head_len, body_len = _HEADER.unpack(self._exact(_HEADER.size))
        if body_len > 1 << 16:  # a big event: taken out of the buffer on its own, no copy
            return json.loads(self._exact(head_len)), self._exact(body_len)
        data = self._exact(head_len + body_len)  # a small one comes with its header
        return json.loads(data[:head_len]), data[head_len:]


class Unbuffered:
    """stdout/stderr as AWS's runtime sets them up: every write goes out at once.

    Both descriptors are the environment's log pipe, so prints, logging,
    child processes and C code all land in the log in the order written.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.stream, attr)

    def write(self, msg: str) -> int:
        written = self.stream.write(msg)
        self.stream.flush()
        return written

    def writelines(self, msgs: Any) -> None:
        self.stream.writelines(msgs)
        self.stream.flush()


# -- the context object (awslambdaric.lambda_context) ---------------------------

class LambdaContext:
    def __init__(self, header: dict) -> None:
        env = os.environ
        self.aws_request_id = header["request_id"]
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = header.get("invoked_function_arn")
        self.tenant_id = header.get("tenant_id")
        client_context = _parse_json_header(header.get("client_context"), "Client Context")
        identity = _parse_json_header(header.get("cognito_identity"), "Cognito Identity")
        self.client_context = None
        if client_context is not None:
            self.client_context = _from_dict(ClientContext, client_context)
            self.client_context.client = _from_dict(Client, self.client_context.client)
        self.identity = _from_dict(CognitoIdentity, {})
        if identity is not None:
            self.identity.cognito_identity_id = identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = header["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg: object) -> None:
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(["
                f"cognito_identity_id={self.cognito_identity_id},"
                f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
                "])")


class Client:
    __slots__ = ["app_package_name", "app_title", "app_version_code", "app_version_name",
                 "installation_id"]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(["
                f"installation_id={self.installation_id},"
                f"app_title={self.app_title},"
                f"app_version_name={self.app_version_name},"
                f"app_version_code={self.app_version_code},"
                f"app_package_name={self.app_package_name}"
                "])")


class ClientContext:
    __slots__ = ["client", "custom", "env"]

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(["
                f"custom={self.custom},"
                f"env={self.env},"
                f"client={self.client}"
                "])")


def _from_dict(cls: Any, doc: dict | None) -> Any:
    """awslambdaric's make_obj_from_dict: every slot from ``doc``, missing ones None."""
    if doc is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, doc.get(name, None))
    return obj


def _parse_json_header(raw: str | None, name: str) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except Exception as exc:
        raise FaultError("Runtime.LambdaContextUnmarshalError",
                         f"Unable to parse {name} JSON: {exc}") from exc


# -- faults and their documents (awslambdaric.bootstrap) -----------------------

class FaultError(Exception):
    """A ``Runtime.*`` fault: reported with this type and message, never a user trace."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace


def make_error(message: str, error_type: str, trace: list[str] | None,
               request_id: str | None = None) -> dict:
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": trace if trace else [],
    }


def fault_result(exc: BaseException, request_id: str | None = None) -> dict:
    """The document for an exception from user code: its class, message and trace.

    As AWS, the trace drops the runtime's own leading frames and keeps the rest.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            frames = frames[i:]
            break
    return make_error(str(exc), type(exc).__name__, traceback.format_list(frames), request_id)


def log_error(error: dict) -> None:
    """Write the ``[ERROR]`` record: one log line, its parts separated by ``\\r``."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    trace = error.get("stackTrace")
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in trace:
            if element == "":
                lines.append("")
            else:
                lines.extend(_nbsp_indent(line) for line in element.splitlines())
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


def _nbsp_indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return "\u00a0" * (len(line) - len(stripped)) + stripped


def load_handler(handler: str) -> Any:
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError("Runtime.MalformedHandlerName", f"Bad handler '{handler}': {exc}") from exc
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultError("Runtime.BuiltInModuleConflict",
                             f"Cannot use built-in module {modname} as a handler module")
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as exc:
        raise FaultError("Runtime.ImportModuleError",
                         f"Unable to import module '{modname}': {exc}") from exc
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{modname}': {exc}", trace) from exc
    try:
        return getattr(module, fname)
    except AttributeError as exc:
        raise FaultError("Runtime.HandlerNotFound",
                         f"Handler '{fname}' missing on module '{modname}'") from exc


# -- marshalling (awslambdaric.lambda_runtime_marshaller) ----------------------

_RAW_NUMBER = f"\x00loam-number-{os.urandom(8).hex()}:"
_RAW_NUMBER_RE = re.compile(re.escape(json.dumps(_RAW_NUMBER)[:-1]) + r'([^"\\]*)\\u0000"')
_UNICODE_RUNTIMES = {f"AWS_Lambda_python3.{minor}" for minor in range(12, 20)}


def _encode_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return math.nan
        return f"{_RAW_NUMBER}{obj}\x00"
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


def to_json(obj: Any) -> str:
    """JSON as AWS's encoder writes it: Decimal verbatim, NaN allowed, UTF-8 from 3.12."""
    ascii_only = os.environ.get("AWS_EXECUTION_ENV") not in _UNICODE_RUNTIMES
    text = json.dumps(obj, default=_encode_default, ensure_ascii=ascii_only, allow_nan=True)
    return _RAW_NUMBER_RE.sub(r"\1", text) if _RAW_NUMBER[1:] in text else text


def marshal_response(response: Any) -> bytes:
    if isinstance(response, bytes):
        return response
    try:
        return to_json(response).encode("utf-8")
    except Exception as exc:
        raise FaultError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def unmarshal_request(body: bytes) -> Any:
    if not body:
        return {}
    try:
        return json.loads(body)
    except Exception as exc:
        raise FaultError("Runtime.UnmarshalError", f"Unable to unmarshal input: {exc}") from exc


# -- logging (awslambdaric._setup_logging) -------------------------------------

class RequestIdFilter(logging.Filter):
    request_id = ""
    tenant_id = None

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        record.tenant_id = RequestIdFilter.tenant_id
        return True


class LambdaLoggerHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        sys.stdout.write(self.format(record))


_JSON_LEVELS = {"WARNING": "WARN", "CRITICAL": "FATAL"}  # Lambda's level names


class JsonLogFormatter(logging.Formatter):
    """The JSON log format (LoggingConfig LogFormat JSON): one object per record with
    AWS's keys, the exception (if any) as errorType / errorMessage / stackTrace."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                         + f".{int(record.msecs):03d}Z",
            "level": _JSON_LEVELS.get(record.levelname, record.levelname),
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", "") or None,
        }
        if record.exc_info and record.exc_info[0] is not None:
            error = record.exc_info[1]
            doc["errorType"] = record.exc_info[0].__name__
            doc["errorMessage"] = str(error)
            doc["stackTrace"] = traceback.format_tb(record.exc_info[2])
        return json.dumps(doc, default=str) + "\n"


def configure_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        handler.setFormatter(JsonLogFormatter())
    else:
        handler.setFormatter(logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        ))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    raw = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    level = {None: "", "TRACE": "DEBUG"}.get(raw, raw or "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)
    root.addHandler(handler)


UNHANDLED_WARNING = (
    "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function "
    "code. However, in rare cases, a Lambda runtime update can cause unexpected function "
    "behavior. For functions using managed runtimes, runtime updates can be triggered by a "
    "function change, or can be applied automatically. To determine if the runtime has been "
    "updated, check the runtime version in the INIT_START log entry. If this error correlates "
    "with a change in the runtime version, you may be able to mitigate this error by "
    "temporarily rolling back to the previous runtime version. For more information, see "
    "https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)


# -- the loop ------------------------------------------------------------------

def invoke(channel: Channel, handler: Any, header: dict, body: bytes) -> None:
    request_id = header["request_id"]
    RequestIdFilter.request_id = request_id
    RequestIdFilter.tenant_id = header.get("tenant_id")
    _set_trace_id(header.get("trace_id"))
    try:
        context = LambdaContext(header)
        event = unmarshal_request(body)
        payload = marshal_response(handler(event, context))
    except FaultError as fault:
        error = make_error(fault.message, fault.error_type, fault.trace, request_id)
    except Exception as exc:
        error = fault_result(exc, request_id)
    else:
        _finish(channel, "response", payload)
        return
    log_error(error)
    _finish(channel, "error", json.dumps(error).encode())


def _set_trace_id(trace_id: str | None) -> None:
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _finish(channel: Channel, kind: str, body: bytes) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    channel.send({"type": kind}, body)


def init(channel: Channel) -> Any:
    """Import the handler; on failure report the init error (as AWS) and exit 1."""
    try:
        configure_logging()
        return load_handler(os.environ["_HANDLER"])
    except FaultError as fault:
        error = make_error(fault.message, fault.error_type, fault.trace)
    except Exception as exc:
        error = fault_result(exc)
    logging.warning(UNHANDLED_WARNING)
    log_error(error)
    channel.send({"type": "init_error"}, json.dumps(error).encode())
    sys.exit(1)


def main() -> None:
    channel = Channel(int(sys.argv[1]))
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)
    # AWS's order: the task, then the layers' Python directories, then the runtime.
    version = "python{}.{}".format(*sys.version_info[:2])
    sys.path[:0] = [os.environ.get("LAMBDA_TASK_ROOT", "/var/task"),
                    f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    started = time.monotonic()
    handler = init(channel)
    ready = {"type": "ready", "init_ms": (time.monotonic() - started) * 1000}
    if len(sys.argv) > 2:
        # A template (loam's fork server): Init once, then fork environments.
        import _loam_template

        try:
            _loam_template.run_hooks("get_before_snapshot")
            ready["unforkable"] = _loam_template.forkable()
        except Exception as exc:
            ready["unforkable"] = f"a before-snapshot hook failed: {exc!r}"
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send(ready)
        if ready["unforkable"] is not None:
            with contextlib.suppress(EOFError):
                channel.recv()  # loam retires this template: wait for it
            return
        _loam_template.serve(channel, int(sys.argv[2]))
        ready = {"type": "ready", "restored": True}
    channel.send(ready)
    while True:
        try:
            header, body = channel.recv()
        except EOFError:
            return
        if header.get("type") == "invoke":
            invoke(channel, handler, header, body)


if __name__ == "__main__":
    main()
