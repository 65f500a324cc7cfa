"""SQS through a real server: boto3 (JSON 1.0) and the aws CLI (awsQuery)."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import unique_name
from tests.helpers import Server, client

AWS_CLI = Path("/usr/bin/aws")


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return client(server, "sqs")


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str:
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


def new_queue(sqs: Any, suffix: str = "", **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=unique_name("q") + suffix,
                                Attributes=attributes)["QueueUrl"])


def arn_of(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url,
                                        AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def test_send_and_receive_with_attributes(sqs: Any) -> None:
    url = new_queue(sqs)
    attributes: dict[str, dict[str, Any]] = {
        "City": {"DataType": "String", "StringValue": "Any City"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
        "Count": {"DataType": "Number.int", "StringValue": "42"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attributes)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                              MessageSystemAttributeNames=["All"])
    [message] = got["Messages"]
    assert message["Body"] == "héllo"
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == md5_of_attributes(attributes)
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessages"] == "0"
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_batches(sqs: Any) -> None:
    url = new_queue(sqs)
    out = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(10)])
    assert len(out["Successful"]) == 10 and not out.get("Failed")
    received: list[dict[str, Any]] = []
    while len(received) < 10:
        received += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        WaitTimeSeconds=1).get("Messages", [])
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)])
    assert len(deleted["Successful"]) == 10
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"m{i}", "MessageBody": "x"} for i in range(11)])
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "same", "MessageBody": "x"}, {"Id": "same", "MessageBody": "y"}])


def test_visibility_timeout_and_change(sqs: Any) -> None:
    url = new_queue(sqs, VisibilityTimeout="30")
    sqs.send_message(QueueUrl=url, MessageBody="hidden")
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                  VisibilityTimeout=0)
    [again] = sqs.receive_message(QueueUrl=url,
                                  MessageSystemAttributeNames=["ApproximateReceiveCount"]
                                  )["Messages"]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert again["ReceiptHandle"] != message["ReceiptHandle"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")


def test_long_poll_returns_when_a_message_arrives(sqs: Any) -> None:
    url = new_queue(sqs)
    timer = threading.Timer(1.0, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    started = time.monotonic()
    timer.start()
    try:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert [m["Body"] for m in got["Messages"]] == ["late"]
    assert 0.9 <= elapsed < 5


def test_dead_letter_redrive(sqs: Any) -> None:
    dlq = new_queue(sqs)
    url = new_queue(sqs, RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": arn_of(sqs, dlq), "maxReceiveCount": 2}))
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    moved = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])
    [message] = moved["Messages"]
    assert message["Body"] == "poison"
    assert message["Attributes"]["DeadLetterQueueSourceArn"] == arn_of(sqs, url)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_fifo_order_and_deduplication(sqs: Any) -> None:
    url = new_queue(sqs, ".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    numbers = []
    for body in ("1", "2", "3"):
        numbers.append(sqs.send_message(QueueUrl=url, MessageBody=body,
                                        MessageGroupId="g")["SequenceNumber"])
    duplicate = sqs.send_message(QueueUrl=url, MessageBody="1", MessageGroupId="g")
    assert duplicate["SequenceNumber"] == numbers[0]
    assert numbers == sorted(numbers)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in got] == ["1", "2", "3"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    with pytest.raises(sqs.exceptions.ClientError, match="MessageGroupId"):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_errors(sqs: Any) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=unique_name("missing"))
    url = new_queue(sqs, VisibilityTimeout="10")
    name = url.rsplit("/", 1)[1]
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "20"})
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
    with pytest.raises(sqs.exceptions.ClientError) as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert caught.value.response["Error"]["Code"] == "InvalidAttributeValue"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_another_host_name_reaches_the_same_queue(sqs: Any, server: Server) -> None:
    url = new_queue(sqs)
    other = url.replace("127.0.0.1", "localhost")
    sqs.send_message(QueueUrl=other, MessageBody="via localhost")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["via localhost"]


@pytest.mark.skipif(not AWS_CLI.exists(),
                    reason="/usr/bin/aws is not installed")
def test_aws_cli_speaks_query_to_the_same_queues(server: Server, tmp_path: Path) -> None:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
               AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_PAGER="")

    def aws(*args: str) -> Any:
        done = subprocess.run([str(AWS_CLI), "--endpoint-url", server.url, "--output", "json",
                               "sqs", *args], capture_output=True, text=True, env=env,
                              timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    name = unique_name("cli")
    url = aws("create-queue", "--queue-name", name)["QueueUrl"]
    assert url == f"{server.url}/123456789012/{name}"
    sent = aws("send-message", "--queue-url", url, "--message-body", "from the cli",
               "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = aws("receive-message", "--queue-url", url, "--message-attribute-names", "All",
              "--attribute-names", "All")
    [message] = got["Messages"]
    assert message["Body"] == "from the cli"
    assert message["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    missing = subprocess.run([str(AWS_CLI), "--endpoint-url", server.url, "sqs",
                              "get-queue-url", "--queue-name", unique_name("gone")],
                             capture_output=True, text=True, env=env, timeout=60, check=False)
    assert missing.returncode != 0
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing.stderr
