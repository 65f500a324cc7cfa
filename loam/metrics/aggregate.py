"""One minute of one metric: count, sum, minimum, maximum and a log-scale histogram.

The histogram's bins are 1/16 of a power of two wide (about 4.4 %), so a
percentile read from it is within that of the true value, and clamped to the
observed minimum and maximum (exact for one sample, or when all are equal).
Adding a sample is a few float operations and one dict update.
"""

from __future__ import annotations

import math

__all__ = ["Aggregate"]

_BINS_PER_OCTAVE = 16
_ZERO_BIN = -(1 << 30)  # samples <= 0


def _bin(value: float) -> int:
    if value <= 0.0:
        return _ZERO_BIN
    return math.floor(math.log2(value) * _BINS_PER_OCTAVE)


# The bins of the small whole numbers (concurrency samples, one per invocation), looked up.
_SMALL_BINS = tuple(_bin(n) for n in range(4096))


def _bin_value(index: int) -> float:
    if index == _ZERO_BIN:
        return 0.0
    return float(2.0 ** ((index + 0.5) / _BINS_PER_OCTAVE))


class Aggregate:
    """Mutable: owned by the recorder, which adds samples on the event loop."""

    __slots__ = ("bins", "count", "high", "low", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.low = math.inf
        self.high = -math.inf
        self.bins: dict[int, int] = {}

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        small = type(value) is int and 0 <= value < len(_SMALL_BINS)
        index = _SMALL_BINS[int(value)] if small else _bin(value)
        self.bins[index] = self.bins.get(index, 0) + 1

    def merge(self, other: Aggregate) -> None:
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        for index, n in other.bins.items():
            self.bins[index] = self.bins.get(index, 0) + n

    def percentile(self, p: float) -> float:
        """The smallest value at or below which ``p`` percent of the samples fall."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(p / 100.0 * self.count))
        seen = 0
        for index in sorted(self.bins):
            seen += self.bins[index]
            if seen >= rank:
                return min(max(_bin_value(index), self.low), self.high)
        return self.high
