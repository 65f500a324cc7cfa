"""Partial batch responses proven with powertools' own ``BatchProcessor`` running in a
real function: the records its handler fails come back, the others are deleted.

The function's package carries aws_lambda_powertools and its dependencies copied
from this venv (sandboxed Python functions run this machine's interpreter)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.functional.support import deploy, powertools_zip, unique_name
from tests.functional.test_event_source_sqs import (
    enabled_mapping,
    events_with,
    make_queue,
    queue_counts,
    wait_for,
)
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

HANDLER = """\
import json
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor, EventType, process_partial_response)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record):
    if json.loads(record.body)["bad"]:
        raise ValueError("cannot process " + record.message_id)


def handler(event, context):
    print("ESM-EVENT " + json.dumps(event))
    answer = process_partial_response(event=event, record_handler=record_handler,
                                      processor=processor, context=context)
    print("ESM-ANSWER " + json.dumps(answer))
    return answer
"""


@pytest.fixture(scope="module")
def sqs(server: Server) -> Any:
    return client(server, "sqs")


def powertools_package() -> bytes:
    return powertools_zip(HANDLER)


def test_only_the_records_batch_processor_failed_come_back(
        lam: Any, sqs: Any, server: Server, name: str) -> None:
    deploy(lam, name, powertools_package(), Timeout=30)
    dlq_url, dlq_arn = make_queue(sqs)
    url, arn = make_queue(sqs, VisibilityTimeout="1", RedrivePolicy=json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}))
    marker = unique_name("m")
    bodies = [json.dumps({"marker": marker, "n": n, "bad": n in (1, 3)}) for n in range(5)]
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)])
    uuid = enabled_mapping(lam, EventSourceArn=arn, FunctionName=name,
                           FunctionResponseTypes=["ReportBatchItemFailures"])
    try:
        def dead_lettered() -> list[dict[str, Any]] | None:
            found: list[dict[str, Any]] = []
            while got := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1).get("Messages"):
                found += got
            return found or None

        moved: list[dict[str, Any]] = []

        def both_moved() -> bool:
            moved.extend(dead_lettered() or [])
            return len(moved) >= 2

        wait_for(both_moved, "the failed records in the dead-letter queue")
        assert sorted(json.loads(m["Body"])["n"] for m in moved) == [1, 3]
        wait_for(lambda: queue_counts(sqs, url) == (0, 0), "the source queue to be empty")
        seen = [json.loads(r["body"])["n"]
                for e in events_with(server, marker) for r in e["Records"]]
        assert sorted(seen) == [0, 1, 2, 3, 4]  # each delivered once: the good ones deleted
        bad_ids = {r["messageId"] for e in events_with(server, marker) for r in e["Records"]
                   if json.loads(r["body"])["bad"]}
        answers = [json.loads(a) for a in re.findall(r"ESM-ANSWER (\{.*\})", server.log())]
        reported = {f["itemIdentifier"] for a in answers for f in a["batchItemFailures"]}
        assert bad_ids <= reported  # BatchProcessor named them; the server honoured it
    finally:
        lam.delete_event_source_mapping(UUID=uuid)
