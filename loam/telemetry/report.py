"""The platform lines AWS writes around every invocation, in AWS's exact format."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

__all__ = ["InvocationReport", "billed_ms", "end_line", "start_line", "timestamp_prefix"]


def billed_ms(duration_ms: float) -> int:
    """Billed duration: rounded up to the next millisecond, at least 1 ms."""
    return max(1, math.ceil(duration_ms))


def start_line(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}\n"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}\n"


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
