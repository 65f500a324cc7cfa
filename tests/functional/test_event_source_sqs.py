"""SQS event source mappings against a real server, driven by boto3: the mapping API
with AWS's answers and errors, and messages reaching a real function in AWS's record
shape (checked with powertools' ``SqsModel``), deleted after success, redelivered
after failure and dead-lettered after maxReceiveCount, and filtered."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from tests.functional.support import deploy, function_arn, unique_name
from tests.helpers import Server, client

RECORDER = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('ESM-EVENT ' + json.dumps(event))\n"
    "    for record in event['Records']:\n"
    "        if 'fail' in record['body']:\n"
    "            raise ValueError('failing ' + record['messageId'])\n"
)


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return client(server, "sqs")


def make_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique_name("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def events_with(server: Server, marker: str) -> list[dict[str, Any]]:
    found = [json.loads(m) for m in re.findall(r"ESM-EVENT (\{.*\})", server.log())]
    return [e for e in found if marker in json.dumps(e)]


def enabled_mapping(lam: Any, **params: Any) -> str:
    out = lam.create_event_source_mapping(**params)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid: str = out["UUID"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] in ("Enabled", "Disabled"),
             "the mapping to settle", 10)
    return uuid


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attrs["ApproximateNumberOfMessages"]),
            int(attrs["ApproximateNumberOfMessagesNotVisible"]))


def test_the_mapping_api_answers_as_aws(lam: Any, sqs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": RECORDER})
    _, arn = make_queue(sqs)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              Enabled=False)
    uuid = created["UUID"]
    assert created["State"] == "Creating"
    assert created["StateTransitionReason"] == "USER_INITIATED"
    assert (created["BatchSize"], created["MaximumBatchingWindowInSeconds"]) == (10, 0)
    assert created["FunctionArn"] == function_arn(name)
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{uuid}")
    assert created["FunctionResponseTypes"] == []
    assert "LastModified" in created
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "Disabled")

    with pytest.raises(lam.exceptions.ResourceConflictException) as conflict:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=function_arn(name))
    assert f"Please update or delete the existing mapping with UUID {uuid}" in str(conflict.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as window:
        lam.update_event_source_mapping(UUID=uuid, BatchSize=100)
    assert "Maximum batch window in seconds must be greater than 0" in str(window.value)

    updated = lam.update_event_source_mapping(UUID=uuid, BatchSize=100,
                                              MaximumBatchingWindowInSeconds=2,
                                              ScalingConfig={"MaximumConcurrency": 3})
    assert (updated["State"], updated["BatchSize"]) == ("Updating", 100)
    assert updated["ScalingConfig"] == {"MaximumConcurrency": 3}
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0][
        "UUID"] == uuid
    wait_for(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled", "settled")

    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    def gone() -> bool:
        try:
            lam.get_event_source_mapping(UUID=uuid)
        except lam.exceptions.ResourceNotFoundException:
            return True
        return False
    wait_for(gone, "the mapping to be deleted", 10)


def test_mapping_errors(lam: Any, sqs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": RECORDER})
    _, arn = make_queue(sqs)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name + "-missing")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as no_queue:
        lam.create_event_source_mapping(EventSourceArn=arn + "-missing", FunctionName=name)
    assert "AWS.SimpleQueueService.NonExistentQueue" in str(no_queue.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as bad_filter:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                        FilterCriteria={"Filters": [{"Pattern": "{bad"}]})
    assert "Invalid filter pattern definition." in str(bad_filter.value)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as unknown:
        lam.get_event_source_mapping(UUID="3b439c3f-22d9-4d2b-9395-c25df2cf049d")
    assert "The resource you requested does not exist." in str(unknown.value)


@pytest.mark.sandbox
def test_messages_reach_the_function_in_aws_shape_and_are_deleted(
        lam: Any, sqs: Any, server: Server, name: str) -> None:
    deploy(lam, name, {"index.py": RECORDER})
    url, arn = make_queue(sqs)
    marker = unique_name("m")
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": json.dumps({"marker": marker, "n": i}),
         "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "demo"}}}
        for i in range(3)])
    uuid = enabled_mapping(lam, EventSourceArn=arn, FunctionName=name)
    try:
        events = wait_for(
            lambda: (e := events_with(server, marker))
            and sum(len(x["Records"]) for x in e) >= 3 and e, "three records")
        records = [r for e in events for r in e["Records"]]
        assert sorted(json.loads(r["body"])["n"] for r in records) == [0, 1, 2]
        for event in events:
            parsed = SqsModel.model_validate(event)
            for record in parsed.Records:
                assert record.eventSource == "aws:sqs"
                assert record.eventSourceARN == arn
                assert record.awsRegion == "us-east-1"
                assert record.messageAttributes["kind"].stringValue == "demo"
                assert record.attributes.ApproximateReceiveCount == "1"
        raw = records[0]
        assert set(raw) == {"messageId", "receiptHandle", "body", "attributes",
                            "messageAttributes", "md5OfMessageAttributes", "md5OfBody",
                            "eventSource", "eventSourceARN", "awsRegion"}
        assert raw["messageAttributes"]["kind"] == {
            "stringValue": "demo", "stringListValues": [], "binaryListValues": [],
            "dataType": "String"}
        wait_for(lambda: queue_counts(sqs, url) == (0, 0), "the queue to be empty")
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


@pytest.mark.sandbox
def test_failures_come_back_then_go_to_the_dead_letter_queue(
        lam: Any, sqs: Any, server: Server, name: str) -> None:
    deploy(lam, name, {"index.py": RECORDER})
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    marker = unique_name("m")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"marker": marker, "fail": True}))
    uuid = enabled_mapping(lam, EventSourceArn=arn, FunctionName=name, BatchSize=1)
    try:
        def dead_lettered() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages", [])
            return got
        [moved] = wait_for(dead_lettered, "the message in the dead-letter queue")
        assert marker in moved["Body"]
        counts = [r["attributes"]["ApproximateReceiveCount"]
                  for e in events_with(server, marker) for r in e["Records"]]
        assert counts == ["1", "2"]
    finally:
        lam.delete_event_source_mapping(UUID=uuid)


@pytest.mark.sandbox
def test_filter_criteria_drop_what_matches_no_filter(
        lam: Any, sqs: Any, server: Server, name: str) -> None:
    deploy(lam, name, {"index.py": RECORDER})
    url, arn = make_queue(sqs)
    marker = unique_name("m")
    for kind in ("keep", "drop", "keep"):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"marker": marker, "kind": kind}))
    uuid = enabled_mapping(lam, EventSourceArn=arn, FunctionName=name, FilterCriteria={
        "Filters": [{"Pattern": json.dumps({"body": {"kind": ["keep"]}})}]})
    try:
        wait_for(lambda: queue_counts(sqs, url) == (0, 0), "the queue to be empty")
        time.sleep(0.5)  # the last invocation's log line
        kinds = [json.loads(r["body"])["kind"]
                 for e in events_with(server, marker) for r in e["Records"]]
        assert kinds == ["keep", "keep"]
    finally:
        lam.delete_event_source_mapping(UUID=uuid)
