"""A ``LogSink`` that keeps function output durably without slowing invocations.

``emit`` splits nothing and writes nothing: it stamps the text with the
clock's time (epoch milliseconds; every line of one ``emit`` shares it, and
events with equal timestamps keep their order) and queues it. A writer thread
takes everything queued (up to ``batch_chars`` at a time), cuts it into lines
(``\\n``-terminated, as CloudWatch stores them; a ``\\r`` inside a line stays
in it) and hands them to ``write`` in batches of at most ``batch_lines`` — one
transaction each. Under load one transaction carries the lines of many
invocations, so the store costs little per invocation; ``echo`` (the console)
gets each written batch on the same thread.

Memory is bounded, with back-pressure instead of loss. Texts are weighed as
stored bytes (characters plus ``EVENT_OVERHEAD`` per line):

- at most ``capacity`` wait in total, and one log group at most
  ``capacity // 4``, so a function that floods its log slows itself, not the
  others;
- a producer past either bound waits for the writer: ``emit`` (threads) at
  most ``max_wait_s``; ``put`` (the event loop) without blocking the loop, and
  without limit unless told — an invocation's output past its environment's
  buffer comes through ``put``, so the printing function waits in write(2);
- after that it is admitted if the total bound still holds; only when even
  that is exceeded (the store is failing or far behind) is the text dropped —
  never silently: the drop is counted in ``statistics()``, logged to the
  console, and a notice line naming how many lines went is written into the
  stream as soon as the writer can.

A failed write is logged and retried (the batch is kept) until ``close``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loam.clock import Clock
from loam.telemetry.logs import LogLine

__all__ = ["BatchWriter", "BufferedLogSink", "LogLine", "SinkStatistics"]

log = logging.getLogger("loam.telemetry")

CAPACITY_CHARS = 64 << 20
MAX_WAIT_S = 0.1
BATCH_LINES = 2_000
BATCH_CHARS = 1 << 20
# After a write that was not full, the writer waits this long for more: under load one
# transaction then carries dozens of invocations' lines instead of one or two.
LINGER_S = 0.02
RETRY_S = 1.0
PUT_POLL_S = 0.005
# What one stored event costs beyond its text (CloudWatch's accounting): the bounds
# count it, so a flood of tiny lines is held back by its row count, not only its size.
EVENT_OVERHEAD = 26


BatchWriter = Callable[[Sequence[LogLine]], None]


@dataclass(frozen=True)
class SinkStatistics:
    pending_chars: int
    lines_written: int
    batches_written: int
    producer_waits: int
    lines_dropped: int
    write_failures: int


@dataclass
class _Chunk:
    group: str
    stream: str
    timestamp: int
    text: str


def _lines(text: str) -> list[str]:
    """``text``'s lines, each with its newline (a last one without, if it has none)."""
    lines = text.split("\n")
    last = lines.pop()
    out = [line + "\n" for line in lines]
    if last:
        out.append(last)
    return out


def _weight(text: str) -> int:
    """``text``'s share of the bounds: its characters plus ``EVENT_OVERHEAD`` a line."""
    lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    return len(text) + EVENT_OVERHEAD * lines


