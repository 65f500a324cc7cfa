"""The seam through which the invoke path reports what happens (metrics, …).

``InvokeService`` calls an ``InvocationObserver`` at fixed points: a
request throttled, an Event invocation accepted, a queued event starting, an
invocation beginning in an environment and its report. Observers run on
the event loop, inside the invoke path: they must only update memory (no
I/O, no blocking) and must not raise.
"""

from __future__ import annotations

from typing import Any, Protocol

from loam.control.models import FunctionState
from loam.sandbox.environment import InvocationOutcome, InvocationRequest
from loam.store import AsyncEventRecord

__all__ = ["InvocationObserver", "NullObserver"]


class InvocationObserver(Protocol):
    def throttled(self, function_name: str, qualifier: str | None) -> None: ...

    def event_accepted(self, function_name: str, qualifier: str | None) -> None: ...

    def event_started(self, record: AsyncEventRecord) -> None: ...

    def began(self, fn: FunctionState, request: InvocationRequest) -> Any:
        """An invocation starts in an environment; what it returns comes back to
        ``finished``."""

    def finished(self, fn: FunctionState, request: InvocationRequest,
                 outcome: InvocationOutcome | None, began: Any) -> None:
        """The invocation's report (``outcome`` None: it was interrupted, e.g. the
        client went away); called once for every ``began``."""


class NullObserver:
    def throttled(self, function_name: str, qualifier: str | None) -> None:
        return None

    def event_accepted(self, function_name: str, qualifier: str | None) -> None:
        return None

    def event_started(self, record: AsyncEventRecord) -> None:
        return None

    def began(self, fn: FunctionState, request: InvocationRequest) -> Any:
        return None

    def finished(self, fn: FunctionState, request: InvocationRequest,
                 outcome: InvocationOutcome | None, began: Any) -> None:
        return None
