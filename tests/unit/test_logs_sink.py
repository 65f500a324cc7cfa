"""The buffered log sink: lines, batches, back-pressure, loud drops, retried writes."""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from loam.clock import FakeClock
from loam.telemetry.buffered import BufferedLogSink, LogLine
from loam.telemetry.logs import ConsoleEcho


class Recorder:
    """A batch writer that keeps what it is given; it can be slowed, held or made to fail."""

    def __init__(self, delay: float = 0.0, failures: int = 0) -> None:
        self.lines: list[LogLine] = []
        self.batches = 0
        self.delay = delay
        self.failures = failures
        self.open = threading.Event()
        self.open.set()

    def __call__(self, batch: Sequence[LogLine]) -> None:
        self.open.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("database is locked")
        time.sleep(self.delay)
        self.lines.extend(batch)
        self.batches += 1


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def started(sink: BufferedLogSink) -> BufferedLogSink:
    sink.start()
    return sink


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sinks() -> Iterator[list[BufferedLogSink]]:
    made: list[BufferedLogSink] = []
    yield made
    for sink in made:
        sink.close(timeout=5)


def test_lines_keep_their_newline_order_and_timestamp(
        recorder: Recorder, clock: FakeClock, sinks: list[BufferedLogSink]) -> None:
    sink = started(BufferedLogSink(recorder, clock))
    sinks.append(sink)
    sink.emit("/g", "s", "START\nmulti\rline record\nno newline at the end")
    clock.advance(0.0125)
    sink.emit("/g", "s", "later\n")
    assert sink.flush(5)
    assert [line.message for line in recorder.lines] == [
        "START\n", "multi\rline record\n", "no newline at the end", "later\n"]
    assert [line.timestamp for line in recorder.lines] == [1_700_000_000_000] * 3 + [
        1_700_000_000_012]


def test_batches_are_bounded(recorder: Recorder, clock: FakeClock,
                             sinks: list[BufferedLogSink]) -> None:
    sink = started(BufferedLogSink(recorder, clock, batch_lines=100))
    sinks.append(sink)
    sink.emit("/g", "s", "".join(f"{i}\n" for i in range(1050)))
    assert sink.flush(5)
    assert recorder.batches == 11
    assert sink.statistics().lines_written == 1050


def test_a_flood_of_100_mb_loses_no_line_and_memory_stays_bounded(
        clock: FakeClock, sinks: list[BufferedLogSink]) -> None:
    recorder = Recorder(delay=0.002)
    capacity = 4 << 20
    sink = started(BufferedLogSink(recorder, clock, capacity=capacity, max_wait_s=30))
    sinks.append(sink)
    text = "".join(f"{i:07d} " + "x" * 91 + "\n" for i in range(10_000))  # 1 MB, 10k lines
    most_pending = 0
    for _ in range(100):
        sink.emit("/flood", "s", text)
        most_pending = max(most_pending, sink.statistics().pending_chars)
    assert sink.flush(60)
    stats = sink.statistics()
    assert stats.lines_written == 1_000_000 and stats.lines_dropped == 0
    assert stats.producer_waits > 0
    assert most_pending <= capacity // 4 + len(text)
    assert len(recorder.lines) == 1_000_000
    assert recorder.lines[-1].message.startswith("0009999 ")


def test_a_flooding_group_does_not_make_others_wait(
        clock: FakeClock, sinks: list[BufferedLogSink]) -> None:
    recorder = Recorder()
    recorder.open.clear()  # the writer is stuck: nothing drains
    sink = BufferedLogSink(recorder, clock, capacity=4000, max_wait_s=0.05)
    sinks.append(sink)
    sink.start()
    sink.emit("/flood", "s", "f" * 999 + "\n")
    sink.emit("/flood", "s", "f\n")  # past its share (1000): it waits, then is admitted
    assert sink.statistics().producer_waits == 1
    began = time.monotonic()
    sink.emit("/quiet", "s", "q\n")
    assert time.monotonic() - began < 0.05
    assert sink.statistics().producer_waits == 1
    recorder.open.set()
    assert sink.flush(5)
    assert sorted(line.message for line in recorder.lines) == sorted(
        ["f" * 999 + "\n", "f\n", "q\n"])


