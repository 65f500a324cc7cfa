"""The node sampler: event source mapping counts as per-minute increases, queue backlogs
as gauges, read back as CloudWatch aggregates."""

from __future__ import annotations

from dataclasses import dataclass

from loam.clock import FakeClock
from loam.metrics.sampled import SampledMetrics
from loam.metrics.sampler import NodeSampler
from tests.unit.test_sqs_support import run

START = 1_700_000_040.0
ESM = (("EventSourceMappingUUID", "u-1"),)
QUEUE = (("QueueName", "jobs"),)


@dataclass
class Counts:
    polled: int = 0
    filtered: int = 0
    invoked: int = 0
    failed: int = 0
    dropped: int = 0


def test_counts_are_increases_per_minute_and_backlogs_gauges() -> None:
    clock = FakeClock(START)
    sampled = SampledMetrics(clock)
    counts = {"u-1": Counts()}
    lag = {"jobs": (7, START - 30.0), "idle": (0, None)}

    async def queue_lag() -> dict[str, tuple[int, float | None]]:
        return dict(lag)

    sampler = NodeSampler(sampled, clock, lambda: counts, queue_lag)
    counts["u-1"] = Counts(polled=10, invoked=8, failed=2, filtered=2)
    run(sampler.tick())
    clock.advance(60)
    counts["u-1"] = Counts(polled=15, invoked=13, failed=2, filtered=2, dropped=1)
    lag["jobs"] = (3, START + 50.0)
    run(sampler.tick())
    run(sampler.tick())  # nothing new: no samples added

    def by_minute(namespace: str, metric: str, dims: tuple[tuple[str, str], ...]
                  ) -> dict[int, tuple[int, float, float]]:
        periods = sampled.periods(namespace, metric, dims, START, START + 120, 60)
        return {slot - int(START): (a.count, a.total, a.high) for slot, a in periods.items()}

    assert by_minute("AWS/Lambda", "PolledEventCount", ESM) == {0: (10, 10, 1), 60: (5, 5, 1)}
    assert by_minute("AWS/Lambda", "FailedInvokeEventCount", ESM) == {0: (2, 2, 1)}
    assert by_minute("AWS/Lambda", "DroppedEventCount", ESM) == {60: (1, 1, 1)}
    visible = by_minute("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE)
    assert visible == {0: (1, 7, 7), 60: (2, 6, 3)}
    # the oldest message was sent 30 s before the first sample, 50 s after START later
    age = by_minute("AWS/SQS", "ApproximateAgeOfOldestMessage", QUEUE)
    assert age == {0: (1, 30, 30), 60: (2, 20, 10)}
    assert by_minute("AWS/SQS", "ApproximateAgeOfOldestMessage", (("QueueName", "idle"),)) \
        == {0: (1, 0, 0), 60: (2, 0, 0)}
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE) in sampled.known("AWS/SQS")
    assert all(key[0] == "AWS/Lambda" for key in sampled.known("AWS/Lambda"))


def test_series_are_bounded() -> None:
    sampled = SampledMetrics(FakeClock(START), max_series=1)
    sampled.gauge("AWS/SQS", "ApproximateNumberOfMessagesVisible", QUEUE, 1.0)
    sampled.gauge("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "b"),), 1.0)
    assert sampled.dropped_series == 1
    assert len(sampled.known()) == 1
