"""The SQS event source against a fake queue service and a fake invoker: batches,
deletes, failures, partial batch responses, filters, windows, throttles, scaling,
and mappings that are disabled, deleted or whose function is gone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aws_lambda_powertools.utilities.parser.models import SqsModel

from loam.invoke.service import InvokeResult
from loam.invoke.sqs_source import SqsEventSource
from tests.unit.test_event_source_fakes import (
    FIFO_ARN,
    FN_ARN,
    QUEUE_ARN,
    ControlPlane,
    FakeInvoker,
    control_plane,
    function_state,
    throttled,
)


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never happened: {what}")


def scenario(tmp_path: Path, invoker: FakeInvoker,
             body: Callable[[ControlPlane, SqsEventSource], Awaitable[None]]) -> None:
    cp = control_plane(tmp_path)

    async def fake_sleep(seconds: float) -> None:
        cp.clock.advance(seconds)
        await asyncio.sleep(0)

    async def run() -> None:
        source = SqsEventSource(cp.mappings, cp.queues, invoker, cp.clock, sleep=fake_sleep)
        try:
            await body(cp, source)
        finally:
            await source.close()

    asyncio.run(run())


def mapping(cp: ControlPlane, **settings: Any) -> str:
    params = {"EventSourceArn": QUEUE_ARN, "FunctionName": "f", **settings}
    uuid: str = cp.mappings.create(params)["UUID"]
    return uuid


def records(invoker: FakeInvoker) -> list[dict[str, Any]]:
    return [r for event in invoker.events for r in event["Records"]]


def test_a_batch_is_delivered_in_aws_shape_and_deleted_on_success(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        sent = [cp.queues.send(QUEUE_ARN, f"message {i}") for i in range(3)]
        mapping(cp)
        await source.reconcile()
        await until(lambda: cp.queues.deleted == sent, "all three deleted")
        assert [r["messageId"] for r in records(invoker)] == sent
        assert invoker.targets[0] == FN_ARN + "f"
        event = invoker.events[0]
        SqsModel.model_validate(event)
        assert event["Records"][0]["body"] == "message 0"
        stats = source.statistics()
        assert (stats.mappings, stats.received, stats.deleted) == (1, 3, 3)
        assert stats.pollers == 5

    scenario(tmp_path, invoker, body)


def test_a_function_error_leaves_the_batch_for_redelivery(tmp_path: Path) -> None:
    answers = iter([InvokeResult(200, b'{"errorMessage": "boom"}', "Unhandled")])
    invoker = FakeInvoker(lambda event: next(answers, InvokeResult(200, b"null")))

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        sent = cp.queues.send(QUEUE_ARN, "retry me")
        uuid = mapping(cp, ScalingConfig={"MaximumConcurrency": 2})
        await source.reconcile()
        await until(lambda: cp.queues.deleted == [sent], "delivered again, then deleted")
        counts = [r["attributes"]["ApproximateReceiveCount"] for r in records(invoker)]
        assert counts == ["1", "2"]
        assert source.statistics().failed == 1
        assert source.last_processing_result(uuid) == "OK"

    scenario(tmp_path, invoker, body)


def test_reported_item_failures_stay_and_the_rest_go(tmp_path: Path) -> None:
    def answer(event: dict[str, Any]) -> InvokeResult:
        failed = [{"itemIdentifier": r["messageId"]} for r in event["Records"]
                  if r["body"] == "bad"]
        return InvokeResult(200, json.dumps({"batchItemFailures": failed}).encode())

    invoker = FakeInvoker(answer)

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        good = [cp.queues.send(QUEUE_ARN, "good") for _ in range(3)]
        bad = cp.queues.send(QUEUE_ARN, "bad")
        mapping(cp, FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig={"MaximumConcurrency": 2})
        await source.reconcile()
        await until(lambda: sorted(cp.queues.deleted) == sorted(good), "the good ones deleted")
        assert cp.queues.waiting(QUEUE_ARN) == [bad]

    scenario(tmp_path, invoker, body)


def test_fifo_failure_holds_back_the_rest_of_its_group(tmp_path: Path) -> None:
    def answer(event: dict[str, Any]) -> InvokeResult:
        first = event["Records"][1]["messageId"]
        return InvokeResult(200, json.dumps({"batchItemFailures": [
            {"itemIdentifier": first}]}).encode())

    invoker = FakeInvoker(answer)

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        ids = [cp.queues.send(FIFO_ARN, str(i), group=g)
               for i, g in enumerate(["a", "a", "b", "a"])]
        mapping(cp, EventSourceArn=FIFO_ARN, FunctionResponseTypes=["ReportBatchItemFailures"],
                ScalingConfig={"MaximumConcurrency": 2})
        await source.reconcile()
        await until(lambda: len(cp.queues.deleted) == 2, "two deleted")
        assert cp.queues.deleted == [ids[0], ids[2]]
        assert records(invoker)[0]["attributes"]["MessageGroupId"] == "a"

    scenario(tmp_path, invoker, body)


def test_records_matching_no_filter_are_deleted_unprocessed(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        wanted = cp.queues.send(QUEUE_ARN, json.dumps({"kind": "order"}))
        other = cp.queues.send(QUEUE_ARN, json.dumps({"kind": "refund"}))
        mapping(cp, FilterCriteria={"Filters": [{"Pattern": '{"body": {"kind": ["order"]}}'}]})
        await source.reconcile()
        await until(lambda: len(cp.queues.deleted) == 2, "both gone")
        assert [r["messageId"] for r in records(invoker)] == [wanted]
        assert other in cp.queues.deleted
        assert source.statistics().filtered == 1

    scenario(tmp_path, invoker, body)


def test_a_batching_window_gathers_more_than_one_receive(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        for i in range(15):
            cp.queues.send(QUEUE_ARN, str(i))
        # One poller (a reservation of 1), so one gatherer.
        cp.store.put(function_state("f", reserved_concurrency=1))
        mapping(cp, BatchSize=20, MaximumBatchingWindowInSeconds=5)
        started = cp.clock.monotonic()
        await source.reconcile()
        await until(lambda: len(cp.queues.deleted) == 15, "all deleted")
        assert [len(e["Records"]) for e in invoker.events] == [15]
        assert cp.clock.monotonic() - started >= 5  # it waited out the window

    scenario(tmp_path, invoker, body)


def test_without_a_window_one_receive_is_one_batch(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        for i in range(4):
            cp.queues.send(QUEUE_ARN, str(i))
        mapping(cp, BatchSize=3, ScalingConfig={"MaximumConcurrency": 2})
        await source.reconcile()
        await until(lambda: len(cp.queues.deleted) == 4, "all deleted")
        assert sorted(len(e["Records"]) for e in invoker.events) == [1, 3]

    scenario(tmp_path, invoker, body)


def test_throttles_leave_the_messages_and_back_off(tmp_path: Path) -> None:
    invoker = FakeInvoker(throttled)

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        sent = cp.queues.send(QUEUE_ARN, "x")
        mapping(cp, ScalingConfig={"MaximumConcurrency": 2})
        await source.reconcile()
        await until(lambda: source.statistics().throttled >= 2, "throttled twice")
        assert cp.queues.deleted == []
        assert cp.queues.waiting(QUEUE_ARN) == [sent]

    scenario(tmp_path, invoker, body)


def test_disabling_and_deleting_stop_the_pollers(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        uuid = mapping(cp)
        await source.reconcile()
        assert source.statistics().pollers == 5
        cp.mappings.update({"UUID": uuid, "Enabled": False})
        await source.reconcile()
        assert source.statistics().pollers == 0
        cp.queues.send(QUEUE_ARN, "stays")
        await asyncio.sleep(0.01)
        assert invoker.events == []
        cp.mappings.update({"UUID": uuid, "Enabled": True})
        await source.reconcile()
        await until(lambda: len(invoker.events) == 1, "delivered once enabled")
        cp.mappings.delete(uuid)
        await source.reconcile()
        assert source.statistics().mappings == 0
        assert cp.mappings.all_mappings() == []

    scenario(tmp_path, invoker, body)


def test_run_reacts_to_changes_without_being_asked(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        task = asyncio.create_task(source.run())
        try:
            await asyncio.sleep(0.01)
            cp.queues.send(QUEUE_ARN, "hello")
            await asyncio.to_thread(mapping, cp)
            await until(lambda: len(cp.queues.deleted) == 1, "delivered")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    scenario(tmp_path, invoker, body)


def test_a_deleted_function_is_not_invoked_and_its_messages_wait(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        mapping(cp)
        cp.store.remove("f")
        cp.mappings.functions.cache.invalidate()
        sent = cp.queues.send(QUEUE_ARN, "later")
        await source.reconcile()
        await asyncio.sleep(0.02)
        assert invoker.events == []
        assert cp.queues.waiting(QUEUE_ARN) == [sent]
        cp.store.put(function_state("f"))
        await until(lambda: cp.queues.deleted == [sent], "delivered once the function is back")

    scenario(tmp_path, invoker, body)


def test_pollers_scale_with_backlog_within_the_caps(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        for i in range(400):
            cp.queues.send(QUEUE_ARN, str(i))
        uuid = mapping(cp, ScalingConfig={"MaximumConcurrency": 8})
        await source.reconcile()
        await until(lambda: source.statistics().pollers == 8, "scaled up to the cap")
        await until(lambda: len(cp.queues.deleted) == 400, "all delivered")
        await until(lambda: source.statistics().pollers == 5, "scaled back down when idle")
        cp.mappings.update({"UUID": uuid, "ScalingConfig": {"MaximumConcurrency": 2}})
        await source.reconcile()
        await until(lambda: source.statistics().pollers == 2, "down to the new cap")

    scenario(tmp_path, invoker, body)


def test_reserved_concurrency_caps_the_pollers(tmp_path: Path) -> None:
    invoker = FakeInvoker()

    async def body(cp: ControlPlane, source: SqsEventSource) -> None:
        cp.store.put(function_state("f", reserved_concurrency=1))
        cp.mappings.functions.cache.invalidate()
        cp.queues.send(QUEUE_ARN, "x")
        mapping(cp)
        await source.reconcile()
        await until(lambda: source.statistics().pollers == 1, "one poller")
        await until(lambda: len(cp.queues.deleted) == 1, "still delivered")

    scenario(tmp_path, invoker, body)
