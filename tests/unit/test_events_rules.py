"""Buses, rules and targets through the events service's handlers, over a
real SQLite database: AWS's validation, messages, ARNs and paging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from loam.clock import FakeClock
from loam.services.base import ServiceError
from loam.services.events.service import EventsService
from tests.unit.events_support import (
    ACCOUNT,
    FUNCTION_ARN,
    QUEUE_ARN,
    REGION,
    START,
    Recorder,
    make_service,
)

Scenario = Callable[[EventsService], Awaitable[None]]
PATTERN = json.dumps({"source": ["my.app"]})


def run(tmp_path: Path, scenario: Scenario) -> None:
    async def main() -> None:
        service, database = make_service(tmp_path, FakeClock(START), Recorder())
        await service.prepare()
        try:
            await scenario(service)
        finally:
            database.close()

    asyncio.run(main())


async def call(service: EventsService, operation: str, **params: Any) -> dict[str, Any]:
    return await service.operations[operation](params)


async def refused(service: EventsService, operation: str, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await call(service, operation, **params)
    return info.value


# --- buses ---------------------------------------------------------------------------


def test_the_default_bus_exists_and_cannot_be_deleted(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        bus = await call(service, "DescribeEventBus")
        assert bus["Name"] == "default"
        assert bus["Arn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
        error = await refused(service, "DeleteEventBus", Name="default")
        assert (error.code, error.message) == ("ValidationException",
                                               "Cannot delete event bus default.")

    run(tmp_path, scenario)


def test_custom_buses_are_created_listed_by_prefix_paged_and_deleted(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        created = await call(service, "CreateEventBus", Name="orders", Description="shop")
        assert created == {"EventBusArn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders",
                           "Description": "shop"}
        error = await refused(service, "CreateEventBus", Name="orders")
        assert (error.code, error.message) == ("ResourceAlreadyExistsException",
                                               "Event bus orders already exists.")
        await call(service, "CreateEventBus", Name="orders-eu")
        await call(service, "CreateEventBus", Name="billing")
        first = await call(service, "ListEventBuses", NamePrefix="orders", Limit=1)
        assert [b["Name"] for b in first["EventBuses"]] == ["orders"]
        second = await call(service, "ListEventBuses", NamePrefix="orders", Limit=1,
                            NextToken=first["NextToken"])
        assert [b["Name"] for b in second["EventBuses"]] == ["orders-eu"]
        assert "NextToken" not in second
        everything = await call(service, "ListEventBuses")
        assert [b["Name"] for b in everything["EventBuses"]] == [
            "billing", "default", "orders", "orders-eu"]
        by_arn = await call(service, "DescribeEventBus", Name=created["EventBusArn"])
        assert by_arn["Description"] == "shop"
        await call(service, "PutRule", Name="r", EventPattern=PATTERN, EventBusName="orders")
        await call(service, "DeleteEventBus", Name="orders")
        await call(service, "DeleteEventBus", Name="never-existed")
        error = await refused(service, "DescribeEventBus", Name="orders")
        assert (error.code, error.message) == ("ResourceNotFoundException",
                                               "Event bus orders does not exist.")
        await call(service, "CreateEventBus", Name="orders")
        assert (await call(service, "ListRules", EventBusName="orders"))["Rules"] == []

    run(tmp_path, scenario)


# --- rules ---------------------------------------------------------------------------


def test_put_rule_answers_aws_arns_and_describe_reports_the_rule(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        made = await call(service, "PutRule", Name="nightly",
                          ScheduleExpression="cron(0 2 * * ? *)", Description="backup",
                          RoleArn="arn:aws:iam::123456789012:role/r")
        assert made["RuleArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly"
        await call(service, "CreateEventBus", Name="orders")
        made = await call(service, "PutRule", Name="paid", EventPattern=PATTERN,
                          EventBusName="orders", State="DISABLED")
        assert made["RuleArn"] == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/orders/paid"
        rule = await call(service, "DescribeRule", Name="nightly")
        assert rule == {
            "Name": "nightly", "Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/nightly",
            "ScheduleExpression": "cron(0 2 * * ? *)", "State": "ENABLED",
            "Description": "backup", "RoleArn": "arn:aws:iam::123456789012:role/r",
            "EventBusName": "default", "CreatedBy": ACCOUNT,
        }
        paid = await call(service, "DescribeRule", Name="paid", EventBusName="orders")
        assert (paid["State"], paid["EventPattern"]) == ("DISABLED", PATTERN)
        error = await refused(service, "DescribeRule", Name="paid")
        assert (error.code, error.message) == ("ResourceNotFoundException",
                                               "Rule paid does not exist on EventBus default.")

    run(tmp_path, scenario)


def test_put_rule_replaces_what_it_omits(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN, Description="first")
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        assert "Description" not in await call(service, "DescribeRule", Name="r")

    run(tmp_path, scenario)


@pytest.mark.parametrize(("params", "code", "message"), [
    ({}, "ValidationException",
     "Parameter(s) EventPattern or ScheduleExpression must be specified."),
    ({"ScheduleExpression": "rate(1 minutes)"}, "ValidationException",
     "Parameter ScheduleExpression is not valid."),
    ({"ScheduleExpression": "cron(0 12 * * * *)"}, "ValidationException",
     "Parameter ScheduleExpression is not valid."),
    ({"EventPattern": "{\"source\": \"my.app\"}"}, "InvalidEventPatternException",
     "Event pattern is not valid. Reason: \"source\" must be an object or an array"),
    ({"EventPattern": "[1]"}, "InvalidEventPatternException", None),
])
def test_put_rule_refuses_bad_rules_with_aws_messages(
        tmp_path: Path, params: dict[str, Any], code: str, message: str | None) -> None:
    async def scenario(service: EventsService) -> None:
        error = await refused(service, "PutRule", Name="bad", **params)
        assert error.code == code
        assert error.status == 400
        if message is not None:
            assert error.message == message
        else:
            assert error.message.startswith("Event pattern is not valid. Reason: ")
        await refused(service, "DescribeRule", Name="bad")

    run(tmp_path, scenario)


def test_schedules_only_on_the_default_bus_and_rules_only_on_existing_buses(
        tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "CreateEventBus", Name="orders")
        error = await refused(service, "PutRule", Name="s", ScheduleExpression="rate(5 minutes)",
                              EventBusName="orders")
        assert (error.code, error.message) == (
            "ValidationException", "ScheduleExpression is supported only on the default event bus.")
        error = await refused(service, "PutRule", Name="s", EventPattern=PATTERN,
                              EventBusName="nope")
        assert (error.code, error.message) == ("ResourceNotFoundException",
                                               "Event bus nope does not exist.")

    run(tmp_path, scenario)


def test_list_rules_by_prefix_and_bus_in_pages(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        for name in ("b-2", "a-1", "b-1", "b-3"):
            await call(service, "PutRule", Name=name, EventPattern=PATTERN)
        await call(service, "CreateEventBus", Name="other")
        await call(service, "PutRule", Name="b-9", EventPattern=PATTERN, EventBusName="other")
        names: list[str] = []
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            page = await call(service, "ListRules", NamePrefix="b-", Limit=2, **extra)
            names += [r["Name"] for r in page["Rules"]]
            token = page.get("NextToken")
            if token is None:
                break
        assert names == ["b-1", "b-2", "b-3"]
        other = await call(service, "ListRules", EventBusName="other")
        assert [(r["Name"], r["Arn"]) for r in other["Rules"]] == [
            ("b-9", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/other/b-9")]
        error = await refused(service, "ListRules", NextToken="garbage!")
        assert error.code == "ValidationException"

    run(tmp_path, scenario)


def test_delete_rule_refuses_while_targets_remain(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        await call(service, "PutTargets", Rule="r", Targets=[{"Id": "f", "Arn": FUNCTION_ARN}])
        error = await refused(service, "DeleteRule", Name="r")
        assert (error.code, error.message) == ("ValidationException",
                                               "Rule can't be deleted since it has targets.")
        await call(service, "RemoveTargets", Rule="r", Ids=["f"])
        await call(service, "DeleteRule", Name="r")
        await call(service, "DeleteRule", Name="r")  # absent: succeeds, as in AWS
        await refused(service, "DescribeRule", Name="r")

    run(tmp_path, scenario)


def test_enable_and_disable(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        await call(service, "DisableRule", Name="r")
        assert (await call(service, "DescribeRule", Name="r"))["State"] == "DISABLED"
        await call(service, "EnableRule", Name="r")
        assert (await call(service, "DescribeRule", Name="r"))["State"] == "ENABLED"
        error = await refused(service, "EnableRule", Name="nope")
        assert error.message == "Rule nope does not exist on EventBus default."

    run(tmp_path, scenario)


# --- targets -------------------------------------------------------------------------


def test_targets_are_stored_as_given_and_listed(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        queue = {"Id": "q", "Arn": QUEUE_ARN, "InputPath": "$.detail",
                 "DeadLetterConfig": {"Arn": QUEUE_ARN + "-dlq"},
                 "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}}
        fifo = {"Id": "fifo", "Arn": QUEUE_ARN + ".fifo",
                "SqsParameters": {"MessageGroupId": "g1"}}
        result = await call(service, "PutTargets", Rule="r", Targets=[
            {"Id": "f", "Arn": FUNCTION_ARN, "Input": "{\"k\": 1}"}, queue, fifo])
        assert result == {"FailedEntryCount": 0, "FailedEntries": []}
        listed = await call(service, "ListTargetsByRule", Rule="r")
        assert listed["Targets"] == [
            {"Id": "f", "Arn": FUNCTION_ARN, "Input": "{\"k\": 1}"}, fifo, queue]
        names = await call(service, "ListRuleNamesByTarget", TargetArn=QUEUE_ARN)
        assert names["RuleNames"] == ["r"]

    run(tmp_path, scenario)


def test_put_targets_fails_bad_entries_one_by_one(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        result = await call(service, "PutTargets", Rule="r", Targets=[
            {"Id": "good", "Arn": FUNCTION_ARN},
            {"Id": "bad", "Arn": "not-an-arn"},
            {"Id": "fifo", "Arn": QUEUE_ARN + ".fifo"},
        ])
        assert result == {"FailedEntryCount": 2, "FailedEntries": [
            {"TargetId": "bad", "ErrorCode": "ValidationException",
             "ErrorMessage": "Parameter not-an-arn is not valid. "
                             "Reason: Provided Arn is not in correct format."},
            {"TargetId": "fifo", "ErrorCode": "ValidationException",
             "ErrorMessage": "Parameter(s) SqsParameters must be specified for target: fifo."},
        ]}
        listed = await call(service, "ListTargetsByRule", Rule="r")
        assert [t["Id"] for t in listed["Targets"]] == ["good"]

    run(tmp_path, scenario)


def test_five_targets_per_rule_at_most(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        five = [{"Id": f"t{i}", "Arn": FUNCTION_ARN} for i in range(5)]
        await call(service, "PutTargets", Rule="r", Targets=five)
        await call(service, "PutTargets", Rule="r", Targets=five[:2])  # replacing is fine
        error = await refused(service, "PutTargets", Rule="r",
                              Targets=[{"Id": "t5", "Arn": FUNCTION_ARN}])
        assert (error.code, error.message) == (
            "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
        assert len((await call(service, "ListTargetsByRule", Rule="r"))["Targets"]) == 5

    run(tmp_path, scenario)


@pytest.mark.parametrize(("target", "message"), [
    ({"Input": "{}", "InputPath": "$.detail"},
     "Only one of Input, InputPath, or InputTransformer must be provided for target t."),
    ({"InputTransformer": {"InputPathsMap": {"a": "$.detail.a"}, "InputTemplate": "<a> <b>"}},
     "InputTemplate for target t contains invalid placeholder b."),
    ({"Input": "{not json"}, "Input for target t is not valid JSON text."),
])
def test_put_targets_validates_input_members(
        tmp_path: Path, target: dict[str, Any], message: str) -> None:
    async def scenario(service: EventsService) -> None:
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        error = await refused(service, "PutTargets", Rule="r",
                              Targets=[{"Id": "t", "Arn": FUNCTION_ARN, **target}])
        assert (error.code, error.message) == ("ValidationException", message)
        assert (await call(service, "ListTargetsByRule", Rule="r"))["Targets"] == []

    run(tmp_path, scenario)


def test_targets_of_a_missing_rule_and_removing_unknown_ids(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        error = await refused(service, "PutTargets", Rule="nope",
                              Targets=[{"Id": "t", "Arn": FUNCTION_ARN}])
        assert (error.code, error.message) == ("ResourceNotFoundException",
                                               "Rule nope does not exist on EventBus default.")
        await call(service, "PutRule", Name="r", EventPattern=PATTERN)
        result = await call(service, "RemoveTargets", Rule="r", Ids=["ghost"])
        assert result["FailedEntryCount"] == 1
        assert result["FailedEntries"][0]["TargetId"] == "ghost"

    run(tmp_path, scenario)


def test_tags_on_rules_and_buses(tmp_path: Path) -> None:
    async def scenario(service: EventsService) -> None:
        arn = (await call(service, "PutRule", Name="r", EventPattern=PATTERN,
                          Tags=[{"Key": "team", "Value": "a"}]))["RuleArn"]
        await call(service, "TagResource", ResourceARN=arn,
                   Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}])
        await call(service, "UntagResource", ResourceARN=arn, TagKeys=["env"])
        tags = await call(service, "ListTagsForResource", ResourceARN=arn)
        assert tags == {"Tags": [{"Key": "team", "Value": "b"}]}
        bus = (await call(service, "CreateEventBus", Name="o",
                          Tags=[{"Key": "k", "Value": "v"}]))["EventBusArn"]
        assert (await call(service, "ListTagsForResource", ResourceARN=bus))["Tags"] == [
            {"Key": "k", "Value": "v"}]
        error = await refused(service, "ListTagsForResource", ResourceARN=arn + "x")
        assert error.message == "Rule rx does not exist on EventBus default."

    run(tmp_path, scenario)
