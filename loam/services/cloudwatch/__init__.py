"""The embedded ``cloudwatch`` service (AWS/Lambda's metrics)."""

from __future__ import annotations

from loam.services.cloudwatch.service import CloudWatchService

__all__ = ["CloudWatchService"]
