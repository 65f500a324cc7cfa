"""SQS queue operations: names, idempotent creation, attributes, listing, tags, purge."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loam.services.base import ServiceError
from loam.services.sqs.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    PurgeQueueInProgress,
    QueueDeletedRecently,
    QueueDoesNotExist,
    QueueNameExists,
)
from tests.unit.test_sqs_support import ACCOUNT, BASE, Sqs, open_sqs


@pytest.fixture
def sqs(tmp_path: Path) -> Iterator[Sqs]:
    with open_sqs("sqlite", tmp_path) as make:
        yield make()


def refusal(sqs: Sqs, operation: str, **params: object) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        sqs(operation, **params)
    return caught.value


def test_queue_url_and_arn_follow_aws(sqs: Sqs) -> None:
    url = sqs.create("orders")
    assert url == f"{BASE}/{ACCOUNT}/orders"
    assert sqs.attributes(url, "QueueArn") == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders"}
    assert sqs("GetQueueUrl", QueueName="orders") == {"QueueUrl": url}
    assert sqs.service.queue_url_of(f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders") == url
    assert sqs.service.queue_url_of(f"arn:aws:sqs:us-east-1:{ACCOUNT}:other") is None


def test_any_host_in_a_queue_url_names_the_same_queue(sqs: Sqs) -> None:
    sqs.create("hosted")
    other = f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/hosted"
    sqs("SendMessage", QueueUrl=other, MessageBody="x")
    assert sqs.attributes(other, "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": "1"}
    with pytest.raises(QueueDoesNotExist):
        sqs("SendMessage", QueueUrl="http://localhost/999999999999/hosted", MessageBody="x")


def test_default_attributes(sqs: Sqs) -> None:
    url = sqs.create("defaults")
    attributes = sqs.attributes(url)
    assert attributes == {
        "QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:defaults",
        "ApproximateNumberOfMessages": "0",
        "ApproximateNumberOfMessagesNotVisible": "0",
        "ApproximateNumberOfMessagesDelayed": "0",
        "CreatedTimestamp": str(int(sqs.clock.time())),
        "LastModifiedTimestamp": str(int(sqs.clock.time())),
        "VisibilityTimeout": "30",
        "MaximumMessageSize": "1048576",
        "MessageRetentionPeriod": "345600",
        "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0",
        "SqsManagedSseEnabled": "true",
    }


def test_fifo_queue_attributes(sqs: Sqs) -> None:
    url = sqs.create("jobs.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    assert sqs.attributes(url, "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
                          "FifoThroughputLimit") == {
        "FifoQueue": "true", "ContentBasedDeduplication": "true",
        "DeduplicationScope": "queue", "FifoThroughputLimit": "perQueue"}


@pytest.mark.parametrize(("name", "attributes", "message"), [
    ("has space", {}, "Can only include alphanumeric characters, hyphens, or underscores. "
     "1 to 80 in length"),
    ("x" * 81, {}, "Can only include alphanumeric characters, hyphens, or underscores. "
     "1 to 80 in length"),
    ("plain.fifo", {}, "Can only include alphanumeric characters, hyphens, or underscores. "
     "1 to 80 in length"),
    ("nofifo", {"FifoQueue": "true"}, "The name of a FIFO queue can only include alphanumeric "
     "characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length."),
])
def test_queue_name_rules(sqs: Sqs, name: str, attributes: dict[str, str], message: str) -> None:
    error = refusal(sqs, "CreateQueue", QueueName=name, Attributes=attributes)
    assert isinstance(error, InvalidParameterValue)
    assert error.message == message


def test_longest_names_are_accepted(sqs: Sqs) -> None:
    sqs.create("a" * 80)
    sqs.create("b" * 75 + ".fifo", FifoQueue="true")


def test_create_is_idempotent_only_with_the_same_attributes(sqs: Sqs) -> None:
    url = sqs.create("same", VisibilityTimeout="60")
    assert sqs.create("same", VisibilityTimeout="60") == url
    assert sqs.create("same") == url
    error = refusal(sqs, "CreateQueue", QueueName="same", Attributes={"VisibilityTimeout": "61"})
    assert isinstance(error, QueueNameExists)
    assert error.wire_query_code == "QueueAlreadyExists"
    assert error.message == ("A queue already exists with the same name and a different value "
                             "for attribute VisibilityTimeout")


@pytest.mark.parametrize(("name", "value"), [
    ("VisibilityTimeout", "43201"), ("VisibilityTimeout", "-1"), ("VisibilityTimeout", "soon"),
    ("DelaySeconds", "901"), ("MaximumMessageSize", "1023"),
    ("MaximumMessageSize", "1048577"), ("MessageRetentionPeriod", "59"),
    ("MessageRetentionPeriod", "1209601"), ("ReceiveMessageWaitTimeSeconds", "21"),
    ("SqsManagedSseEnabled", "yes"), ("Policy", "not json"),
])
def test_attribute_values_out_of_range(sqs: Sqs, name: str, value: str) -> None:
    url = sqs.create("ranges")
    error = refusal(sqs, "SetQueueAttributes", QueueUrl=url, Attributes={name: value})
    assert isinstance(error, InvalidAttributeValue)
    assert error.message == f"Invalid value for the parameter {name}."
    with pytest.raises(InvalidAttributeValue):
        sqs("CreateQueue", QueueName="ranges2", Attributes={name: value})


@pytest.mark.parametrize("name", ["Bogus", "QueueArn", "ApproximateNumberOfMessages",
                                  "ContentBasedDeduplication", "FifoQueue"])
def test_unknown_or_read_only_attributes_on_set(sqs: Sqs, name: str) -> None:
    url = sqs.create("names")
    error = refusal(sqs, "SetQueueAttributes", QueueUrl=url, Attributes={name: "true"})
    assert isinstance(error, InvalidAttributeName)
    assert error.message == f"Unknown Attribute {name}."


def test_get_unknown_attribute(sqs: Sqs) -> None:
    url = sqs.create("get-names")
    with pytest.raises(InvalidAttributeName, match=r"^Unknown Attribute Nope\.$"):
        sqs.attributes(url, "Nope")


def test_set_attributes_changes_last_modified(sqs: Sqs) -> None:
    url = sqs.create("modified")
    sqs.clock.advance(100)
    sqs("SetQueueAttributes", QueueUrl=url,
        Attributes={"VisibilityTimeout": "5", "DelaySeconds": "7"})
    attributes = sqs.attributes(url)
    assert attributes["VisibilityTimeout"] == "5"
    assert attributes["DelaySeconds"] == "7"
    assert int(attributes["LastModifiedTimestamp"]) == int(attributes["CreatedTimestamp"]) + 100


def test_redrive_policy_checks_and_form(sqs: Sqs) -> None:
    dlq = sqs.create("dead")
    dlq_arn = sqs.attributes(dlq, "QueueArn")["QueueArn"]
    source = sqs.create("source")
    sqs("SetQueueAttributes", QueueUrl=source, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})})
    assert json.loads(sqs.attributes(source, "RedrivePolicy")["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}
    assert sqs("ListDeadLetterSourceQueues", QueueUrl=dlq) == {"queueUrls": [source]}
    missing = json.dumps({"deadLetterTargetArn": dlq_arn + "x", "maxReceiveCount": 3})
    error = refusal(sqs, "SetQueueAttributes", QueueUrl=source,
                    Attributes={"RedrivePolicy": missing})
    assert isinstance(error, InvalidParameterValue)
    assert error.message == (f"Value {missing} for parameter RedrivePolicy is invalid. "
                             "Reason: Dead letter target does not exist.")
    no_count = json.dumps({"deadLetterTargetArn": dlq_arn})
    error = refusal(sqs, "SetQueueAttributes", QueueUrl=source,
                    Attributes={"RedrivePolicy": no_count})
    assert error.message.endswith("Reason: Redrive policy does not contain mandatory "
                                  "attribute: maxReceiveCount.")
    too_many = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1001})
    error = refusal(sqs, "SetQueueAttributes", QueueUrl=source,
                    Attributes={"RedrivePolicy": too_many})
    assert "valid values are from 1 to 1000 both inclusive" in error.message
    sqs("SetQueueAttributes", QueueUrl=source, Attributes={"RedrivePolicy": ""})
    assert sqs.attributes(source, "RedrivePolicy") == {}
    assert sqs("ListDeadLetterSourceQueues", QueueUrl=dlq) == {"queueUrls": []}


def test_redrive_allow_policy_deny_all(sqs: Sqs) -> None:
    dlq = sqs.create("closed-dlq", RedriveAllowPolicy=json.dumps(
        {"redrivePermission": "denyAll"}))
    dlq_arn = sqs.attributes(dlq, "QueueArn")["QueueArn"]
    assert json.loads(sqs.attributes(dlq, "RedriveAllowPolicy")["RedriveAllowPolicy"]) == {
        "redrivePermission": "denyAll"}
    error = refusal(sqs, "CreateQueue", QueueName="wants-it", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})
    assert isinstance(error, InvalidParameterValue)


def test_dead_letter_queue_must_be_the_same_type(sqs: Sqs) -> None:
    fifo = sqs.create("dlq.fifo", FifoQueue="true")
    arn = sqs.attributes(fifo, "QueueArn")["QueueArn"]
    error = refusal(sqs, "CreateQueue", QueueName="std", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 2})})
    assert "same type of queue" in error.message


def test_list_queues_prefix_and_pages(sqs: Sqs) -> None:
    for name in ("app-a", "app-b", "app-c", "other"):
        sqs.create(name)
    assert sqs("ListQueues", QueueNamePrefix="app-")["QueueUrls"] == [
        f"{BASE}/{ACCOUNT}/app-{c}" for c in "abc"]
    first = sqs("ListQueues", QueueNamePrefix="app-", MaxResults=2)
    assert first["QueueUrls"] == [f"{BASE}/{ACCOUNT}/app-a", f"{BASE}/{ACCOUNT}/app-b"]
    second = sqs("ListQueues", QueueNamePrefix="app-", MaxResults=2,
                 NextToken=first["NextToken"])
    assert second == {"QueueUrls": [f"{BASE}/{ACCOUNT}/app-c"]}
    assert sqs("ListQueues", QueueNamePrefix="none") == {}
    with pytest.raises(InvalidParameterValue, match="MaxResults must be an integer between 1 "
                       "and 1000"):
        sqs("ListQueues", MaxResults=0)


def test_delete_queue_and_the_sixty_second_wait(sqs: Sqs) -> None:
    url = sqs.create("gone")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    sqs("DeleteQueue", QueueUrl=url)
    error = refusal(sqs, "GetQueueUrl", QueueName="gone")
    assert isinstance(error, QueueDoesNotExist)
    assert error.message == "The specified queue does not exist."
    assert error.wire_query_code == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(QueueDoesNotExist):
        sqs("DeleteQueue", QueueUrl=url)
    error = refusal(sqs, "CreateQueue", QueueName="gone")
    assert isinstance(error, QueueDeletedRecently)
    assert error.wire_query_code == "AWS.SimpleQueueService.QueueDeletedRecently"
    sqs.clock.advance(61)
    assert sqs.create("gone") == url
    assert sqs.attributes(url, "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": "0"}


def test_purge_removes_all_messages_once_a_minute(sqs: Sqs) -> None:
    url = sqs.create("purged")
    for i in range(3):
        sqs("SendMessage", QueueUrl=url, MessageBody=str(i))
    sqs.receive(url)
    sqs("PurgeQueue", QueueUrl=url)
    assert sqs.attributes(url, "ApproximateNumberOfMessages",
                          "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    error = refusal(sqs, "PurgeQueue", QueueUrl=url)
    assert isinstance(error, PurgeQueueInProgress)
    assert error.message == "Only one PurgeQueue operation on purged is allowed every 60 seconds."
    sqs.clock.advance(60)
    sqs("PurgeQueue", QueueUrl=url)


def test_tags(sqs: Sqs) -> None:
    url = str(sqs("CreateQueue", QueueName="tagged", tags={"team": "a"})["QueueUrl"])
    sqs("TagQueue", QueueUrl=url, Tags={"env": "dev", "team": "b"})
    assert sqs("ListQueueTags", QueueUrl=url) == {"Tags": {"team": "b", "env": "dev"}}
    sqs("UntagQueue", QueueUrl=url, TagKeys=["team", "env"])
    assert sqs("ListQueueTags", QueueUrl=url) == {}
    with pytest.raises(InvalidParameterValue, match="Too many tags"):
        sqs("TagQueue", QueueUrl=url, Tags={f"k{i}": "v" for i in range(51)})


def test_statistics_is_a_snapshot(sqs: Sqs) -> None:
    url = sqs.create("counted")
    sqs("SendMessageBatch", QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": "m"} for i in range(3)])
    messages = sqs.receive(url, MaxNumberOfMessages=10)
    sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    stats = sqs.service.statistics()
    assert (stats.queues, stats.messages_sent, stats.messages_received,
            stats.messages_deleted) == (1, 3, 3, 1)
    with pytest.raises(AttributeError):
        stats.queues = 5  # type: ignore[misc]
