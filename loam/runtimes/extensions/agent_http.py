"""The Extensions API (2020-01-01) and Telemetry API (2022-07-01) over HTTP.

Served on ``127.0.0.1:9001`` inside the environment, the address in
``AWS_LAMBDA_RUNTIME_API``. For custom runtimes the same server also answers
the Runtime API (``/2018-06-01/runtime/...``): the handler class extends the
custom runtime's own (``runtime_api.handler_class``), so both share the one
port, as on AWS. Paths, headers, status codes and error documents follow
AWS's Extensions API and its emulator.
"""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from agent_events import ApiError, Registry
from agent_telemetry import Telemetry

EXTENSION = "/2020-01-01/extension"
TELEMETRY = "/2022-07-01/telemetry"
NAME = "Lambda-Extension-Name"
IDENTIFIER = "Lambda-Extension-Identifier"
ERROR_TYPE = "Lambda-Extension-Function-Error-Type"


def handler_class(registry: Registry, telemetry: Telemetry,
                  base: type[BaseHTTPRequestHandler] = BaseHTTPRequestHandler,
                  ) -> type[BaseHTTPRequestHandler]:
    fallback = base is not BaseHTTPRequestHandler

    class ExtensionsApiHandler(base):  # type: ignore[valid-type, misc]
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, exc: ApiError) -> None:
            self._send(exc.status, {"errorMessage": exc.message, "errorType": exc.error_type})

        def _read(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _identifier(self) -> str:
            value = self.headers.get(IDENTIFIER) or ""
            if not value:
                raise ApiError(403, "Extension.MissingExtensionIdentifier",
                               f"Missing {IDENTIFIER} header")
            try:
                uuid.UUID(value)
            except ValueError as exc:
                raise ApiError(403, "Extension.InvalidExtensionIdentifier",
                               f"Invalid {IDENTIFIER}") from exc
            return value

        def _ours(self) -> bool:
            return self.path.startswith((EXTENSION + "/", TELEMETRY))

        def _not_found(self) -> None:
            self._send(404, {"errorMessage": "Not Found", "errorType": "InvalidRequest"})

        def do_GET(self) -> None:
            if not self._ours():
                super().do_GET() if fallback else self._not_found()
                return
            try:
                if self.path != f"{EXTENSION}/event/next":
                    self._not_found()
                    return
                event = registry.next_event(self._identifier())
            except ApiError as exc:
                self._error(exc)
                return
            self._send(200, event, {"Lambda-Extension-Event-Identifier": str(uuid.uuid4())})

        def do_POST(self) -> None:
            if not self._ours():
                super().do_POST() if fallback else self._not_found()
                return
            body = self._read()
            try:
                if self.path == f"{EXTENSION}/register":
                    self._register(body)
                elif self.path in (f"{EXTENSION}/init/error", f"{EXTENSION}/exit/error"):
                    self._report(self.path.rsplit("/", 2)[1])
                else:
                    self._not_found()
            except ApiError as exc:
                self._error(exc)

        def do_PUT(self) -> None:
            body = self._read()
            if self.path.rstrip("/") != TELEMETRY:
                self._not_found()
                return
            try:
                ext = registry.find(self._identifier())
                telemetry.subscribe(ext.name, body)
            except ApiError as exc:
                self._error(exc)
                return
            self._send(200, "OK")

        def _register(self, body: bytes) -> None:
            name = self.headers.get(NAME) or ""
            if not name:
                raise ApiError(403, "Extension.InvalidExtensionName", "Empty extension name")
            try:
                doc = json.loads(body or b"{}")
                events = doc.get("events") or []
                if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
                    raise ValueError("events must be a list of strings")
                if doc.get("configurationKeys"):
                    raise ValueError("configurationKeys are deprecated; "
                                     "use environment variables instead")
            except (ValueError, AttributeError) as exc:
                raise ApiError(403, "InvalidRequestFormat", str(exc)) from exc
            ext = registry.register(name, events)
            answer = {key: registry.metadata[key]
                      for key in ("functionName", "functionVersion", "handler")}
            self._send(200, answer, {IDENTIFIER: ext.id})

        def _report(self, kind: str) -> None:
            ext_id = self._identifier()
            error_type = self.headers.get(ERROR_TYPE) or ""
            if not error_type:
                raise ApiError(403, "Extension.MissingHeader", f"{ERROR_TYPE} not found")
            state = "InitError" if kind == "init" else "ExitError"
            registry.report_error(ext_id, error_type, state)
            self._send(202, {"status": "OK"})

    return ExtensionsApiHandler
