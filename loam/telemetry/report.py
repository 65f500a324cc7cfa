"""The platform lines AWS writes around every invocation, in AWS's exact format.

With LoggingConfig's LogFormat ``Text`` they are the START / END / REPORT
lines; with ``JSON`` they are one JSON object per line, ``{"time", "type",
"record"}``, of types ``platform.start``, ``platform.runtimeDone`` and
``platform.report`` (``platform_start``, ``platform_runtime_done``,
``InvocationReport.json_line``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "InvocationReport",
    "billed_ms",
    "end_line",
    "platform_record",
    "platform_runtime_done",
    "platform_start",
    "start_line",
    "timestamp_prefix",
]


def billed_ms(duration_ms: float) -> int:
    """Billed duration: rounded up to the next millisecond, at least 1 ms."""
    return max(1, math.ceil(duration_ms))


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


def platform_record(kind: str, epoch: float, record: dict[str, Any]) -> str:
    """One JSON-format system log line, as Lambda writes it to CloudWatch Logs."""
    doc = {"time": timestamp_prefix(epoch), "type": kind, "record": record}
    return json.dumps(doc, separators=(",", ":")) + "\n"


def platform_start(request_id: str, version: str, epoch: float) -> str:
    return platform_record("platform.start", epoch, {"requestId": request_id,
                                                     "version": version})


def platform_runtime_done(request_id: str, status: str, duration_ms: float,
                          produced_bytes: int, epoch: float) -> str:
    """``status``: success, error, timeout or failure (Lambda's runtimeDone statuses)."""
    return platform_record("platform.runtimeDone", epoch, {
        "requestId": request_id, "status": status,
        "metrics": {"durationMs": round(duration_ms, 3), "producedBytes": produced_bytes}})


def timestamp_prefix(epoch: float) -> str:
    ms = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{ms:03d}Z"


@dataclass(frozen=True)
class InvocationReport:
    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None = None
    status: str | None = None  # None (success or handled error), "timeout", "error"
    error_type: str | None = None
    # Never bill past the timeout: a timed-out invocation bills exactly the timeout.
    max_billed_ms: int | None = None
    # An environment forked from a template reports this (as SnapStart) instead of Init.
    restore_duration_ms: float | None = None

    @property
    def billed_duration_ms(self) -> int:
        billed = billed_ms(self.duration_ms)
        return billed if self.max_billed_ms is None else min(billed, self.max_billed_ms)

    def line(self) -> str:
        parts = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {self.billed_duration_ms} ms",
            f"Memory Size: {self.memory_size_mb} MB",
            f"Max Memory Used: {self.max_memory_used_mb} MB",
        ]
        if self.init_duration_ms is not None:
            parts.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        elif self.restore_duration_ms is not None:
            parts.append(f"Restore Duration: {self.restore_duration_ms:.2f} ms")
        if self.status is not None:
            parts.append(f"Status: {self.status}")
        if self.error_type is not None:
            parts.append(f"Error Type: {self.error_type}")
        return "\t".join(parts) + "\t\n"

    def json_line(self, epoch: float) -> str:
        """The ``platform.report`` record (JSON log format) for this invocation."""
        metrics: dict[str, Any] = {
            "durationMs": round(self.duration_ms, 3),
            "billedDurationMs": self.billed_duration_ms,
            "memorySizeMB": self.memory_size_mb,
            "maxMemoryUsedMB": self.max_memory_used_mb,
        }
        if self.init_duration_ms is not None:
            metrics["initDurationMs"] = round(self.init_duration_ms, 3)
        elif self.restore_duration_ms is not None:
            metrics["restoreDurationMs"] = round(self.restore_duration_ms, 3)
        record: dict[str, Any] = {"requestId": self.request_id, "metrics": metrics,
                                  "status": self.status or "success"}
        if self.error_type is not None:
            record["errorType"] = self.error_type
        return platform_record("platform.report", epoch, record)
