"""The invoke path's observer that feeds the metrics recorder.

``MetricsObserver`` is the ``InvocationObserver`` (loam/invoke/observer.py)
the node gives ``InvokeService``: each call is a few dictionary updates in
the recorder, on the event loop.
"""

from __future__ import annotations

import json

from loam.billing.usage import UsageRecorder
from loam.control.models import FunctionState
from loam.control.names import parse_function_name
from loam.invoke.admission import Admission, on_provisioned_now
from loam.metrics.recorder import MetricsRecorder, resource_of
from loam.sandbox.environment import InvocationOutcome, InvocationRequest
from loam.store import AsyncEventRecord

__all__ = ["MetricsObserver"]

# (resource, executed version, served by provisioned concurrency — None when the
# version has none) of an invocation, from its beginning to its report.
Began = tuple[str | None, str | None, bool | None]


class MetricsObserver:
    def __init__(self, recorder: MetricsRecorder, usage: UsageRecorder | None = None,
                 admission: Admission | None = None) -> None:
        self.recorder = recorder
        self.usage = usage  # the billing usage (loam/billing/usage.py), when kept
        self.admission = admission  # who knows provisioned concurrency, when there is one

    def throttled(self, function_name: str, qualifier: str | None) -> None:
        self.recorder.throttled(*_named(function_name, qualifier))

    def event_accepted(self, function_name: str, qualifier: str | None) -> None:
        self.recorder.event_received(*_named(function_name, qualifier))

    def event_started(self, record: AsyncEventRecord) -> None:
        age_ms = max(0.0, (self.recorder.clock.time() - record.enqueued_at) * 1000.0)
        self.recorder.event_started(record.function, None, age_ms)

    def event_dropped(self, record: AsyncEventRecord) -> None:
        """The async queue gave an event up (``AsyncQueue``'s ``on_dropped``)."""
        qualifier = json.loads(record.document).get("qualifier")
        self.recorder.event_dropped(*_named(record.function, qualifier))

    def began(self, fn: FunctionState, request: InvocationRequest) -> Began:
        resource = resource_of(request.invoked_function_arn)
        # ExecutedVersion is published for alias invocations only.
        qualifier = resource.rpartition(":")[2] if resource else None
        executed = fn.version if qualifier is not None and qualifier != fn.version else None
        self.recorder.started(fn.name, resource, executed)
        provisioned: bool | None = None
        if self.admission is not None:
            running, size = self.admission.provisioned(fn.name, fn.version)
            if size:
                provisioned = on_provisioned_now.get()
                self.recorder.provisioned(fn.name, resource, executed, running, size)
        return resource, executed, provisioned

    def finished(self, fn: FunctionState, request: InvocationRequest,
                 outcome: InvocationOutcome | None, began: Began) -> None:
        if outcome is not None:
            resource, executed, provisioned = began
            # A forked environment's restore is its cold start's init, as REPORT shows it.
            init_ms = outcome.init_ms if outcome.init_ms is not None else outcome.restore_ms
            self.recorder.finished(fn.name, resource, executed, outcome.duration_ms,
                                   init_ms, outcome.status != "success", provisioned)
            if self.usage is not None:
                self.usage.record_duration(fn.name, fn.architectures[0], fn.memory_size,
                                           fn.ephemeral_storage, outcome.duration_ms,
                                           fn.timeout, bool(provisioned))
        self.recorder.ended(fn.name)


def _named(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    ref = parse_function_name(function_name, qualifier)
    return ref.name, f"{ref.name}:{ref.qualifier}" if ref.qualifier else None