def test_past_capacity_lines_are_dropped_loudly(
        clock: FakeClock, sinks: list[BufferedLogSink],
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    recorder.open.clear()
    sink = BufferedLogSink(recorder, clock, capacity=100, max_wait_s=0.01)
    sinks.append(sink)
    sink.start()
    sink.emit("/g", "s", "a" * 89 + "\n")
    with caplog.at_level("WARNING", logger="loam.telemetry"):
        sink.emit("/g", "s", "b\nc\nd\n" * 10)
    assert "30 log lines dropped" in caplog.text
    assert sink.statistics().lines_dropped == 30
    recorder.open.set()
    assert sink.flush(5)
    assert [line.message for line in recorder.lines] == [
        "a" * 89 + "\n",
        "[loam] 30 log lines were dropped: the log store could not keep up\n"]


def test_a_failed_write_is_retried_with_the_same_batch(
        clock: FakeClock, sinks: list[BufferedLogSink],
        caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder(failures=2)
    sink = started(BufferedLogSink(recorder, clock, retry_s=0.01))
    sinks.append(sink)
    with caplog.at_level("ERROR", logger="loam.telemetry"):
        sink.emit("/g", "s", "kept\n")
        assert sink.flush(5)
    assert [line.message for line in recorder.lines] == ["kept\n"]
    assert sink.statistics().write_failures == 2
    assert "retrying" in caplog.text


def test_the_echo_sees_every_written_line(recorder: Recorder, clock: FakeClock,
                                          sinks: list[BufferedLogSink]) -> None:
    seen: list[LogLine] = []
    sink = started(BufferedLogSink(recorder, clock, echo=seen.extend))
    sinks.append(sink)
    sink.emit("/g", "s", "hello\nworld\n")
    sink.emit("/h", "t", "again\n")
    assert sink.flush(5)
    assert [(line.group, line.message) for line in seen] == [
        ("/g", "hello\n"), ("/g", "world\n"), ("/h", "again\n")]
    assert seen == recorder.lines


def test_queued_texts_of_many_invocations_share_one_write(
        clock: FakeClock, sinks: list[BufferedLogSink]) -> None:
    batches: list[int] = []
    gate = threading.Event()

    def write(lines: Sequence[LogLine]) -> None:
        gate.wait(5)
        batches.append(len(lines))

    sink = started(BufferedLogSink(write, clock))
    sinks.append(sink)
    sink.emit("/g", "s", "first\n")  # the writer takes this one and waits in write
    time.sleep(0.05)
    for n in range(50):
        sink.emit(f"/g{n % 3}", "s", f"START {n}\nEND {n}\nREPORT {n}\n")
    gate.set()
    assert sink.flush(5)
    assert batches == [1, 150]


def test_console_echo_prints_one_line_per_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="loam.function")
    out = io.StringIO()
    ConsoleEcho(out)([LogLine("/aws/lambda/f", "s", 0, "hello\n"),
                      LogLine("/aws/lambda/f", "s", 0, "no newline")])
    printed = out.getvalue().splitlines()
    assert [line.split(" INFO loam.function: ")[1] for line in printed] == [
        "/aws/lambda/f hello", "/aws/lambda/f no newline"]


def test_console_echo_is_silent_when_its_logger_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="loam.function")
    out = io.StringIO()
    ConsoleEcho(out)([LogLine("/aws/lambda/f", "s", 0, "hello\n")])
    assert out.getvalue() == ""


def test_put_holds_a_flooding_producer_without_blocking_the_loop(
        recorder: Recorder, clock: FakeClock, sinks: list[BufferedLogSink]) -> None:
    recorder.open.clear()
    sink = started(BufferedLogSink(recorder, clock, capacity=4000))  # a group's share: 1000
    sinks.append(sink)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(tick())
        await sink.put("/g", "s", "a" * 900 + "\n")  # admitted: nothing was pending
        # 40 tiny lines weigh 40 x (2 + 26): past the share although only 80 characters
        held = asyncio.create_task(sink.put("/g", "s", "b\n" * 40))
        await asyncio.sleep(0.1)
        assert not held.done()
        recorder.open.set()
        await asyncio.wait_for(held, 5)
        ticker.cancel()
        return ticks

    assert asyncio.run(main()) > 20  # the loop kept running while the producer waited
    assert sink.flush(5)
    assert len(recorder.lines) == 41
    assert sink.statistics().producer_waits == 1
