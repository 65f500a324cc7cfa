"""Async invocations under their event-invoke configuration: retries as configured,
and AWS's invocation record delivered to function destinations."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.functional.support import deploy, function_arn, unique_name
from tests.helpers import Server

pytestmark = pytest.mark.sandbox

WORKER = (
    "def handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('no ' + event['marker'])\n"
    "    return {'done': event['marker']}\n"
)
RECORDER = (
    "import json\n"
    "def handler(event, context):\n"
    "    print('DESTINATION ' + json.dumps(event, sort_keys=True))\n"
)


def _records(server: Server, marker: str, count: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = [json.loads(m) for m in re.findall(r"DESTINATION (\{.*\})", server.log())]
        mine = [r for r in found if marker in json.dumps(r["requestPayload"])]
        if len(mine) >= count or time.monotonic() > deadline:
            return mine
        time.sleep(0.1)


def test_outcomes_reach_the_function_destinations(lam: Any, server: Server) -> None:
    worker, recorder = unique_name("worker"), unique_name("recorder")
    deploy(lam, recorder, {"index.py": RECORDER})
    deploy(lam, worker, {"index.py": WORKER})
    lam.put_function_event_invoke_config(
        FunctionName=worker, MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": function_arn(recorder)},
                           "OnFailure": {"Destination": function_arn(recorder)}})
    marker = unique_name("m")
    for fail in (False, True):
        out = lam.invoke(FunctionName=worker, InvocationType="Event",
                         Payload=json.dumps({"marker": marker, "fail": fail}))
        assert out["StatusCode"] == 202
        out["Payload"].read()
    records = _records(server, marker, 2)
    by_condition = {r["requestContext"]["condition"]: r for r in records}
    assert set(by_condition) == {"Success", "RetriesExhausted"}, records
    ok, failed = by_condition["Success"], by_condition["RetriesExhausted"]
    assert ok["version"] == "1.0"
    assert ok["requestContext"]["functionArn"] == function_arn(worker)
    assert ok["requestContext"]["approximateInvokeCount"] == 1
    assert ok["requestPayload"] == {"marker": marker, "fail": False}
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert ok["responsePayload"] == {"done": marker}
    # MaximumRetryAttempts=0: one attempt, then the failure record.
    assert failed["requestContext"]["approximateInvokeCount"] == 1
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["responsePayload"]["errorType"] == "ValueError"
