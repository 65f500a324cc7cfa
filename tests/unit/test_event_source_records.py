"""SQS records as Lambda builds them, FilterCriteria, and partial batch responses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from loam.invoke.sqs_records import RecordFilter, deletable, failed_items, lambda_record
from tests.unit.test_event_source_fakes import QUEUE_ARN

MESSAGE: dict[str, Any] = {
    "MessageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
    "ReceiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
    "MD5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
    "Body": "Test message.",
    "Attributes": {
        "SenderId": "AIDAIENQZJOLO23YVJ4VO", "ApproximateFirstReceiveTimestamp": "1545082649185",
        "ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183",
    },
}


def test_a_record_has_aws_keys_in_aws_order() -> None:
    record = lambda_record(MESSAGE, QUEUE_ARN, "us-east-1")
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes",
                            "messageAttributes", "md5OfBody", "eventSource", "eventSourceARN",
                            "awsRegion"]
    assert list(record["attributes"]) == ["ApproximateReceiveCount", "SentTimestamp",
                                          "SenderId", "ApproximateFirstReceiveTimestamp"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == QUEUE_ARN
    assert record["messageAttributes"] == {}
    SqsModel.model_validate({"Records": [record]})


def test_message_attributes_become_camel_case_with_lists() -> None:
    message = dict(MESSAGE, MD5OfMessageAttributes="7c815262be77a62f56671125069ca888",
                   MessageAttributes={
                       "s": {"StringValue": "v", "DataType": "String"},
                       "b": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
                   })
    record = lambda_record(message, QUEUE_ARN, "us-east-1")
    assert record["messageAttributes"] == {
        "s": {"stringValue": "v", "stringListValues": [], "binaryListValues": [],
              "dataType": "String"},
        "b": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
              "dataType": "Binary"},
    }
    assert record["md5OfMessageAttributes"] == "7c815262be77a62f56671125069ca888"
    SqsModel.model_validate({"Records": [record]})


def test_fifo_attributes_are_passed_on() -> None:
    message = dict(MESSAGE, Attributes=dict(MESSAGE["Attributes"], MessageGroupId="g",
                                            MessageDeduplicationId="d",
                                            SequenceNumber="18849496460467696128"))
    record = lambda_record(message, QUEUE_ARN + ".fifo", "us-east-1")
    assert record["attributes"]["MessageGroupId"] == "g"
    assert record["attributes"]["SequenceNumber"] == "18849496460467696128"
    parsed = SqsModel.model_validate({"Records": [record]})
    assert parsed.Records[0].attributes.MessageDeduplicationId == "d"


def _record(body: str, **attributes: str) -> dict[str, Any]:
    return lambda_record(dict(MESSAGE, Body=body, Attributes=dict(MESSAGE["Attributes"],
                                                                  **attributes)),
                         QUEUE_ARN, "us-east-1")


def test_filters_see_inside_json_bodies_and_or_together() -> None:
    keep = RecordFilter(['{"body": {"kind": ["order"]}}',
                         '{"body": {"n": [{"numeric": [">", 5]}]}}'])
    assert keep.matches(_record('{"kind": "order"}'))
    assert keep.matches(_record('{"n": 9}'))
    assert not keep.matches(_record('{"kind": "refund", "n": 1}'))
    assert not keep.matches(_record("order"))  # a plain body does not match a JSON pattern


def test_filters_on_plain_bodies_and_metadata() -> None:
    assert RecordFilter(['{"body": ["hello"]}']).matches(_record("hello"))
    assert not RecordFilter(['{"body": ["hello"]}']).matches(_record('{"a": 1}'))
    by_count = RecordFilter(['{"attributes": {"ApproximateReceiveCount": ["1"]}}'])
    assert by_count.matches(_record("x"))
    assert not RecordFilter(['{"eventSource": ["aws:kinesis"]}']).matches(_record("x"))
    assert not RecordFilter([])
    assert RecordFilter([]).matches(_record("anything"))


IDS = {"a", "b", "c"}


@pytest.mark.parametrize("payload", [b"", b"null", b"{}", b'{"batchItemFailures": null}',
                                     b'{"batchItemFailures": []}', b'{"statusCode": 200}'])
def test_answers_that_mean_complete_success(payload: bytes) -> None:
    assert failed_items(payload, IDS) == set()


@pytest.mark.parametrize("payload", [
    b"not json", b'"ok"', b"[]", b'{"batchItemFailures": "a"}',
    b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
    b'{"batchItemFailures": [{"itemIdentifier": null}]}',
    b'{"batchItemFailures": [{"itemId": "a"}]}',
    b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}',
    b'{"batchItemFailures": ["a"]}',
])
def test_answers_that_fail_the_whole_batch(payload: bytes) -> None:
    assert failed_items(payload, IDS) is None


def test_named_items_fail() -> None:
    answer = json.dumps({"batchItemFailures": [{"itemIdentifier": "b"}]}).encode()
    assert failed_items(answer, IDS) == {"b"}


def _fifo(message_id: str, group: str) -> dict[str, Any]:
    return {"messageId": message_id, "attributes": {"MessageGroupId": group}}


def test_deletable_holds_back_the_rest_of_a_failed_fifo_group() -> None:
    batch = [_fifo("1", "g"), _fifo("2", "h"), _fifo("3", "g"), _fifo("4", "h"), _fifo("5", "g")]
    kept = deletable(batch, {"3"}, fifo=True)
    assert [r["messageId"] for r in kept] == ["1", "2", "4"]
    standard = deletable(batch, {"3"}, fifo=False)
    assert [r["messageId"] for r in standard] == ["1", "2", "4", "5"]
    assert deletable(batch, None, fifo=False) == []
    assert deletable(batch, set(), fifo=True) == batch
