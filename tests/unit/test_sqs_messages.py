"""SQS messages: send, receive, visibility, receipts, delays, retention, redrive, batches.

Runs on SQLite and on PostgreSQL (skipped when unreachable).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loam.services.base import ServiceError
from loam.services.sqs.errors import (
    BatchEntryIdsNotDistinct,
    BatchRequestTooLong,
    EmptyBatchRequest,
    InvalidBatchEntryId,
    InvalidMessageContents,
    InvalidParameterValue,
    MessageNotInflight,
    MissingParameter,
    QueueDoesNotExist,
    ReceiptHandleIsInvalid,
    TooManyEntriesInBatchRequest,
)
from tests.unit.test_sqs_support import Sqs, open_sqs, run


@pytest.fixture(params=["sqlite", "postgres"])
def sqs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Sqs]:
    with open_sqs(request.param, tmp_path) as make:
        yield make()


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    """AWS's documented encoding, written out independently of the service's code."""
    out = b""
    for name in sorted(attributes):
        value = attributes[name]
        for text in (name, value["DataType"]):
            out += struct.pack(">I", len(text.encode())) + text.encode()
        if "BinaryValue" in value:
            out += b"\x02" + struct.pack(">I", len(value["BinaryValue"])) + value["BinaryValue"]
        else:
            data = value["StringValue"].encode()
            out += b"\x01" + struct.pack(">I", len(data)) + data
    return hashlib.md5(out).hexdigest()


ATTRIBUTES: dict[str, dict[str, Any]] = {
    "City": {"DataType": "String", "StringValue": "Any City"},
    "Greeting": {"DataType": "Binary", "BinaryValue": b"Hello, World!"},
    "Population": {"DataType": "Number", "StringValue": "1250800"},
    "Kind": {"DataType": "String.custom", "StringValue": "ünïcode"},
}
TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793"


def test_send_and_receive_with_attributes_and_digests(sqs: Sqs) -> None:
    url = sqs.create("plain")
    trace: dict[str, dict[str, Any]] = {"AWSTraceHeader": {"DataType": "String",
                                                          "StringValue": TRACE}}
    sent = sqs("SendMessage", QueueUrl=url, MessageBody="Information about the city.",
               MessageAttributes=ATTRIBUTES, MessageSystemAttributes=trace)
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"Information about the city.").hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(ATTRIBUTES)
    assert sent["MD5OfMessageSystemAttributes"] == md5_of_attributes(trace)
    assert "SequenceNumber" not in sent
    [message] = sqs.receive(url, MessageAttributeNames=["All"],
                            MessageSystemAttributeNames=["All"])
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "Information about the city."
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MessageAttributes"] == ATTRIBUTES
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"] == {
        "SenderId": "123456789012",
        "SentTimestamp": str(int(sqs.clock.time() * 1000)),
        "ApproximateReceiveCount": "1",
        "ApproximateFirstReceiveTimestamp": str(int(sqs.clock.time() * 1000)),
        "AWSTraceHeader": TRACE,
    }


def test_receive_selects_message_attributes(sqs: Sqs) -> None:
    url = sqs.create("select")
    attributes = {
        "a.one": {"DataType": "String", "StringValue": "1"},
        "a.two": {"DataType": "String", "StringValue": "2"},
        "b": {"DataType": "Number", "StringValue": "3"},
    }
    sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    cases: list[tuple[list[str], set[str]]] = [
        ([".*"], {"a.one", "a.two", "b"}), (["a.*"], {"a.one", "a.two"}), (["b"], {"b"}),
        (["missing"], set()), ([], set())]
    for wanted, names in cases:
        sqs.clock.advance(31)
        [message] = sqs.receive(url, MessageAttributeNames=wanted)
        chosen = message.get("MessageAttributes", {})
        assert set(chosen) == names
        if names:
            assert message["MD5OfMessageAttributes"] == md5_of_attributes(chosen)
        else:
            assert "MD5OfMessageAttributes" not in message


def test_visibility_timeout_hides_then_returns_with_a_new_handle(sqs: Sqs) -> None:
    url = sqs.create("visibility", VisibilityTimeout="10")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    [first] = sqs.receive(url)
    assert sqs.receive(url) == []
    assert sqs.attributes(url, "ApproximateNumberOfMessagesNotVisible") == {
        "ApproximateNumberOfMessagesNotVisible": "1"}
    sqs.clock.advance(10)
    [second] = sqs.receive(url, AttributeNames=["ApproximateReceiveCount"], VisibilityTimeout=60)
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"] == {"ApproximateReceiveCount": "2"}
    sqs.clock.advance(59)
    assert sqs.receive(url) == []
    sqs.clock.advance(1)
    assert len(sqs.receive(url)) == 1


def test_a_stale_receipt_handle_still_deletes(sqs: Sqs) -> None:
    url = sqs.create("stale", VisibilityTimeout="1")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    [first] = sqs.receive(url)
    sqs.clock.advance(1)
    assert len(sqs.receive(url)) == 1
    sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.clock.advance(5)
    assert sqs.receive(url) == []
    sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])  # twice is fine


def test_invalid_receipt_handles(sqs: Sqs) -> None:
    url = sqs.create("handles")
    other = sqs.create("handles-other")
    sqs("SendMessage", QueueUrl=other, MessageBody="x")
    [message] = sqs.receive(other)
    for handle in ("garbage", message["ReceiptHandle"]):
        with pytest.raises(ReceiptHandleIsInvalid) as caught:
            sqs("DeleteMessage", QueueUrl=url, ReceiptHandle=handle)
        assert caught.value.message == (f'The input receipt handle "{handle}" is not a valid '
                                        "receipt handle.")


def test_change_message_visibility(sqs: Sqs) -> None:
    url = sqs.create("change")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    [message] = sqs.receive(url)
    handle = message["ReceiptHandle"]
    sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    [again] = sqs.receive(url, VisibilityTimeout=100)
    sqs.clock.advance(50)
    sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=again["ReceiptHandle"],
        VisibilityTimeout=200)
    sqs.clock.advance(150)
    assert sqs.receive(url) == []
    sqs.clock.advance(50)
    assert len(sqs.receive(url)) == 1
    with pytest.raises(InvalidParameterValue, match="Message does not exist or is not available "
                       "for visibility timeout change"):
        sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=5)
    with pytest.raises(InvalidParameterValue, match="Must be between 0 and 43200"):
        sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=handle,
            VisibilityTimeout=43201)


def test_change_visibility_of_a_message_no_longer_in_flight(sqs: Sqs) -> None:
    url = sqs.create("expired", VisibilityTimeout="5")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    [message] = sqs.receive(url)
    sqs.clock.advance(5)
    with pytest.raises(MessageNotInflight) as caught:
        sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=5)
    assert caught.value.wire_query_code == "AWS.SimpleQueueService.MessageNotInflight"


def test_visibility_cannot_pass_twelve_hours_from_the_receive(sqs: Sqs) -> None:
    url = sqs.create("twelve")
    sqs("SendMessage", QueueUrl=url, MessageBody="x")
    [message] = sqs.receive(url, VisibilityTimeout=43200)
    sqs.clock.advance(100)
    with pytest.raises(InvalidParameterValue, match=r"beyond the limit \[43200 seconds\]"):
        sqs("ChangeMessageVisibility", QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
            VisibilityTimeout=43200)


def test_delay_seconds_per_queue_and_per_message(sqs: Sqs) -> None:
    url = sqs.create("delays", DelaySeconds="20")
    sqs("SendMessage", QueueUrl=url, MessageBody="queue delay")
    sqs("SendMessage", QueueUrl=url, MessageBody="own delay", DelaySeconds=5)
    sqs("SendMessage", QueueUrl=url, MessageBody="no delay", DelaySeconds=0)
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["no delay"]
    assert sqs.attributes(url, "ApproximateNumberOfMessagesDelayed") == {
        "ApproximateNumberOfMessagesDelayed": "2"}
    sqs.clock.advance(5)
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["own delay"]
    sqs.clock.advance(15)
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["queue delay"]
    with pytest.raises(InvalidParameterValue) as caught:
        sqs("SendMessage", QueueUrl=url, MessageBody="x", DelaySeconds=901)
    assert caught.value.message == ("Value 901 for parameter DelaySeconds is invalid. Reason: "
                                    "DelaySeconds must be >= 0 and <= 900.")


def test_messages_past_the_retention_period_are_dropped(sqs: Sqs) -> None:
    url = sqs.create("retention", MessageRetentionPeriod="60")
    sqs("SendMessage", QueueUrl=url, MessageBody="old")
    sqs.clock.advance(30)
    sqs("SendMessage", QueueUrl=url, MessageBody="young")
    sqs.clock.advance(31)
    assert sqs.attributes(url, "ApproximateNumberOfMessages") == {
        "ApproximateNumberOfMessages": "1"}
    assert [m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10)] == ["young"]


def test_redrive_moves_a_message_after_max_receive_count(sqs: Sqs) -> None:
    dlq = sqs.create("redrive-dlq")
    dlq_arn = sqs.attributes(dlq, "QueueArn")["QueueArn"]
    url = sqs.create("redrive-src", VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}))
    source_arn = sqs.attributes(url, "QueueArn")["QueueArn"]
    sent = sqs("SendMessage", QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive(url)) == 1
        sqs.clock.advance(1)
    assert sqs.receive(url) == []
    [moved] = sqs.receive(dlq, MessageSystemAttributeNames=["All"])
    assert moved["MessageId"] == sent["MessageId"]
    assert moved["Body"] == "poison"
    assert moved["Attributes"]["DeadLetterQueueSourceArn"] == source_arn
    assert sqs.service.statistics().messages_dead_lettered == 1


def test_send_refusals(sqs: Sqs) -> None:
    url = sqs.create("refusals", MaximumMessageSize="1024")
    with pytest.raises(MissingParameter, match=r"The request must contain the parameter "
                       r"MessageBody\."):
        sqs("SendMessage", QueueUrl=url, MessageBody="")
    with pytest.raises(InvalidMessageContents, match="Invalid binary character '#x1' was found"):
        sqs("SendMessage", QueueUrl=url, MessageBody="a\x01b")
    with pytest.raises(InvalidParameterValue, match="Message must be shorter than 1024 bytes"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x" * 1025)
    with pytest.raises(InvalidParameterValue, match="Message must be shorter than 1024 bytes"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x" * 1000, MessageAttributes={
            "big": {"DataType": "String", "StringValue": "y" * 30}})
    with pytest.raises(InvalidParameterValue, match=r"Number of message attributes \[11\]"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageAttributes={
            f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)})
    with pytest.raises(InvalidParameterValue, match="supported type prefixes"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageAttributes={
            "a": {"DataType": "Text", "StringValue": "v"}})
    with pytest.raises(InvalidParameterValue, match=r"attribute name 'AWS\.x' is invalid"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageAttributes={
            "AWS.x": {"DataType": "String", "StringValue": "v"}})
    with pytest.raises(InvalidParameterValue, match="to a number"):
        sqs("SendMessage", QueueUrl=url, MessageBody="x", MessageAttributes={
            "n": {"DataType": "Number", "StringValue": "ten"}})
    with pytest.raises(QueueDoesNotExist):
        sqs("SendMessage", QueueUrl=url + "-missing", MessageBody="x")


def test_receive_parameter_ranges(sqs: Sqs) -> None:
    url = sqs.create("ranges")
    for name, value, reason in (
            ("MaxNumberOfMessages", 11, "Must be between 1 and 10, if provided."),
            ("MaxNumberOfMessages", 0, "Must be between 1 and 10, if provided."),
            ("WaitTimeSeconds", 21, "Must be >= 0 and <= 20, if provided."),
            ("VisibilityTimeout", 43201, "Must be >= 0 and <= 43200, if provided.")):
        with pytest.raises(InvalidParameterValue) as caught:
            sqs("ReceiveMessage", QueueUrl=url, **{name: value})
        assert caught.value.message == (f"Value {value} for parameter {name} is invalid. "
                                        f"Reason: {reason}")


def test_send_batch_reports_each_entry(sqs: Sqs) -> None:
    url = sqs.create("batch")
    out = sqs("SendMessageBatch", QueueUrl=url, Entries=[
        {"Id": "ok-1", "MessageBody": "one"},
        {"Id": "bad", "MessageBody": "\x00"},
        {"Id": "ok_2", "MessageBody": "two", "MessageAttributes": {
            "k": {"DataType": "String", "StringValue": "v"}}},
    ])
    assert [e["Id"] for e in out["Successful"]] == ["ok-1", "ok_2"]
    assert out["Successful"][1]["MD5OfMessageAttributes"] == md5_of_attributes(
        {"k": {"DataType": "String", "StringValue": "v"}})
    assert out["Failed"] == [{"Id": "bad", "SenderFault": True, "Code": "InvalidMessageContents",
                              "Message": out["Failed"][0]["Message"]}]
    bodies = sorted(m["Body"] for m in sqs.receive(url, MaxNumberOfMessages=10))
    assert bodies == ["one", "two"]


def batch_error(sqs: Sqs, operation: str, entries: list[dict[str, Any]]) -> ServiceError:
    url = sqs.create("batch-errors")
    with pytest.raises(ServiceError) as caught:
        sqs(operation, QueueUrl=url, Entries=entries)
    return caught.value


@pytest.mark.parametrize(("operation", "entry_shape", "entry"), [
    ("SendMessageBatch", "SendMessageBatchRequestEntry", {"MessageBody": "x"}),
    ("DeleteMessageBatch", "DeleteMessageBatchRequestEntry", {"ReceiptHandle": "h"}),
    ("ChangeMessageVisibilityBatch", "ChangeMessageVisibilityBatchRequestEntry",
     {"ReceiptHandle": "h", "VisibilityTimeout": 1}),
])
def test_batch_request_errors(sqs: Sqs, operation: str, entry_shape: str,
                              entry: dict[str, Any]) -> None:
    error = batch_error(sqs, operation, [])
    assert isinstance(error, EmptyBatchRequest)
    assert error.message == f"There should be at least one {entry_shape} in the request."
    assert error.wire_query_code == "AWS.SimpleQueueService.EmptyBatchRequest"
    error = batch_error(sqs, operation, [{"Id": str(i), **entry} for i in range(11)])
    assert isinstance(error, TooManyEntriesInBatchRequest)
    assert error.message == "Maximum number of entries per request are 10. You have sent 11."
    error = batch_error(sqs, operation, [{"Id": "a", **entry}, {"Id": "a", **entry}])
    assert isinstance(error, BatchEntryIdsNotDistinct)
    assert error.message == "Id a repeated."
    error = batch_error(sqs, operation, [{"Id": "no spaces", **entry}])
    assert isinstance(error, InvalidBatchEntryId)


def test_batch_request_too_long(sqs: Sqs) -> None:
    url = sqs.create("long-batch")
    with pytest.raises(BatchRequestTooLong, match="You have sent 1048580 bytes"):
        sqs("SendMessageBatch", QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": "x" * 262145} for i in range(4)])


def test_delete_and_change_visibility_batches(sqs: Sqs) -> None:
    url = sqs.create("batches")
    sqs("SendMessageBatch", QueueUrl=url, Entries=[
        {"Id": str(i), "MessageBody": str(i)} for i in range(4)])
    messages = sqs.receive(url, MaxNumberOfMessages=10)
    assert len(messages) == 4
    out = sqs("ChangeMessageVisibilityBatch", QueueUrl=url, Entries=[
        {"Id": "show", "ReceiptHandle": messages[0]["ReceiptHandle"], "VisibilityTimeout": 0},
        {"Id": "bad", "ReceiptHandle": "nope", "VisibilityTimeout": 0}])
    assert out["Successful"] == [{"Id": "show"}]
    assert [(f["Id"], f["Code"]) for f in out["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    out = sqs("DeleteMessageBatch", QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        + [{"Id": "bad", "ReceiptHandle": "nope"}])
    assert len(out["Successful"]) == 4
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in out["Failed"]] == [
        ("bad", "ReceiptHandleIsInvalid", True)]
    sqs.clock.advance(60)
    assert sqs.receive(url) == []


def test_long_poll_returns_early_when_a_message_is_sent(sqs: Sqs) -> None:
    url = sqs.create("long-poll")

    async def scenario() -> list[dict[str, Any]]:
        waiting = asyncio.create_task(sqs.call("ReceiveMessage", QueueUrl=url,
                                               WaitTimeSeconds=20))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        await sqs.service.send(_arn(url), "wake up")
        out = await asyncio.wait_for(waiting, 5)
        return list(out["Messages"])

    messages = run(scenario())
    assert [m["Body"] for m in messages] == ["wake up"]


def _arn(url: str) -> str:
    return "arn:aws:sqs:us-east-1:123456789012:" + url.rsplit("/", 1)[1]


def test_long_poll_ends_empty_at_its_wait_time(sqs: Sqs) -> None:
    url = sqs.create("long-empty", ReceiveMessageWaitTimeSeconds="20")

    async def scenario() -> dict[str, Any]:
        waiting = asyncio.create_task(sqs.call("ReceiveMessage", QueueUrl=url))
        for _ in range(20):
            await asyncio.sleep(0.02)
            assert not waiting.done()
            sqs.clock.advance(1)
        return await asyncio.wait_for(waiting, 5)

    assert run(scenario()) == {}


def test_long_poll_finds_a_message_sent_through_another_node(sqs: Sqs, tmp_path: Path) -> None:
    url = sqs.create("cross-node")
    other = Sqs(sqs.service.database, sqs.clock)

    async def scenario() -> dict[str, Any]:
        waiting = asyncio.create_task(sqs.call("ReceiveMessage", QueueUrl=url,
                                               WaitTimeSeconds=20))
        await asyncio.sleep(0.05)
        await other.call("SendMessage", QueueUrl=url, MessageBody="elsewhere")
        return await asyncio.wait_for(waiting, 5)

    assert [m["Body"] for m in run(scenario())["Messages"]] == ["elsewhere"]


def test_in_process_send(sqs: Sqs) -> None:
    url = sqs.create("inproc")
    message_id = run(sqs.service.send(_arn(url), "body", message_attributes={
        "RequestID": {"DataType": "String", "StringValue": "r-1"}}))
    [message] = sqs.receive(url, MessageAttributeNames=["All"])
    assert message["MessageId"] == message_id
    assert message["MessageAttributes"] == {"RequestID": {"DataType": "String",
                                                          "StringValue": "r-1"}}
    with pytest.raises(QueueDoesNotExist):
        run(sqs.service.send(_arn(url) + "-gone", "body"))
