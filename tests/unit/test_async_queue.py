"""The async queue's policy with a real store, a fake clock and a scripted function."""

from __future__ import annotations

import asyncio
from pathlib import Path

from loam.clock import FakeClock
from loam.invoke.async_queue import AsyncQueue, Attempt, Outcome, RetrySettings
from loam.store import AsyncEventRecord
from loam.store.sqlite import SqliteStore


class Script:
    """Answers each attempt from a list of outcomes, and records the attempts."""

    def __init__(self, *outcomes: Outcome) -> None:
        self.outcomes = list(outcomes)
        self.attempts: list[tuple[str, int, float]] = []
        self.clock: FakeClock | None = None

    async def __call__(self, record: AsyncEventRecord) -> Attempt:
        assert self.clock is not None
        self.attempts.append((record.id, record.attempts, self.clock.time()))
        outcome = self.outcomes.pop(0) if self.outcomes else Outcome.SUCCESS
        error = "Unhandled" if outcome is Outcome.FUNCTION_ERROR else None
        return Attempt(outcome, b'{"r": 1}', "$LATEST", error)


DEFAULTS = RetrySettings()


def make(tmp_path: Path, script: Script, settings: RetrySettings = DEFAULTS
         ) -> tuple[AsyncQueue, SqliteStore, FakeClock]:
    clock = FakeClock()
    script.clock = clock
    store = SqliteStore(tmp_path / "q.db")
    return AsyncQueue(store, clock, script, lambda record: settings), store, clock


async def settle(queue: AsyncQueue) -> None:
    await queue.start_due()
    await queue.drain()


def test_function_errors_are_retried_after_one_then_two_minutes(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(Outcome.FUNCTION_ERROR, Outcome.FUNCTION_ERROR, Outcome.FUNCTION_ERROR)
        queue, store, clock = make(tmp_path, script)
        start = clock.time()
        await queue.submit("e1", "fn", b"{}", {})
        await settle(queue)
        clock.advance(59)
        await settle(queue)  # not due yet
        clock.advance(1)
        await settle(queue)
        clock.advance(120)
        await settle(queue)
        assert [(a, round(t - start)) for _, a, t in script.attempts] == [(1, 0), (2, 60),
                                                                          (3, 180)]
        assert store.count_events() == 0  # retries exhausted: given up
        assert queue.statistics().dropped == 1
    asyncio.run(scenario())


def test_maximum_retry_attempts_zero_means_one_attempt(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(Outcome.FUNCTION_ERROR)
        queue, store, clock = make(tmp_path, script, RetrySettings(max_retries=0))
        await queue.submit("e1", "fn", b"{}", {})
        await settle(queue)
        clock.advance(3600)
        await settle(queue)
        assert len(script.attempts) == 1 and store.count_events() == 0
    asyncio.run(scenario())


def test_throttles_back_off_until_the_event_is_too_old(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(*[Outcome.THROTTLED] * 100)
        queue, store, clock = make(tmp_path, script, RetrySettings(max_age_s=60))
        await queue.submit("e1", "fn", b"{}", {})
        for _ in range(100):
            await settle(queue)
            clock.advance(1)
        gaps = [b[2] - a[2] for a, b in zip(script.attempts, script.attempts[1:], strict=False)]
        assert gaps[:5] == [1, 2, 4, 8, 16]  # doubling
        assert store.count_events() == 0  # dropped once it would be older than 60 s
        assert script.attempts[-1][2] - script.attempts[0][2] <= 60
    asyncio.run(scenario())


def test_success_removes_the_event_and_a_group_commits_together(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script()
        queue, store, _ = make(tmp_path, script)
        await asyncio.gather(*(queue.submit(f"e{i}", "fn", b"{}", {}) for i in range(50)))
        assert store.count_events() == 50  # committed before submit returned
        while store.count_events():
            await settle(queue)
        assert sorted(e for e, _, _ in script.attempts) == sorted(f"e{i}" for i in range(50))
        assert queue.statistics().processed == 50
    asyncio.run(scenario())


def test_a_deleted_function_drops_its_events(tmp_path: Path) -> None:
    async def scenario() -> None:
        script = Script(Outcome.GONE)
        queue, store, _ = make(tmp_path, script)
        await queue.submit("e1", "fn", b"{}", {})
        await settle(queue)
        assert store.count_events() == 0 and len(script.attempts) == 1
    asyncio.run(scenario())


def test_destinations_get_aws_invocation_records(tmp_path: Path) -> None:
    async def scenario() -> None:
        delivered: list[tuple[str, dict[str, object]]] = []

        async def deliver(arn: str, record: dict[str, object]) -> None:
            delivered.append((arn, record))

        script = Script(Outcome.SUCCESS, Outcome.FUNCTION_ERROR)
        clock = FakeClock()
        script.clock = clock
        settings = RetrySettings(max_retries=0, on_success="arn:ok", on_failure="arn:failed")
        queue = AsyncQueue(SqliteStore(tmp_path / "q.db"), clock, script,
                           lambda record: settings, deliver=deliver)
        arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
        await queue.submit("ok-1", "fn", b'{"a": 1}', {"invoked_arn": arn})
        await settle(queue)
        await queue.submit("bad-1", "fn", b'{"a": 2}', {"invoked_arn": arn})
        await settle(queue)
        (ok_arn, ok), (bad_arn, bad) = delivered
        assert ok_arn == "arn:ok" and bad_arn == "arn:failed"
        assert ok["version"] == "1.0" and str(ok["timestamp"]).endswith("Z")
        assert ok["requestContext"] == {"requestId": "ok-1", "functionArn": arn,
                                        "condition": "Success", "approximateInvokeCount": 1}
        assert ok["requestPayload"] == {"a": 1}
        assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
        assert ok["responsePayload"] == {"r": 1}
        assert bad["requestContext"]["condition"] == "RetriesExhausted"  # type: ignore[index]
        assert bad["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                          "functionError": "Unhandled"}
    asyncio.run(scenario())


def test_a_discarded_event_goes_to_the_dead_letter_queue_with_aws_attributes(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        dead: list[tuple[str, bytes, dict[str, dict[str, str]]]] = []

        async def dead_letter(arn: str, payload: bytes,
                              attributes: dict[str, dict[str, str]]) -> None:
            dead.append((arn, payload, attributes))

        class Failing(Script):
            async def __call__(self, record: AsyncEventRecord) -> Attempt:
                await super().__call__(record)
                return Attempt(Outcome.FUNCTION_ERROR, b'{"errorMessage": "boom"}',
                               "$LATEST", "Unhandled")

        script = Failing()
        clock = FakeClock()
        script.clock = clock
        dlq = "arn:aws:sqs:us-east-1:123456789012:dlq"
        settings = RetrySettings(max_retries=1, dead_letter=dlq)
        store = SqliteStore(tmp_path / "q.db")
        queue = AsyncQueue(store, clock, script, lambda record: settings,
                           dead_letter=dead_letter)
        await queue.submit("ev-1", "fn", b'{"a": 1}', {"invoked_arn": "arn"})
        await settle(queue)
        assert dead == []  # one retry left
        clock.advance(61)
        await settle(queue)
        assert dead == [(dlq, b'{"a": 1}', {
            "RequestID": {"DataType": "String", "StringValue": "ev-1"},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": "boom"},
        })]
        assert store.count_events() == 0
        # A success sends nothing there.
        await queue.submit("ev-2", "fn", b"{}", {"invoked_arn": "arn"})
        script.__class__ = Script
        await settle(queue)
        assert len(dead) == 1
    asyncio.run(scenario())
