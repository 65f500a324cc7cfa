"""The invoke service, reporting each invocation to the metrics recorder.

``InstrumentedInvokeService`` is ``InvokeService`` with the recorder's calls
at the points where an invocation is throttled, begins, and is reported
(the REPORT line is built once per invocation, synchronous, streamed or
queued). What it adds per invocation: a context variable set and reset, and
the recorder's dict updates.
"""

from __future__ import annotations

import contextvars
from typing import Any

from loam.control.models import FunctionState
from loam.control.names import parse_function_name
from loam.errors import TooManyRequestsException
from loam.invoke.async_queue import Attempt
from loam.invoke.service import InvokeResult, InvokeService, ResponseStream, StreamEnd
from loam.metrics.recorder import MetricsRecorder, resource_of
from loam.sandbox.environment import (
    ChunkSink,
    EnvironmentSpec,
    InvocationOutcome,
    InvocationRequest,
)
from loam.store import AsyncEventRecord
from loam.telemetry.report import InvocationReport

__all__ = ["InstrumentedInvokeService"]

# (resource, executed version) of the invocation the current task is running.
_running: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "loam_metrics_running")


class InstrumentedInvokeService(InvokeService):
    def __init__(self, *args: Any, recorder: MetricsRecorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.recorder = recorder

    async def invoke(self, function_name: str, qualifier: str | None, invocation_type: str,
                     log_type: str, payload: bytes, client_context: str | None = None,
                     trace: str | None = None) -> InvokeResult:
        try:
            result = await super().invoke(function_name, qualifier, invocation_type, log_type,
                                          payload, client_context, trace)
        except TooManyRequestsException:
            self._throttled(function_name, qualifier)
            raise
        if invocation_type == "Event":
            name, resource = _named(function_name, qualifier)
            self.recorder.event_received(name, resource)
        return result

    async def invoke_with_response_stream(
        self, function_name: str, qualifier: str | None, invocation_type: str, log_type: str,
        payload: bytes, client_context: str | None = None,
    ) -> ResponseStream | None:
        try:
            return await super().invoke_with_response_stream(
                function_name, qualifier, invocation_type, log_type, payload, client_context)
        except TooManyRequestsException:
            self._throttled(function_name, qualifier)
            raise

    async def run_event(self, record: AsyncEventRecord) -> Attempt:
        age_ms = max(0.0, (self.clock.time() - record.enqueued_at) * 1000.0)
        self.recorder.event_started(record.function, None, age_ms)
        return await super().run_event(record)

    async def _execute(self, fn: FunctionState, spec: EnvironmentSpec,
                       request: InvocationRequest) -> tuple[str, bytes, bool]:
        token = self._begin(fn, request)
        try:
            return await super()._execute(fn, spec, request)
        finally:
            _running.reset(token)
            self.recorder.ended(fn.name)

    async def _run_streaming(self, fn: FunctionState, spec: EnvironmentSpec,
                             request: InvocationRequest, emit: ChunkSink,
                             tail: bool) -> StreamEnd:
        token = self._begin(fn, request)
        try:
            return await super()._run_streaming(fn, spec, request, emit, tail)
        finally:
            _running.reset(token)
            self.recorder.ended(fn.name)

    def _report(self, fn: FunctionState, rid: str,
                outcome: InvocationOutcome) -> InvocationReport:
        resource, executed = _running.get((None, None))
        self.recorder.finished(fn.name, resource, executed, outcome.duration_ms,
                               outcome.init_ms, outcome.status != "success")
        return super()._report(fn, rid, outcome)

    def _begin(self, fn: FunctionState, request: InvocationRequest) -> contextvars.Token[
            tuple[str | None, str | None]]:
        resource = resource_of(request.invoked_function_arn)
        # ExecutedVersion is published for alias invocations only.
        qualifier = resource.rpartition(":")[2] if resource else None
        executed = fn.version if qualifier is not None and qualifier != fn.version else None
        self.recorder.started(fn.name, resource, executed)
        return _running.set((resource, executed))

    def _throttled(self, function_name: str, qualifier: str | None) -> None:
        name, resource = _named(function_name, qualifier)
        self.recorder.throttled(name, resource)


def _named(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    ref = parse_function_name(function_name, qualifier)
    return ref.name, f"{ref.name}:{ref.qualifier}" if ref.qualifier else None