class BufferedLogSink:
    def __init__(self, write: BatchWriter, clock: Clock, *, echo: BatchWriter | None = None,
                 capacity: int = CAPACITY_CHARS, max_wait_s: float = MAX_WAIT_S,
                 batch_lines: int = BATCH_LINES, batch_chars: int = BATCH_CHARS,
                 retry_s: float = RETRY_S, linger_s: float = LINGER_S) -> None:
        self._write = write
        self._clock = clock
        self._echo = echo
        self._capacity = capacity
        self._share = max(1, capacity // 4)
        self._max_wait_s = max_wait_s
        self._batch_lines = batch_lines
        self._batch_chars = batch_chars
        self._linger_s = linger_s
        self._retry_s = retry_s
        self._cond = threading.Condition()
        self._chunks: collections.deque[_Chunk] = collections.deque()
        self._pending = 0
        self._by_group: collections.Counter[str] = collections.Counter()
        self._dropped: collections.Counter[tuple[str, str]] = collections.Counter()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._writer_idle = False  # the writer waits for chunks (set and read under _cond)
        self._written = self._batches = self._waits = self._lost = self._failures = 0

    # -- producers -----------------------------------------------------------------------

    def emit(self, group: str, stream: str, text: str) -> None:
        if not text:
            return
        chunk = _Chunk(group, stream, int(self._clock.time() * 1000), text)
        size = _weight(text)
        with self._cond:
            if self._must_wait(group, size):
                self._waits += 1
                deadline = time.monotonic() + self._max_wait_s
                while self._must_wait(group, size) and not self._closing:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            self._admit(chunk, size)

    async def put(self, group: str, stream: str, text: str,
                  max_wait_s: float | None = None) -> None:
        """``emit`` for the event loop: past the bounds it waits without blocking the
        loop — without limit when ``max_wait_s`` is None (so a flooding producer is
        held until the writer catches up), else at most that long, then as ``emit``."""
        if not text:
            return
        size = _weight(text)
        deadline: float | None = None
        waited = False
        while True:
            with self._cond:
                if (not self._must_wait(group, size) or self._closing
                        or (deadline is not None and time.monotonic() >= deadline)):
                    chunk = _Chunk(group, stream, int(self._clock.time() * 1000), text)
                    self._admit(chunk, size)
                    return
                if not waited:
                    self._waits += 1
                    waited = True
                    if max_wait_s is not None:
                        deadline = time.monotonic() + max_wait_s
            await asyncio.sleep(PUT_POLL_S)

    def _admit(self, chunk: _Chunk, size: int) -> None:
        """Queue ``chunk`` (of ``_weight`` ``size``) unless even the total bound is past
        (then drop it, loudly). Called with the condition held."""
        if self._pending and self._pending + size > self._capacity:
            self._drop(chunk)
            return
        self._chunks.append(chunk)
        self._pending += size
        self._by_group[chunk.group] += size
        if self._writer_idle:  # only the writer waits for chunks (a notify costs the loop)
            self._cond.notify_all()

    def _must_wait(self, group: str, size: int) -> bool:
        if not self._pending:
            return False
        return (self._pending + size > self._capacity
                or self._by_group[group] + size > self._share)

    def _drop(self, chunk: _Chunk) -> None:
        lines = len(_lines(chunk.text))
        self._dropped[(chunk.group, chunk.stream)] += lines
        self._lost += lines
        log.warning("%s %s: %d log lines dropped: the log store is %d characters behind",
                    chunk.group, chunk.stream, lines, self._pending)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._write_forever,
                                            name="loam-log-writer", daemon=True)
            self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until everything queued is written; True when it was."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._dropped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop."""
        self.flush(timeout)
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pending:
            log.warning("%d characters of function logs were not written before shutdown",
                        self._pending)

    def statistics(self) -> SinkStatistics:
        with self._cond:
            return SinkStatistics(self._pending, self._written, self._batches, self._waits,
                                  self._lost, self._failures)

    # -- the writer -----------------------------------------------------------------------

    def _write_forever(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._dropped and not self._closing:
                    self._writer_idle = True
                    try:
                        self._cond.wait()
                    finally:
                        self._writer_idle = False
                if self._closing:
                    return
                taken: list[_Chunk] = []
                chars = 0
                for chunk in self._chunks:  # only this thread removes chunks
                    if taken and chars + len(chunk.text) > self._batch_chars:
                        break
                    taken.append(chunk)
                    chars += len(chunk.text)
                counts = dict(self._dropped)  # still counted as dropped until written
            now = int(self._clock.time() * 1000)
            notices = [LogLine(group, stream, now, f"[loam] {count} log lines were dropped: "
                               "the log store could not keep up\n")
                       for (group, stream), count in counts.items()]
            while not self._write_all(notices):
                pass
            self._written_notices(counts)
            if taken:
                full = self._write_chunks(taken)
                with self._cond:
                    for _ in taken:
                        self._chunks.popleft()
                    self._cond.notify_all()
                if not full and self._linger_s:
                    time.sleep(self._linger_s)

    def _written_notices(self, counts: dict[tuple[str, str], int]) -> None:
        """The notices for ``counts`` dropped lines are written: stop counting them."""
        with self._cond:
            for key, count in counts.items():
                self._dropped[key] -= count
                if self._dropped[key] <= 0:
                    del self._dropped[key]
            self._cond.notify_all()

    def _write_chunks(self, chunks: list[_Chunk]) -> bool:
        """Store ``chunks``' lines; True when that took at least one full batch."""
        full = False
        batch: list[LogLine] = []
        chars: collections.Counter[str] = collections.Counter()
        for chunk in chunks:
            for line in _lines(chunk.text):
                batch.append(LogLine(chunk.group, chunk.stream, chunk.timestamp, line))
                chars[chunk.group] += len(line) + EVENT_OVERHEAD
                if len(batch) >= self._batch_lines:
                    self._commit(batch, chars)
                    batch, chars = [], collections.Counter()
                    full = True
        self._commit(batch, chars)
        return full

    def _commit(self, batch: list[LogLine], chars: collections.Counter[str]) -> None:
        began = time.monotonic()
        while not self._write_all(batch):
            pass
        if len(batch) >= self._batch_lines // 2:
            # A flood: rest as long as the batch took, so the writer holds the
            # interpreter at most about half the time and invocations stay quick;
            # the flooding function waits meanwhile (back-pressure), not the others.
            time.sleep(min(time.monotonic() - began, self._retry_s))
        if self._echo is not None and batch:
            try:
                self._echo(batch)
            except Exception:  # the console is best effort; the store has the lines
                log.exception("echoing %d function log lines failed", len(batch))
        with self._cond:
            for group, count in chars.items():
                self._pending -= count
                self._by_group[group] -= count
                if self._by_group[group] <= 0:
                    del self._by_group[group]
            self._cond.notify_all()

    def _write_all(self, batch: list[LogLine]) -> bool:
        """Write one batch; False (after a pause) when that failed and should be retried,
        True when it was written or the sink is closing."""
        if not batch:
            return True
        try:
            self._write(batch)
        except Exception:  # supervisor loop: record, pause, retry
            log.exception("writing %d function log lines failed; retrying", len(batch))
            with self._cond:
                self._failures += 1
                self._cond.wait(self._retry_s)
                return self._closing
        with self._cond:
            self._written += len(batch)
            self._batches += 1
        return True
