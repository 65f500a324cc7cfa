"""Namespaces other than AWS/Lambda: a ``MetricSource`` per namespace.

The cloudwatch service reads ``AWS/Lambda`` from the node's metrics
recorder; any other namespace it serves comes from a source given to it
(``Loam/Billing`` from the billing usage, for one). A source answers with the
same aggregates the recorder's metrics give, so every statistic works alike.
"""

from __future__ import annotations

from typing import Protocol

from loam.metrics.aggregate import Aggregate
from loam.metrics.catalogue import Dimensions

__all__ = ["MetricSource"]


class MetricSource(Protocol):
    namespace: str

    def unit(self, metric: str) -> str | None:
        """The metric's unit; None when this namespace has no such metric."""

    async def periods(self, metric: str, dimensions: Dimensions, start: float, end: float,
                      period: int) -> dict[int, Aggregate]:
        """Period start (epoch seconds, aligned on ``start``) → the samples published
        under exactly ``dimensions`` in [start, end)."""

    async def metrics(self) -> list[tuple[str, Dimensions]]:
        """Every (metric, dimension set) with data."""
