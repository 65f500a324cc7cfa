"""SQS FIFO queues: groups in order, held while in flight, deduplication, sequence numbers.

Runs on SQLite and on PostgreSQL (skipped when unreachable).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from loam.services.sqs.errors import InvalidParameterValue, MissingParameter
from tests.unit.test_sqs_support import Sqs, open_sqs


@pytest.fixture(params=["sqlite", "postgres"])
def sqs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sqs]:
    with open_sqs(request.param, tmp_path) as make:
        yield make()


def send(sqs: Sqs, url: str, body: str, group: str, dedup: str | None = None) -> dict[str, str]:
    params = {"QueueUrl": url, "MessageBody": body, "MessageGroupId": group}
    if dedup:
        params["MessageDeduplicationId"] = dedup
    return {k: str(v) for k, v in sqs("SendMessage", **params).items()}


def test_order_within_a_group_and_hold_while_in_flight(sqs: Sqs) -> None:
    url = sqs.create("order.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    for body, group in (("a1", "a"), ("b1", "b"), ("a2", "a"), ("a3", "a"), ("b2", "b")):
        send(sqs, url, body, group)
    first = sqs.receive(url, MaxNumberOfMessages=2)
    assert [m["Body"] for m in first] == ["a1", "b1"]
    # Both groups have a message in flight: nothing more until they are deleted.
    assert sqs.receive(url, MaxNumberOfMessages=10) == []
    sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["a2", "a3"]
    sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=first[1]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["b2"]


def test_a_group_comes_back_in_order_after_its_visibility_timeout(sqs: Sqs) -> None:
    url = sqs.create("again.fifo", FifoQueue="true", ContentBasedDeduplication="true",
                     VisibilityTimeout="10")
    for body in ("1", "2", "3"):
        send(sqs, url, body, "g")
    assert [m["Body"] for m in sqs.receive(url)] == ["1"]
    assert sqs.receive(url) == []
    sqs.clock.advance(10)
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["1", "2", "3"]


def test_deduplication_by_id_and_by_content(sqs: Sqs) -> None:
    url = sqs.create("dedup.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    first = send(sqs, url, "same", "g", dedup="d-1")
    again = send(sqs, url, "different body", "g", dedup="d-1")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    by_content = send(sqs, url, "hello", "g")
    assert send(sqs, url, "hello", "g")["MessageId"] == by_content["MessageId"]
    sqs.clock.advance(301)
    assert send(sqs, url, "hello", "g")["MessageId"] != by_content["MessageId"]
    messages = sqs.receive(url, MaxNumberOfMessages=10,
                           MessageSystemAttributeNames=["MessageDeduplicationId",
                                                        "MessageGroupId", "SequenceNumber"])
    assert [m["Body"] for m in messages] == ["same", "hello", "hello"]
    assert messages[1]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(
        b"hello").hexdigest()
    assert messages[0]["Attributes"]["MessageGroupId"] == "g"
    numbers = [m["Attributes"]["SequenceNumber"] for m in messages]
    assert numbers == sorted(numbers) and all(len(n) == 20 for n in numbers)


def test_deduplication_inside_one_batch(sqs: Sqs) -> None:
    url = sqs.create("batchdedup.fifo", FifoQueue="true")
    out = sqs("SendMessageBatch", QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "x", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
        {"Id": "2", "MessageBody": "y", "MessageGroupId": "g", "MessageDeduplicationId": "d"},
        {"Id": "3", "MessageBody": "z", "MessageGroupId": "g", "MessageDeduplicationId": "e"},
    ])
    ids = [e["MessageId"] for e in out["Successful"]]
    assert ids[0] == ids[1] != ids[2]
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["x", "z"]


def test_deduplication_scope_message_group(sqs: Sqs) -> None:
    url = sqs.create("scoped.fifo", FifoQueue="true", DeduplicationScope="messageGroup",
                     FifoThroughputLimit="perMessageGroupId")
    a = send(sqs, url, "x", "a", dedup="d")
    b = send(sqs, url, "x", "b", dedup="d")
    assert a["MessageId"] != b["MessageId"]


def test_fifo_send_rules(sqs: Sqs) -> None:
    url = sqs.create("rules.fifo", FifoQueue="true")
    with pytest.raises(MissingParameter, match=r"The request must contain the parameter "
                       r"MessageGroupId\."):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    with pytest.raises(InvalidParameterValue, match="either have ContentBasedDeduplication "
                       "enabled or MessageDeduplicationId provided explicitly"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageGroupId="g")
    with pytest.raises(InvalidParameterValue) as caught:
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageGroupId="g",
            MessageDeduplicationId="d", DelaySeconds=5)
    assert caught.value.message == ("Value 5 for parameter DelaySeconds is invalid. Reason: "
                                    "The request include parameter that is not valid for this "
                                    "queue type.")
    standard = sqs.create("standard")
    with pytest.raises(InvalidParameterValue, match="MessageDeduplicationId"):
        sqs("SendMessage", QueueUrl=standard, MessageBody="x", MessageDeduplicationId="d")


def test_fifo_redrive_keeps_the_group_moving(sqs: Sqs) -> None:
    dlq = sqs.create("dead.fifo", FifoQueue="true")
    dlq_arn = sqs.attributes(dlq, "QueueArn")["QueueArn"]
    url = sqs.create("src.fifo", FifoQueue="true", ContentBasedDeduplication="true",
                     VisibilityTimeout="1",
                     RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn,
                                               "maxReceiveCount": 1}))
    send(sqs, url, "poison", "g")
    send(sqs, url, "next", "g")
    assert [m["Body"] for m in sqs.receive(url)] == ["poison"]
    sqs.clock.advance(1)
    assert [m["Body"] for m in sqs.receive(url)] == ["next"]
    assert [m["Body"] for m in sqs.receive(dlq)] == ["poison"]
