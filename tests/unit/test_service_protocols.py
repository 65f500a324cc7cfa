"""The JSON and query protocols of the embedded services, checked against botocore's
own serialisers and parsers (the code real clients run), over a recording fake service."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore import parsers, serialize
from botocore.model import ServiceModel

from loam.api.model import service_model
from loam.api.service_calls import ServiceCalls
from loam.auth import HttpRequest
from loam.services.base import Handler, ServiceError

# The query-era SQS model (what the aws CLI v2 Debian ships uses); absent elsewhere.
QUERY_MODEL = Path("/usr/lib/python3/dist-packages/awscli/botocore/data/sqs/2012-11-05/"
                   "service-2.json")


class QueueDoesNotExist(ServiceError):
    code = "QueueDoesNotExist"
    query_code = "AWS.SimpleQueueService.NonExistentQueue"


class FakeService:
    """Records what each handler received; answers with canned outputs."""

    def __init__(self, name: str, answers: dict[str, dict[str, Any]]) -> None:
        self.service_name = name
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._answers = answers

    @property
    def operations(self) -> Mapping[str, Handler]:
        return {op: self._handler(op) for op in self._answers} | {"GetQueueUrl": self._missing}

    def _handler(self, op: str) -> Handler:
        async def handle(params: dict[str, Any]) -> dict[str, Any]:
            self.received.append((op, params))
            return self._answers[op]
        return handle

    async def _missing(self, params: dict[str, Any]) -> dict[str, Any]:
        raise QueueDoesNotExist("The specified queue does not exist.")

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


MESSAGE = {
    "MessageId": "m-1", "ReceiptHandle": "rh-1", "MD5OfBody": "abc", "Body": "hello <&>",
    "Attributes": {"SentTimestamp": "1700000000000", "ApproximateReceiveCount": "2"},
    "MessageAttributes": {
        "colour": {"StringValue": "blue", "DataType": "String"},
        "raw": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
    },
    "MD5OfMessageAttributes": "def",
}
ANSWERS = {
    "SendMessageBatch": {"Successful": [{"Id": "a", "MessageId": "m-1", "MD5OfMessageBody": "x"}],
                         "Failed": []},
    "ReceiveMessage": {"Messages": [MESSAGE]},
    "DeleteMessage": {},
    "GetQueueAttributes": {"Attributes": {"VisibilityTimeout": "30", "QueueArn": "arn:q"}},
}
BATCH = {
    "QueueUrl": "http://localhost/123456789012/q",
    "Entries": [{
        "Id": "a", "MessageBody": "hi", "DelaySeconds": 5,
        "MessageAttributes": {"colour": {"StringValue": "blue", "DataType": "String"},
                              "raw": {"BinaryValue": b"\x00\x01", "DataType": "Binary"}},
    }, {"Id": "b", "MessageBody": "there"}],
}


def _request(body: bytes) -> HttpRequest:
    return HttpRequest("POST", "/", "", {}, body)


def _calls() -> tuple[ServiceCalls, FakeService]:
    fake = FakeService("sqs", ANSWERS)
    return ServiceCalls({"sqs": fake}), fake


def _parse(model: ServiceModel, op: str, status: int, headers: dict[str, str],
           body: bytes) -> dict[str, Any]:
    parser = parsers.create_parser(model.metadata["protocol"])
    response = {"status_code": status, "headers": headers, "body": body}
    result: dict[str, Any] = parser.parse(response, model.operation_model(op).output_shape)
    return result


def _json_round_trip(op: str, params: dict[str, Any]) -> tuple[dict[str, Any], FakeService]:
    model = service_model("sqs")
    request = serialize.create_serializer("json").serialize_to_request(
        params, model.operation_model(op))
    calls, fake = _calls()
    target = request["headers"]["X-Amz-Target"]
    status, headers, body = asyncio.run(calls.json_call(target, _request(request["body"])))
    return _parse(model, op, status, headers, body), fake


def test_json_request_reaches_the_handler_as_the_input_shape() -> None:
    parsed, fake = _json_round_trip("SendMessageBatch", BATCH)
    assert fake.received == [("SendMessageBatch", BATCH)]
    assert parsed["Successful"][0]["MessageId"] == "m-1"


def test_json_response_parses_back_to_what_the_handler_returned() -> None:
    parsed, _ = _json_round_trip("ReceiveMessage", {"QueueUrl": "u", "MaxNumberOfMessages": 2})
    assert parsed["Messages"] == [MESSAGE]


def test_json_error_names_the_shape_and_the_query_code() -> None:
    parsed, _ = _json_round_trip("GetQueueUrl", {"QueueName": "nope"})
    error = parsed["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["QueryErrorCode"] == "QueueDoesNotExist"
    assert error["Message"] == "The specified queue does not exist."
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_json_missing_required_parameter_is_refused_before_the_handler() -> None:
    calls, fake = _calls()
    status, headers, body = asyncio.run(
        calls.json_call("AmazonSQS.ReceiveMessage", _request(json.dumps({}).encode())))
    assert status == 400
    assert json.loads(body)["__type"] == "MissingParameter"
    assert headers["x-amzn-query-error"] == "MissingParameter;Sender"
    assert fake.received == []


def test_json_unknown_operation() -> None:
    calls, _ = _calls()
    status, _, body = asyncio.run(calls.json_call("AmazonSQS.Nonsense", _request(b"{}")))
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_json_timestamps_arrive_as_datetimes() -> None:
    model = service_model("events")
    fake = FakeService("events", {"PutEvents": {"FailedEntryCount": 0, "Entries": []}})
    calls = ServiceCalls({"events": fake})
    when = datetime(2026, 11, 23, 1, 2, 3, tzinfo=UTC)
    params = {"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}", "Time": when}]}
    request = serialize.create_serializer("json").serialize_to_request(
        params, model.operation_model("PutEvents"))
    status, _, _ = asyncio.run(calls.json_call(request["headers"]["X-Amz-Target"],
                                               _request(request["body"])))
    assert status == 200
    assert fake.received[0][1]["Entries"][0]["Time"] == when


# -- the query protocol, as the query-era model's client speaks it --------------------

needs_query_model = pytest.mark.skipif(not QUERY_MODEL.exists(),
                                       reason="the query-era SQS model is not installed")


def _query_round_trip(op: str, params: dict[str, Any]) -> tuple[dict[str, Any], FakeService]:
    model = ServiceModel(json.loads(QUERY_MODEL.read_text()), "sqs")
    request = serialize.create_serializer("query").serialize_to_request(
        params, model.operation_model(op))
    form = dict(parse_qsl(request["body"] if isinstance(request["body"], str)
                          else _encode(request["body"]), keep_blank_values=True))
    calls, fake = _calls()
    auth = "AWS4-HMAC-SHA256 Credential=AKID/20261123/us-east-1/sqs/aws4_request, Sig=x"
    status, headers, body = asyncio.run(calls.query_call(
        form, HttpRequest("POST", "/", "", {"authorization": auth}, b"")))
    return _parse(model, op, status, headers, body), fake


def _encode(body: dict[str, str]) -> str:
    from urllib.parse import urlencode
    return urlencode(body)


@needs_query_model
def test_query_request_with_flattened_entries_and_attribute_maps() -> None:
    parsed, fake = _query_round_trip("SendMessageBatch", BATCH)
    assert fake.received == [("SendMessageBatch", BATCH)]
    assert parsed["Successful"][0]["Id"] == "a"
    assert parsed.get("Failed", []) == []


@needs_query_model
def test_query_response_xml_parses_to_the_handlers_output() -> None:
    parsed, fake = _query_round_trip(
        "ReceiveMessage", {"QueueUrl": "u", "AttributeNames": ["All"],
                           "MessageAttributeNames": ["colour", "raw"]})
    assert fake.received[0][1]["AttributeNames"] == ["All"]
    assert fake.received[0][1]["MessageAttributeNames"] == ["colour", "raw"]
    assert parsed["Messages"] == [MESSAGE]
    attributes, _ = _query_round_trip("GetQueueAttributes",
                                      {"QueueUrl": "u", "AttributeNames": ["All"]})
    assert attributes["Attributes"] == ANSWERS["GetQueueAttributes"]["Attributes"]


@needs_query_model
def test_query_error_is_the_query_code() -> None:
    parsed, _ = _query_round_trip("GetQueueUrl", {"QueueName": "nope"})
    assert parsed["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert parsed["Error"]["Type"] == "Sender"


@needs_query_model
def test_query_empty_result() -> None:
    parsed, _ = _query_round_trip("DeleteMessage", {"QueueUrl": "u", "ReceiptHandle": "r"})
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_sqs_checks_attribute_names_itself() -> None:
    # SQS answers an unknown name with InvalidAttributeName, not a model enum violation.
    parsed, fake = _json_round_trip("GetQueueAttributes",
                                    {"QueueUrl": "u", "AttributeNames": ["Nope"]})
    assert fake.received == [("GetQueueAttributes", {"QueueUrl": "u",
                                                     "AttributeNames": ["Nope"]})]
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 200
