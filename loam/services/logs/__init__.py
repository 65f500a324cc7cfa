"""The CloudWatch-Logs-compatible ``logs`` service (see ``service.py``)."""

from loam.services.logs.service import LogsService, LogsStatistics

__all__ = ["LogsService", "LogsStatistics"]
