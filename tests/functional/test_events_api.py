"""The events API through boto3's ``events`` client against a real server:
buses, rules, targets, PutEvents delivered to a Lambda function, schedules."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from loam.services.events.schedule import parse
from tests.functional.support import ACCOUNT, REGION, deploy, function_arn, unique_name
from tests.helpers import Server, client

RECORDER = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('BUS EVENT ' + json.dumps(event, sort_keys=True))\n"
)


@pytest.fixture(scope="module")
def events(server: Server) -> Any:
    return client(server, "events")


@pytest.fixture
def rule(events: Any) -> Iterator[str]:
    """A fresh rule name on the default bus; the rule and its targets go afterwards."""
    name = unique_name("rule")
    yield name
    targets = events.list_targets_by_rule(Rule=name)["Targets"] if _exists(events, name) else []
    if targets:
        events.remove_targets(Rule=name, Ids=[t["Id"] for t in targets])
    events.delete_rule(Name=name)


def _exists(events: Any, name: str) -> bool:
    try:
        events.describe_rule(Name=name)
    except events.exceptions.ResourceNotFoundException:
        return False
    return True


def _bus_events(server: Server, marker: str, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(m) for m in re.findall(r"BUS EVENT (\{.*\})", server.log())]
        mine = [e for e in found if marker in json.dumps(e)]
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_buses_and_rules_round_trip(events: Any) -> None:
    bus = unique_name("bus")
    arn = events.create_event_bus(Name=bus, Description="orders")["EventBusArn"]
    assert arn == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    with pytest.raises(events.exceptions.ResourceAlreadyExistsException):
        events.create_event_bus(Name=bus)
    listed = events.list_event_buses(NamePrefix=bus)["EventBuses"]
    assert [(b["Name"], b["Description"]) for b in listed] == [(bus, "orders")]
    pattern = json.dumps({"source": ["shop"], "detail-type": ["Order Placed"]})
    rule_arn = events.put_rule(Name="placed", EventPattern=pattern, EventBusName=bus,
                               Tags=[{"Key": "team", "Value": "shop"}])["RuleArn"]
    assert rule_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/placed"
    described = events.describe_rule(Name="placed", EventBusName=bus)
    assert (described["EventPattern"], described["State"], described["EventBusName"]) == (
        pattern, "ENABLED", bus)
    assert events.list_tags_for_resource(ResourceARN=rule_arn)["Tags"] == [
        {"Key": "team", "Value": "shop"}]
    events.disable_rule(Name="placed", EventBusName=bus)
    rules = events.list_rules(EventBusName=bus)["Rules"]
    assert [(r["Name"], r["State"]) for r in rules] == [("placed", "DISABLED")]
    with pytest.raises(events.exceptions.ResourceNotFoundException) as info:
        events.describe_rule(Name="placed")
    assert info.value.response["Error"]["Message"] == \
        "Rule placed does not exist on EventBus default."
    events.delete_rule(Name="placed", EventBusName=bus)
    events.delete_event_bus(Name=bus)
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.describe_event_bus(Name=bus)


def test_aws_refusals_reach_boto3_as_its_exceptions(events: Any, rule: str) -> None:
    with pytest.raises(events.exceptions.InvalidEventPatternException) as pattern:
        events.put_rule(Name=rule, EventPattern='{"source": "shop"}')
    assert pattern.value.response["Error"]["Message"].startswith(
        "Event pattern is not valid. Reason: ")
    with pytest.raises(events.exceptions.ClientError) as schedule:
        events.put_rule(Name=rule, ScheduleExpression="rate(0 minutes)")
    assert schedule.value.response["Error"] == {
        "Code": "ValidationException", "Message": "Parameter ScheduleExpression is not valid."}
    events.put_rule(Name=rule, EventPattern='{"source": ["shop"]}')
    events.put_targets(Rule=rule, Targets=[
        {"Id": str(i), "Arn": function_arn(f"f{i}")} for i in range(5)])
    with pytest.raises(events.exceptions.LimitExceededException):
        events.put_targets(Rule=rule, Targets=[{"Id": "5", "Arn": function_arn("f5")}])
    with pytest.raises(events.exceptions.ClientError) as delete:
        events.delete_rule(Name=rule)
    assert delete.value.response["Error"]["Message"] == \
        "Rule can't be deleted since it has targets."
    failed = events.put_events(Entries=[{"Source": "shop", "DetailType": "x", "Detail": "[]"}])
    assert failed["FailedEntryCount"] == 1
    assert failed["Entries"][0]["ErrorCode"] == "MalformedDetail"


@pytest.mark.sandbox
def test_an_event_matching_a_rule_invokes_its_function(
        lam: Any, events: Any, server: Server, rule: str) -> None:
    recorder = unique_name("bus-recorder")
    deploy(lam, recorder, {"index.py": RECORDER})
    marker = unique_name("order")
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(
        {"source": ["shop"], "detail": {"total": [{"numeric": [">", 100]}]}}))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[
        {"Id": "whole", "Arn": function_arn(recorder)},
        {"Id": "shaped", "Arn": function_arn(recorder), "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.order"},
            "InputTemplate": '{"shaped": <order>, "rule": <aws.events.rule-name>}'}},
    ])
    answer = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order Placed", "Resources": ["arn:aws:s3:::b"],
         "Detail": json.dumps({"order": marker, "total": 250})},
        {"Source": "shop", "DetailType": "Order Placed",
         "Detail": json.dumps({"order": marker + "-small", "total": 5})},
    ])
    assert answer["FailedEntryCount"] == 0
    event_id = answer["Entries"][0]["EventId"]
    # As on AWS, the bus may invoke the function only once its policy allows the rule.
    time.sleep(1.5)
    assert _bus_events(server, marker, timeout=0) == []
    assert f"does not allow events.amazonaws.com to invoke it for {rule_arn}" in server.log()
    lam.add_permission(FunctionName=recorder, StatementId="bus", Action="lambda:InvokeFunction",
                       Principal="events.amazonaws.com", SourceArn=rule_arn)
    deadline = time.monotonic() + 30
    received = _bus_events(server, marker)
    while len(received) < 2 and time.monotonic() < deadline:
        received = _bus_events(server, marker)
    whole = [e for e in received if "detail" in e]
    shaped = [e for e in received if "shaped" in e]
    assert len(whole) == 1 and len(shaped) == 1, received
    assert whole[0]["id"] == event_id
    assert {k: v for k, v in whole[0].items() if k not in ("id", "time")} == {
        "version": "0", "detail-type": "Order Placed", "source": "shop", "account": ACCOUNT,
        "region": REGION, "resources": ["arn:aws:s3:::b"],
        "detail": {"order": marker, "total": 250}}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", whole[0]["time"])
    assert shaped[0] == {"shaped": marker, "rule": rule}
    assert events.list_rule_names_by_target(TargetArn=function_arn(recorder))["RuleNames"] == [rule]


def test_a_rate_schedule_is_stored_with_its_first_run_computed(
        events: Any, server: Server, rule: str) -> None:
    """The scheduler's own timing is tested with a fake clock (unit tests); here,
    without waiting a minute for AWS's shortest rate, the rule's durable horizon."""
    before = time.time()
    events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")
    events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": function_arn("nobody")}])
    described = events.describe_rule(Name=rule)
    assert (described["ScheduleExpression"], described["State"]) == ("rate(1 minute)", "ENABLED")
    with sqlite3.connect(server.data_dir / "loam.db") as db:
        anchor, fired_until = db.execute(
            "SELECT schedule_anchor, fired_until FROM events_rules WHERE name = ?",
            (rule,)).fetchone()
    assert before - 1 <= fired_until <= time.time()
    first = parse("rate(1 minute)", datetime.fromtimestamp(anchor, UTC)).next_after(
        datetime.fromtimestamp(fired_until, UTC))
    assert first is not None
    assert 0 < first.timestamp() - fired_until <= 60
    assert first.second == 0


def test_an_event_matching_a_rule_reaches_its_queue(
        events: Any, server: Server, rule: str) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=unique_name("bus-queue"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    marker = unique_name("shipment")
    events.put_rule(Name=rule, EventPattern=json.dumps({"detail-type": ["Shipped"]}))
    events.put_targets(Rule=rule, Targets=[
        {"Id": "q", "Arn": queue_arn, "InputPath": "$.detail"}])
    events.put_events(Entries=[{"Source": "warehouse", "DetailType": "Shipped",
                                "Detail": json.dumps({"parcel": marker})}])
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
    assert [json.loads(m["Body"]) for m in received] == [{"parcel": marker}]
    sqs.delete_queue(QueueUrl=url)
