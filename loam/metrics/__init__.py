"""Metrics: the recorder the invoke path feeds, AWS/Lambda's CloudWatch metrics read
from it, and its Prometheus exposition."""

from __future__ import annotations

from loam.metrics.recorder import MetricsRecorder

__all__ = ["MetricsRecorder"]
