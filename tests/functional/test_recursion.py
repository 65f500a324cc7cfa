"""Recursive loop detection: a chain of requests may invoke a function 16 times; the 17th
is stopped (RecursiveLoop Terminate, the default) or run (Allow)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.functional.support import deploy, function_arn, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

TRACE_ECHO = (
    "import os\n"
    "def handler(event, context):\n"
    "    return os.environ.get('_X_AMZN_TRACE_ID', '')\n"
)
HOP = (
    "def handler(event, context):\n"
    "    print('HOP ' + context.function_name)\n"
    "    return {}\n"
)


def _client_with_trace(server: Server, header: str) -> Any:
    client = boto3.client("lambda", endpoint_url=server.url, region_name="us-east-1",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
                          config=Config(retries={"max_attempts": 1}))

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register("before-send.lambda.Invoke", add_header)
    return client


def _chain_at(name: str, depth: int) -> str:
    key = hashlib.sha256(function_arn(name).encode()).hexdigest()[:8]
    return f"Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=0;" \
           f"Lineage={key}:{depth}"


def test_the_function_sees_its_trace_header_with_the_chain_counted(lam: Any, server: Server,
                                                                   name: str) -> None:
    deploy(lam, name, {"index.py": TRACE_ECHO})
    seen = json.loads(_client_with_trace(server, _chain_at(name, 3)).invoke(
        FunctionName=name)["Payload"].read())
    assert seen.startswith("Root=1-67891233-abcdef012345678912345678;Parent=")
    assert seen.endswith(":4")


def test_the_seventeenth_invocation_in_a_chain_is_stopped(lam: Any, server: Server,
                                                          name: str) -> None:
    deploy(lam, name, {"index.py": TRACE_ECHO})
    allowed = _client_with_trace(server, _chain_at(name, 15)).invoke(FunctionName=name)
    allowed["Payload"].read()
    assert allowed["StatusCode"] == 200 and "FunctionError" not in allowed
    looping = _client_with_trace(server, _chain_at(name, 16))
    with pytest.raises(looping.exceptions.RecursiveInvocationException) as caught:
        looping.invoke(FunctionName=name)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "recursive loop" in caught.value.response["Error"]["Message"]
    lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    out = looping.invoke(FunctionName=name)
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read()).endswith(":17")


def test_a_loop_through_destinations_is_stopped_after_sixteen_hops(lam: Any,
                                                                   server: Server) -> None:
    a, b = unique_name("ping"), unique_name("pong")
    deploy(lam, a, {"index.py": HOP})
    deploy(lam, b, {"index.py": HOP})
    for source, target in ((a, b), (b, a)):
        lam.put_function_event_invoke_config(
            FunctionName=source, DestinationConfig={"OnSuccess": {"Destination":
                                                                  function_arn(target)}})
    lam.invoke(FunctionName=a, InvocationType="Event", Payload=b"{}")["Payload"].read()
    deadline = time.monotonic() + 60
    while f"recursive loop detected: {a}" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # nothing runs after the stop
    hops = re.findall(rf"HOP ({a}|{b})\b", server.log())
    assert hops.count(a) == 16 and hops.count(b) == 16, (hops.count(a), hops.count(b))
    assert f"recursive loop detected: {a} invoked 17 times" in server.log()


def test_a_queue_message_deep_in_a_loop_is_not_delivered(lam: Any, server: Server,
                                                          name: str) -> None:
    sqs = client(server, "sqs")
    dlq = sqs.create_queue(QueueName=unique_name("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=unique_name("q"), Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
        "VisibilityTimeout": "2"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    deploy(lam, name, {"index.py": HOP})

    def send(body: str, depth: int) -> None:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": _chain_at(name, depth)}})

    send("fifteenth", 15)
    send("seventeenth", 16)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              BatchSize=1)
    try:
        got = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=20).get("Messages", [])
        assert [m["Body"] for m in got] == ["seventeenth"]
        deadline = time.monotonic() + 20
        while f"HOP {name}" not in server.log() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.log().count(f"HOP {name}") == 1  # only the fifteenth ran
        assert f"recursive loop detected: {name} invoked 17 times" in server.log()
    finally:
        lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_a_senders_trace_header_becomes_the_messages_aws_trace_header(server: Server) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName=unique_name("q"))["QueueUrl"]
    header = "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=0"

    def add_header(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    sqs.meta.events.register("before-send.sqs.SendMessage", add_header)
    sqs.send_message(QueueUrl=url, MessageBody="traced")
    got = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["AWSTraceHeader"])
    assert got["Messages"][0]["Attributes"]["AWSTraceHeader"] == header
