"""PutEvents and schedules into the outbox, and the outbox to targets: with a
fake clock over a real SQLite database, "restart" being a new service over the
same database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loam.clock import FakeClock
from tests.unit.events_support import (
    ACCOUNT,
    FUNCTION_ARN,
    QUEUE_ARN,
    REGION,
    START,
    Recorder,
    make_service,
)

RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/tick"


def at(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Node:
    """One service over the database in ``tmp_path``; ``restart`` makes a new one."""

    def __init__(self, tmp_path: Path, **kwargs: Any) -> None:
        self.tmp_path = tmp_path
        self.kwargs = kwargs
        self.clock = FakeClock(START)
        self.recorder = Recorder()
        self.service, self.database = make_service(tmp_path, self.clock, self.recorder, **kwargs)

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.service.operations[operation](params)

    async def restart(self) -> None:
        self.database.close()
        self.service, self.database = make_service(self.tmp_path, self.clock, self.recorder,
                                                   **self.kwargs)
        await self.service.prepare()

    async def tick(self, seconds: float) -> None:
        """Time passes; the scheduler and the dispatcher each run once."""
        self.clock.advance(seconds)
        await self.service.fire_due()
        await self.service.dispatch_due()


def run(tmp_path: Path, scenario: Callable[[Node], Awaitable[None]], **kwargs: Any) -> None:
    async def main() -> None:
        node = Node(tmp_path, **kwargs)
        await node.service.prepare()
        try:
            await scenario(node)
        finally:
            node.database.close()

    asyncio.run(main())


async def schedule(node: Node, expression: str = "rate(1 minute)") -> None:
    await node.call("PutRule", Name="tick", ScheduleExpression=expression)
    await node.call("PutTargets", Rule="tick", Targets=[{"Id": "f", "Arn": FUNCTION_ARN}])


def fire_times(node: Node) -> list[str]:
    return [doc["time"] for doc in node.recorder.documents()]


# --- PutEvents -----------------------------------------------------------------------


def test_an_accepted_event_reaches_each_target_of_each_matching_rule(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        big = {"source": ["shop"], "detail": {"n": [{"numeric": [">", 1]}]}}
        await node.call("PutRule", Name="orders", EventPattern=json.dumps(big))
        await node.call("PutRule", Name="all-shop", EventPattern=json.dumps({"source": ["shop"]}))
        await node.call("PutRule", Name="off", EventPattern=json.dumps({"source": ["shop"]}),
                        State="DISABLED")
        for rule in ("orders", "all-shop", "off"):
            await node.call("PutTargets", Rule=rule, Targets=[
                {"Id": "f", "Arn": FUNCTION_ARN},
                {"Id": "q", "Arn": QUEUE_ARN, "InputPath": "$.detail"}])
        when = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
        answer = await node.call("PutEvents", Entries=[
            {"Source": "shop", "DetailType": "Order", "Detail": '{"n": 5}', "Time": when,
             "Resources": ["arn:aws:s3:::b"]},
            {"Source": "shop", "DetailType": "Order", "Detail": '{"n": 0}'},
            {"Source": "elsewhere", "DetailType": "Order", "Detail": "{}"},
        ])
        assert answer["FailedEntryCount"] == 0
        ids = [e["EventId"] for e in answer["Entries"]]
        await node.service.dispatch_due()
        calls = node.recorder.calls
        assert sorted(arn for arn, _, _ in calls) == sorted([FUNCTION_ARN, QUEUE_ARN] * 3)
        events = [json.loads(p) for arn, p, _ in calls if arn == FUNCTION_ARN]
        first = next(e for e in events if e["id"] == ids[0])
        assert first == {"version": "0", "id": ids[0], "detail-type": "Order", "source": "shop",
                         "account": ACCOUNT, "time": "2024-05-01T12:30:15Z", "region": REGION,
                         "resources": ["arn:aws:s3:::b"], "detail": {"n": 5}}
        assert sorted(e["id"] for e in events) == sorted([ids[0], ids[0], ids[1]])
        assert {p for arn, p, _ in calls if arn == QUEUE_ARN} == {b'{"n":5}', b'{"n":0}'}
        stats = node.service.statistics()
        assert (stats.events_put, stats.events_matched, stats.deliveries) == (3, 3, 6)
        assert stats.outbox_pending == 0

    run(tmp_path, scenario)


def test_put_events_fails_bad_entries_with_aws_codes(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        answer = await node.call("PutEvents", Entries=[
            {"DetailType": "t", "Detail": "{}"},
            {"Source": "s", "Detail": "{}"},
            {"Source": "s", "DetailType": "t"},
            {"Source": "s", "DetailType": "t", "Detail": "[1, 2]"},
            {"Source": "s", "DetailType": "t", "Detail": "{nope"},
            {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "ghost"},
            {"Source": "s", "DetailType": "t", "Detail": "{}"},
        ])
        assert answer["FailedEntryCount"] == 6
        assert [(e.get("ErrorCode"), e.get("ErrorMessage")) for e in answer["Entries"][:6]] == [
            ("InvalidArgument",
             "Parameter Source is not valid. Reason: Source is a required argument."),
            ("InvalidArgument",
             "Parameter DetailType is not valid. Reason: DetailType is a required argument."),
            ("InvalidArgument",
             "Parameter Detail is not valid. Reason: Detail is a required argument."),
            ("MalformedDetail", "Detail is malformed."),
            ("MalformedDetail", "Detail is malformed."),
            ("ResourceNotFoundException", "Event bus ghost does not exist."),
        ]
        assert set(answer["Entries"][6]) == {"EventId"}

    run(tmp_path, scenario)


def test_a_request_over_256_kb_fails_whole(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        big = json.dumps({"pad": "x" * (130 * 1024)})
        entry = {"Source": "s", "DetailType": "t", "Detail": big}
        try:
            await node.call("PutEvents", Entries=[entry, entry])
        except Exception as exc:
            assert getattr(exc, "code", None) == "ValidationException"
            assert str(exc) == "Total size of the entries in the request is over the limit."
        else:
            raise AssertionError("an oversized request was accepted")
        assert (await node.call("PutEvents", Entries=[entry]))["FailedEntryCount"] == 0

    run(tmp_path, scenario)


def test_an_accepted_event_survives_a_crash_before_delivery(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.call("PutRule", Name="r", EventPattern=json.dumps({"source": ["s"]}))
        await node.call("PutTargets", Rule="r", Targets=[{"Id": "f", "Arn": FUNCTION_ARN}])
        answer = await node.call("PutEvents", Entries=[
            {"Source": "s", "DetailType": "t", "Detail": "{}"}])
        await node.restart()  # nothing was dispatched before the "crash"
        await node.service.dispatch_due()
        assert [d["id"] for d in node.recorder.documents()] == [answer["Entries"][0]["EventId"]]

    run(tmp_path, scenario)


def test_events_on_a_custom_bus_match_only_its_rules(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.call("CreateEventBus", Name="orders")
        pattern = json.dumps({"source": ["s"]})
        await node.call("PutRule", Name="on-orders", EventPattern=pattern, EventBusName="orders")
        await node.call("PutRule", Name="on-default", EventPattern=pattern)
        await node.call("PutTargets", Rule="on-orders", EventBusName="orders",
                        Targets=[{"Id": "q", "Arn": QUEUE_ARN}])
        await node.call("PutTargets", Rule="on-default", Targets=[{"Id": "f", "Arn": FUNCTION_ARN}])
        await node.call("PutEvents", Entries=[{
            "Source": "s", "DetailType": "t", "Detail": "{}",
            "EventBusName": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders"}])
        await node.service.dispatch_due()
        assert [arn for arn, _, _ in node.recorder.calls] == [QUEUE_ARN]

    run(tmp_path, scenario)


# --- the outbox ----------------------------------------------------------------------


def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.call("PutRule", Name="r", EventPattern=json.dumps({"source": ["s"]}))
        await node.call("PutTargets", Rule="r", Targets=[{"Id": "f", "Arn": FUNCTION_ARN}])
        await node.call("PutEvents", Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
        node.recorder.failing = 3
        assert await node.service.dispatch_due() == 1  # fails; next try in 1 s
        assert await node.service.dispatch_due() == 0
        node.clock.advance(0.9)
        assert await node.service.dispatch_due() == 0
        node.clock.advance(0.1)
        assert await node.service.dispatch_due() == 1  # fails; next in 2 s
        node.clock.advance(1.9)
        assert await node.service.dispatch_due() == 0
        node.clock.advance(0.1)
        assert await node.service.dispatch_due() == 1  # fails; next in 4 s
        node.clock.advance(4)
        assert await node.service.dispatch_due() == 1
        assert len(node.recorder.calls) == 1
        stats = node.service.statistics()
        assert (stats.delivery_failures, stats.deliveries, stats.outbox_pending) == (3, 1, 0)

    run(tmp_path, scenario)


def test_a_target_out_of_retries_goes_to_its_dead_letter_queue(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        dlq = QUEUE_ARN + "-dlq"
        await node.call("PutRule", Name="r", EventPattern=json.dumps({"source": ["s"]}))
        await node.call("PutTargets", Rule="r", Targets=[{
            "Id": "f", "Arn": FUNCTION_ARN, "DeadLetterConfig": {"Arn": dlq},
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}}])
        await node.call("PutEvents", Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
        node.recorder.failing = 2
        await node.service.dispatch_due()
        node.clock.advance(1)
        await node.service.dispatch_due()  # the one retry fails too: to the DLQ
        await node.service.dispatch_due()
        assert [arn for arn, _, _ in node.recorder.calls] == [dlq]
        assert node.recorder.documents()[0]["source"] == "s"
        assert node.service.statistics().deliveries_dropped == 1

    run(tmp_path, scenario)


def test_unsupported_targets_are_dropped_not_retried(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.call("PutRule", Name="r", EventPattern=json.dumps({"source": ["s"]}))
        await node.call("PutTargets", Rule="r", Targets=[
            {"Id": "sns", "Arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"}])
        await node.call("PutEvents", Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}])
        await node.service.dispatch_due()
        assert node.recorder.calls == []
        stats = node.service.statistics()
        assert (stats.deliveries_dropped, stats.outbox_pending) == (1, 0)

    run(tmp_path, scenario)


# --- schedules -----------------------------------------------------------------------


def test_a_schedule_fires_aws_scheduled_event_at_each_minute(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)  # created at 22:13:20: fires at 22:14, 22:15, …
        await node.tick(39)
        assert node.recorder.calls == []
        await node.tick(1)
        docs = node.recorder.documents()
        assert len(docs) == 1
        assert set(docs[0]) == {"version", "id", "detail-type", "source", "account", "time",
                                "region", "resources", "detail"}
        assert {k: v for k, v in docs[0].items() if k != "id"} == {
            "version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": "2023-11-14T22:14:00Z", "region": REGION,
            "resources": [RULE_ARN], "detail": {}}
        await node.tick(60)
        await node.tick(60)
        assert fire_times(node) == ["2023-11-14T22:14:00Z", "2023-11-14T22:15:00Z",
                                    "2023-11-14T22:16:00Z"]

    run(tmp_path, scenario)


def test_cron_fires_in_utc(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node, "cron(30 23 * * ? *)")  # 23:30 UTC daily
        await node.tick(3600)  # 23:13:20
        await node.tick(3600)  # 00:13:20 next day
        await node.tick(86400)
        assert fire_times(node) == ["2023-11-14T23:30:00Z", "2023-11-15T23:30:00Z"]

    run(tmp_path, scenario, catchup_seconds=3600)


def test_a_restart_neither_repeats_nor_loses_a_run(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)
        await node.tick(40)  # 22:14 fired
        await node.restart()
        await node.service.fire_due()  # the same instant again: nothing new
        await node.service.dispatch_due()
        assert fire_times(node) == ["2023-11-14T22:14:00Z"]
        node.clock.advance(150)  # down over 22:15 and 22:16
        await node.restart()
        await node.tick(0)
        assert fire_times(node) == ["2023-11-14T22:14:00Z", "2023-11-14T22:15:00Z",
                                    "2023-11-14T22:16:00Z"]

    run(tmp_path, scenario)


def test_a_run_enqueued_but_not_delivered_before_a_crash_is_delivered_after(
        tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)
        node.clock.advance(40)
        assert await node.service.fire_due() == 1
        await node.restart()  # crash between the enqueue and the delivery
        await node.tick(0)
        assert fire_times(node) == ["2023-11-14T22:14:00Z"]

    run(tmp_path, scenario)


def test_runs_missed_beyond_the_catchup_window_are_skipped(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)
        node.clock.advance(40 + 600)  # down from before 22:14 until 22:24:00
        await node.restart()
        await node.tick(0)
        # window 180 s: 22:21, 22:22, 22:23, 22:24 are at most 180 s old.
        assert fire_times(node) == [at(START + 40 + 60 * k) for k in range(7, 11)]
        assert node.service.scheduler.skipped == 7

    run(tmp_path, scenario, catchup_seconds=180)


def test_a_disabled_schedule_does_not_fire_and_does_not_catch_up_when_enabled(
        tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)
        await node.tick(40)
        await node.call("DisableRule", Name="tick")
        await node.tick(120)
        await node.call("EnableRule", Name="tick")
        await node.tick(0)
        assert fire_times(node) == ["2023-11-14T22:14:00Z"]
        await node.tick(60)  # 22:17:00
        assert fire_times(node) == ["2023-11-14T22:14:00Z", "2023-11-14T22:17:00Z"]

    run(tmp_path, scenario)


def test_a_schedule_with_an_input_transformer(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.call("PutRule", Name="tick", ScheduleExpression="rate(1 minute)")
        await node.call("PutTargets", Rule="tick", Targets=[{
            "Id": "f", "Arn": FUNCTION_ARN, "InputTransformer": {
                "InputPathsMap": {"t": "$.time"},
                "InputTemplate": '{"at": <t>, "rule": <aws.events.rule-arn>}'}}])
        await node.tick(40)
        assert node.recorder.documents() == [{"at": "2023-11-14T22:14:00Z", "rule": RULE_ARN}]

    run(tmp_path, scenario)


def test_two_services_on_one_database_fire_a_run_once(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await schedule(node)
        other, database = make_service(tmp_path, node.clock, node.recorder)
        await other.prepare()
        node.clock.advance(40)
        assert await node.service.fire_due() + await other.fire_due() == 1
        database.close()

    run(tmp_path, scenario)


def test_the_started_service_schedules_and_dispatches_on_its_own(tmp_path: Path) -> None:
    async def scenario(node: Node) -> None:
        await node.service.start()
        try:
            await schedule(node)
            node.clock.advance(40)
            await node.call("EnableRule", Name="tick")  # a rule change wakes the scheduler
            for _ in range(200):
                if node.recorder.calls:
                    break
                await asyncio.sleep(0.01)
            assert fire_times(node) == ["2023-11-14T22:14:00Z"]
        finally:
            await node.service.stop()

    run(tmp_path, scenario)
