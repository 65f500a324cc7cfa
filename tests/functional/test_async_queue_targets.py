"""Async invocations sending to the embedded queue: a DeadLetterConfig queue gets the
discarded event with AWS's attributes; an SQS destination gets the invocation record."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

WORKER = (
    "def handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('no ' + event['marker'])\n"
    "    return {'done': event['marker']}\n"
)


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return client(server, "sqs")


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    return url, arn


def _receive(sqs: Any, url: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"],
                                  MessageSystemAttributeNames=["All"]).get("Messages", [])
        if got:
            message: dict[str, Any] = got[0]
            return message
    raise AssertionError("nothing arrived")


def test_a_discarded_event_reaches_the_dead_letter_queue(lam: Any, sqs: Any,
                                                          name: str) -> None:
    url, arn = _queue(sqs)
    deploy(lam, name, {"index.py": WORKER}, DeadLetterConfig={"TargetArn": arn})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    payload = json.dumps({"marker": "dead", "fail": True})
    out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=payload)
    out["Payload"].read()
    message = _receive(sqs, url)
    assert message["Body"] == payload
    attributes = message["MessageAttributes"]
    assert attributes["RequestID"] == {"StringValue": out["ResponseMetadata"]["RequestId"],
                                       "DataType": "String"}
    assert attributes["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    assert attributes["ErrorMessage"] == {"StringValue": "no dead", "DataType": "String"}


def test_an_sqs_destination_gets_the_invocation_record(lam: Any, sqs: Any, name: str) -> None:
    url, arn = _queue(sqs)
    deploy(lam, name, {"index.py": WORKER})
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
    lam.invoke(FunctionName=name, InvocationType="Event",
               Payload=json.dumps({"marker": "ok"}))["Payload"].read()
    record = json.loads(_receive(sqs, url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"marker": "ok"}
    assert record["responsePayload"] == {"done": "ok"}
