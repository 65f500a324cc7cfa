"""The Telemetry API (2022-07-01) inside an environment.

An extension subscribes with ``PUT /2022-07-01/telemetry``; from then on the
records of the types it chose (``platform``, ``function``, ``extension``)
are buffered per subscriber and sent to its listener on this environment's
own loopback, either POSTed as one JSON array to
``http://sandbox.localdomain:PORT/...`` (HTTP) or written one JSON record a
line to ``127.0.0.1:PORT`` (TCP), whenever ``maxItems`` or ``maxBytes`` is reached or ``timeoutMs``
has passed since the oldest buffered record. Records made before the
subscription (Init's) are replayed to it, as AWS delivers Init's telemetry
to extensions that subscribe during Init. Subscribing is open during Init
only. Validation, limits and defaults are AWS's.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections import deque
from typing import Any

from agent_events import ApiError

SCHEMA_VERSIONS = ("2022-07-01", "2022-12-13", "2025-01-29")
TYPES = ("platform", "function", "extension")
LOCAL_HOSTS = ("sandbox.localdomain", "sandbox")
# name → (minimum, maximum, default)
BUFFERING = {"maxItems": (1000, 10000, 10000), "maxBytes": (262144, 1048576, 262144),
             "timeoutMs": (25, 30000, 1000)}
BACKLOG = 1000


def timestamp(epoch: float | None = None) -> str:
    moment = time.time() if epoch is None else epoch
    millis = int(moment * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + f".{millis:03d}Z"


def _invalid(message: str) -> ApiError:
    return ApiError(400, "ValidationError", message)


class Subscriber:
    def __init__(self, name: str, types: set[str], port: int, path: str | None,
                 buffering: dict[str, int]) -> None:
        """``path`` None: the TCP protocol."""
        self.name = name
        self.types = types
        self.port = port
        self.path = path
        self.tcp: socket.socket | None = None
        self.max_items = buffering["maxItems"]
        self.max_bytes = buffering["maxBytes"]
        self.timeout_s = buffering["timeoutMs"] / 1000
        self.cond = threading.Condition()
        self.buffer: list[bytes] = []
        self.size = 0
        self.oldest = 0.0
        self.closing = False
        self.in_flight = False
        self.thread = threading.Thread(target=self._run, name=f"telemetry-{name}", daemon=True)
        self.thread.start()

    def add(self, record: bytes) -> None:
        with self.cond:
            if not self.buffer:
                self.oldest = time.monotonic()
            self.buffer.append(record)
            self.size += len(record)
            self.cond.notify_all()

    def _due(self) -> bool:
        return bool(self.buffer) and (
            self.closing or len(self.buffer) >= self.max_items or self.size >= self.max_bytes
            or time.monotonic() - self.oldest >= self.timeout_s)

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self._due():
                    if self.closing:
                        return
                    wait = self.oldest + self.timeout_s - time.monotonic() if self.buffer else None
                    self.cond.wait(wait)
                batch, self.buffer, self.size = self.buffer, [], 0
                self.in_flight = True
            try:
                if self.path is None:
                    self._write(b"".join(record + b"\n" for record in batch))
                else:
                    self._post(b"[" + b",".join(batch) + b"]")
            finally:
                with self.cond:
                    self.in_flight = False
                    self.cond.notify_all()

    def _post(self, body: bytes) -> None:
        for _ in range(3):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                conn.getresponse().read()
                conn.close()
                return
            except OSError:
                time.sleep(0.05)

    def _write(self, data: bytes) -> None:
        for _ in range(3):
            try:
                if self.tcp is None:
                    self.tcp = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                self.tcp.sendall(data)
                return
            except OSError:
                if self.tcp is not None:
                    self.tcp.close()
                self.tcp = None
                time.sleep(0.05)

    def flush(self, deadline: float) -> None:
        """Send what is buffered now, waiting at most until ``deadline`` (monotonic)."""
        with self.cond:
            self.closing = True
            self.cond.notify_all()
            while self.buffer or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)
            self.closing = False


class Telemetry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.subscribers: list[Subscriber] = []
        self.backlog: deque[tuple[str, bytes]] = deque(maxlen=BACKLOG)
        self.open = True

    @property
    def active(self) -> bool:
        return bool(self.subscribers) or self.open

    def emit(self, kind: str, record: Any, epoch: float | None = None) -> None:
        """One record: ``kind`` is ``function``, ``extension`` or ``platform.*``."""
        if not self.active:
            return
        doc = json.dumps({"time": timestamp(epoch), "type": kind, "record": record}).encode()
        category = kind.split(".")[0]
        with self.lock:
            if self.open:
                self.backlog.append((category, doc))
            for sub in self.subscribers:
                if category in sub.types:
                    sub.add(doc)

    def subscribe(self, name: str, body: bytes) -> Subscriber:
        request = _parse(body)
        destination = request["destination"]
        if destination["protocol"] == "TCP":
            port, path = destination["port"], None
        else:
            uri = urllib.parse.urlsplit(destination["URI"])
            port, path = uri.port or 80, uri.path or "/"
        sub = Subscriber(name, set(request["types"]), port, path, request["buffering"])
        with self.lock:
            if not self.open:
                raise ApiError(403, "Telemetry.SubscriptionClosed",
                               "Telemetry API subscription is closed")
            self.subscribers = [s for s in self.subscribers if s.name != name] + [sub]
            for category, doc in self.backlog:
                if category in sub.types:
                    sub.add(doc)
        self.emit("platform.telemetrySubscription",
                  {"name": name, "state": "Subscribed", "types": request["types"]})
        return sub

    def close_subscriptions(self) -> None:
        with self.lock:
            self.open = False
            self.backlog.clear()

    def flush(self, deadline: float) -> None:
        for sub in list(self.subscribers):
            sub.flush(deadline)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"null")
    except ValueError as exc:
        raise _invalid(f"Invalid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise _invalid("schema validation error: expected an object")
    for key in ("schemaVersion", "types", "destination"):
        if key not in doc:
            raise _invalid(f"schema validation error: missing property '{key}'")
    if doc["schemaVersion"] not in SCHEMA_VERSIONS:
        raise _invalid(f"schema validation error: schemaVersion must be one of {SCHEMA_VERSIONS}")
    types = doc["types"]
    if not isinstance(types, list) or not types or any(t not in TYPES for t in types):
        raise _invalid(f"schema validation error: types must be a non-empty list of {TYPES}")
    destination = doc["destination"]
    if isinstance(destination, dict) and destination.get("protocol") == "TCP":
        port = destination.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise _invalid("schema validation error: destination.port must be an integer "
                           "from 1 to 65535")
    elif not isinstance(destination, dict) or destination.get("protocol") != "HTTP" \
            or not isinstance(destination.get("URI"), str):
        raise _invalid("schema validation error: destination must be "
                       '{"protocol": "HTTP", "URI": "http://sandbox.localdomain:PORT/PATH"} '
                       'or {"protocol": "TCP", "port": PORT}')
    else:
        _check_uri(destination["URI"])
    buffering = doc.get("buffering") or {}
    if not isinstance(buffering, dict):
        raise _invalid("schema validation error: buffering must be an object")
    settings = {}
    for name, (low, high, default) in BUFFERING.items():
        value = buffering.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise _invalid(f"schema validation error: buffering.{name} must be an integer "
                           f"from {low} to {high}")
        settings[name] = value
    doc["buffering"] = settings
    return doc


def _check_uri(text: str) -> None:
    try:
        uri = urllib.parse.urlsplit(text)
        port = uri.port
    except ValueError as exc:
        raise _invalid(f"Invalid destination: {exc}") from exc
    if uri.hostname not in LOCAL_HOSTS or port is None:
        raise _invalid("Invalid destination: destination.URI host must be sandbox.localdomain")
