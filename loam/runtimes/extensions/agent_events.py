"""Registered extensions, their states and the events they wait for.

One ``Registry`` per environment, shared by the HTTP handlers (one thread
per request; ``event/next`` blocks its thread) and the agent's phases. Every
field is guarded by ``cond``; every change notifies it.

States and transitions follow AWS's Extensions API: an external extension
is ``Started`` when its process is, ``Registered`` after ``register``,
``Ready`` while it waits in ``event/next``, ``Running`` once an event was
handed to it; ``InitError`` / ``ExitError`` after it reported one, and
``Exited`` when its process ended. Internal extensions (registered by the
runtime process itself) start at ``Registered``. Error documents and codes
are AWS's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

INVOKE, SHUTDOWN = "INVOKE", "SHUTDOWN"
MAX_EXTENSIONS = 10
_TERMINAL = ("InitError", "ExitError", "Exited")


class ApiError(Exception):
    """An Extensions/Telemetry API error: its HTTP status and AWS's error document."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _transition(state: str, target: str, name: str) -> ApiError:
    return ApiError(403, "Extension.InvalidExtensionState",
                    f"State transition from {state} to {target} failed for extension {name}. "
                    "Error: State transition is not allowed")


class Extension:
    def __init__(self, name: str, external: bool) -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.external = external
        self.state = "Started" if external else "Registered"
        self.events: tuple[str, ...] = ()
        self.queue: deque[dict[str, Any]] = deque()
        # Handed an INVOKE event and not yet back in event/next.
        self.busy = False
        self.error_type: str | None = None
        self.exit_description: str | None = None

    @property
    def alive(self) -> bool:
        return self.state not in _TERMINAL


class Registry:
    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.cond = threading.Condition()
        self.by_id: dict[str, Extension] = {}
        self.externals: dict[str, Extension] = {}
        self.registration_open = True
        # The first fatal error an extension caused: (errorType, message).
        self.fatal: tuple[str, str] | None = None
        # Called (without the lock) after an extension came back to event/next or failed.
        self.on_change: Callable[[], None] = lambda: None

    # -- the API ---------------------------------------------------------------

    def add_external(self, name: str) -> Extension:
        with self.cond:
            ext = Extension(name, external=True)
            self.externals[name] = ext
            self.by_id[ext.id] = ext
            return ext

    def register(self, name: str, events: list[str]) -> Extension:
        with self.cond:
            ext = self.externals.get(name)
            for event in events:
                if event not in (INVOKE, SHUTDOWN):
                    raise ApiError(403, "Extension.InvalidEventType",
                                   f"{event}: ErrorInvalidEventType")
                if event == SHUTDOWN and ext is None:
                    raise ApiError(403, "Extension.InvalidEventType",
                                   f"{event}: ShutdownEventNotSupportedForInternalExtension")
            if ext is None:
                ext = self._new_internal(name)
            elif ext.state != "Started":
                raise _transition(ext.state, "Registered", name)
            ext.state = "Registered"
            ext.events = tuple(dict.fromkeys(events))
            self.cond.notify_all()
            return ext

    def _new_internal(self, name: str) -> Extension:
        if not self.registration_open:
            raise ApiError(403, "Extension.RegistrationClosed",
                           "Extension registration closed already")
        if any(e.name == name for e in self.by_id.values()):
            raise ApiError(403, "Extension.InvalidExtensionState",
                           "Extension with this name already registered")
        if len(self.by_id) >= MAX_EXTENSIONS:
            raise ApiError(403, "Extension.TooManyExtensions",
                           f"Extension limit ({MAX_EXTENSIONS}) reached")
        ext = Extension(name, external=False)
        self.by_id[ext.id] = ext
        return ext

    def find(self, ext_id: str) -> Extension:
        ext = self.by_id.get(ext_id)
        if ext is None:
            raise ApiError(403, "Extension.UnknownExtensionIdentifier",
                           f"Unknown extension {ext_id}")
        return ext

    def next_event(self, ext_id: str) -> dict[str, Any]:
        """Mark the extension ready and block until it has an event."""
        with self.cond:
            ext = self.find(ext_id)
            if ext.state not in ("Registered", "Ready", "Running"):
                raise _transition(ext.state, "Ready", ext_id)
            ext.state = "Ready"
            ext.busy = False
            self.cond.notify_all()
        self.on_change()
        with self.cond:
            while not ext.queue:
                self.cond.wait()
            event = ext.queue.popleft()
            ext.state = "Running"
            ext.busy = event.get("eventType") == INVOKE
            return event

    def report_error(self, ext_id: str, error_type: str, kind: str) -> None:
        """``init/error`` (kind ``InitError``) or ``exit/error`` (``ExitError``)."""
        with self.cond:
            ext = self.find(ext_id)
            if not ext.alive:
                raise _transition(ext.state, kind, ext_id)
            ext.state = kind
            ext.error_type = error_type
            fatal = "Extension.InitError" if kind == "InitError" else "Extension.ExitError"
            if self.fatal is None:
                self.fatal = (fatal, f"Error: {error_type}")
            self.cond.notify_all()
        self.on_change()

    # -- the agent's side --------------------------------------------------------

    def exited(self, ext: Extension, description: str, expected: bool) -> None:
        """The extension's process ended; unexpected ends are AWS's Extension.Crash."""
        with self.cond:
            if ext.alive:
                ext.state = "Exited"
                if not expected and self.fatal is None:
                    self.fatal = ("Extension.Crash", f"Error: {description}")
            ext.exit_description = description
            self.cond.notify_all()
        self.on_change()

    def wait_until(self, predicate: Callable[[], bool], deadline: float | None) -> bool:
        """Wait (monotonic ``deadline``, None: no end) for ``predicate``.

        True if it held; False past the deadline or once an extension failed fatally.
        """
        with self.cond:
            while self.fatal is None:
                if predicate():
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self.cond.wait(left)
            return False

    def all_registered(self) -> bool:
        return all(e.state != "Started" for e in self.externals.values())

    def all_ready(self) -> bool:
        return all(e.state == "Ready" for e in self.by_id.values() if e.alive)

    def close_registration(self) -> None:
        with self.cond:
            self.registration_open = False

    def begin_invoke(self, event: dict[str, Any]) -> None:
        with self.cond:
            for ext in self.by_id.values():
                if ext.alive and INVOKE in ext.events:
                    ext.queue.append(event)
            self.cond.notify_all()

    def invoke_done(self) -> bool:
        """Every INVOKE subscriber took its event and came back to event/next."""
        return all(not (e.queue or e.busy) for e in self.by_id.values()
                   if e.alive and INVOKE in e.events)

    def begin_shutdown(self, event: dict[str, Any]) -> list[Extension]:
        """Queue SHUTDOWN for its subscribers; returns the external ones that were not."""
        with self.cond:
            self.registration_open = False
            others = []
            for ext in self.by_id.values():
                if ext.alive and SHUTDOWN in ext.events:
                    ext.queue.append(event)
                elif ext.external:
                    others.append(ext)
            self.cond.notify_all()
            return others

    def summary(self) -> list[tuple[str, str, tuple[str, ...], str | None]]:
        with self.cond:
            return [(e.name, e.state, e.events, e.error_type) for e in self.by_id.values()]
