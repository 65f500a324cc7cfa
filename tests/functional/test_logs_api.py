"""Function logs through boto3's ``logs`` client and the aws CLI, against a real server."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.support import deploy, unique_name
from tests.helpers import Server, client

pytestmark = pytest.mark.sandbox

AWS_CLI = Path("/usr/bin/aws")
STREAM_NAME = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")

PRINTER = """\
import json

def handler(event, context):
    for line in event.get("lines", []):
        print(line)
    for record in event.get("records", []):
        print(json.dumps(record))
    return {"ok": True}
"""


@pytest.fixture(scope="module")
def logs(server: Server) -> Any:
    return client(server, "logs")


def invoke(lam: Any, name: str, event: dict[str, Any]) -> None:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    answer["Payload"].read()
    assert "FunctionError" not in answer


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def all_events(logs: Any, group: str, **kwargs: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, **kwargs):
        events.extend(page["events"])
    return events


def messages_when(logs: Any, group: str, count: int, **kwargs: Any) -> list[str]:
    """The messages FilterLogEvents answers, once at least ``count`` are there."""
    def check() -> list[str]:
        try:
            found = [e["message"] for e in all_events(logs, group, **kwargs)]
        except logs.exceptions.ResourceNotFoundException:
            return []
        return found if len(found) >= count else []
    return list(wait_for(check))


def test_invocation_log_group_stream_and_events(lam: Any, logs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": PRINTER})
    invoke(lam, name, {"lines": ["first line", "second line"]})
    group = f"/aws/lambda/{name}"
    messages = messages_when(logs, group, 5)
    assert messages[0].startswith("START RequestId: ") and messages[0].endswith(
        " Version: $LATEST\n")
    assert messages[1:3] == ["first line\n", "second line\n"]
    assert messages[3].startswith("END RequestId: ")
    assert messages[4].startswith("REPORT RequestId: ") and messages[4].endswith("\t\n")

    [found] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["logGroupName"] == group
    assert found["arn"].endswith(f":log-group:{group}:*")
    assert "retentionInDays" not in found
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert STREAM_NAME.match(stream["logStreamName"]), stream["logStreamName"]
    assert stream["firstEventTimestamp"] <= stream["lastEventTimestamp"]

    answer = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                 startFromHead=True)
    assert [e["message"] for e in answer["events"]] == messages
    stamps = [e["timestamp"] for e in answer["events"]]
    assert stamps == sorted(stamps)
    assert all(e["ingestionTime"] >= e["timestamp"] for e in answer["events"])
    assert abs(stamps[0] - time.time() * 1000) < 60_000
    again = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                nextToken=answer["nextForwardToken"])
    assert again["events"] == []
    assert again["nextForwardToken"] == answer["nextForwardToken"]


def test_get_log_events_pages_backwards_and_forwards(lam: Any, logs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": PRINTER})
    invoke(lam, name, {"lines": [f"line {i}" for i in range(10)]})
    group = f"/aws/lambda/{name}"
    messages_when(logs, group, 13)
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    kwargs = {"logGroupName": group, "logStreamName": stream["logStreamName"], "limit": 4}
    newest = logs.get_log_events(**kwargs)
    assert [e["message"] for e in newest["events"]][-1].startswith("REPORT")
    older = logs.get_log_events(**kwargs, nextToken=newest["nextBackwardToken"])
    assert [e["message"] for e in older["events"]] == [
        "line 4\n", "line 5\n", "line 6\n", "line 7\n"]
    back = logs.get_log_events(**kwargs, nextToken=older["nextForwardToken"])
    assert back["events"] == newest["events"]
    head = logs.get_log_events(**kwargs, startFromHead=True)
    assert head["events"][0]["message"].startswith("START")
    assert len(head["events"]) == 4


def test_filter_log_events_patterns(lam: Any, logs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": PRINTER})
    records = [{"level": "ERROR", "n": 7, "message": "disk full"},
               {"level": "INFO", "n": 2, "message": "all good"},
               {"level": "ERROR", "n": 3, "message": "timeout"}]
    invoke(lam, name, {"lines": ["ERROR something broke", "WARN careful", "INFO Exiting now"],
                       "records": records})
    group = f"/aws/lambda/{name}"
    messages_when(logs, group, 9)

    def matching(pattern: str) -> list[str]:
        return [e["message"].rstrip("\n") for e in
                all_events(logs, group, filterPattern=pattern)]

    assert matching("ERROR broke") == ["ERROR something broke"]
    assert matching("?WARN ?Exiting") == ["WARN careful", "INFO Exiting now"]
    assert matching('"something broke"') == ["ERROR something broke"]
    assert matching("INFO -Exiting") == [json.dumps(records[1])]
    assert matching('{ $.level = "ERROR" }') == [json.dumps(records[0]), json.dumps(records[2])]
    assert matching("{ $.n > 5 }") == [json.dumps(records[0])]
    assert matching('{ $.level = "ERROR" && $.n < 5 }') == [json.dumps(records[2])]
    assert matching('{ $.n > 5 || $.message = "all*" }') == [
        json.dumps(records[0]), json.dumps(records[1])]
    with pytest.raises(ClientError) as err:
        logs.filter_log_events(logGroupName=group, filterPattern="{ $.level = }")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"


def test_filter_log_events_by_stream_time_and_paging(lam: Any, logs: Any, name: str) -> None:
    deploy(lam, name, {"index.py": PRINTER})
    invoke(lam, name, {"lines": [f"n{i}" for i in range(20)]})
    group = f"/aws/lambda/{name}"
    messages = messages_when(logs, group, 23)
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    first = logs.filter_log_events(logGroupName=group, limit=5,
                                   logStreamNames=[stream["logStreamName"]])
    assert len(first["events"]) == 5 and "nextToken" in first
    paged = all_events(logs, group, PaginationConfig={"PageSize": 5})
    assert [e["message"] for e in paged] == messages
    assert len({e["eventId"] for e in paged}) == len(paged)
    assert logs.filter_log_events(logGroupName=group, logStreamNames=["nope"])["events"] == []
    later = logs.filter_log_events(logGroupName=group,
                                   startTime=stream["lastEventTimestamp"] + 1)
    assert later["events"] == []


def test_groups_retention_and_errors(logs: Any) -> None:
    prefix = "/loam/test/" + unique_name("g")
    for suffix in ("a", "b", "c"):
        logs.create_log_group(logGroupName=f"{prefix}/{suffix}")
    with pytest.raises(ClientError) as err:
        logs.create_log_group(logGroupName=f"{prefix}/a")
    assert err.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    pages = logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=prefix, PaginationConfig={"PageSize": 2})
    names = [g["logGroupName"] for page in pages for g in page["logGroups"]]
    assert names == [f"{prefix}/a", f"{prefix}/b", f"{prefix}/c"]

    logs.put_retention_policy(logGroupName=f"{prefix}/a", retentionInDays=14)
    [group] = logs.describe_log_groups(logGroupNamePrefix=f"{prefix}/a")["logGroups"]
    assert group["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName=f"{prefix}/a")
    [group] = logs.describe_log_groups(logGroupNamePrefix=f"{prefix}/a")["logGroups"]
    assert "retentionInDays" not in group
    with pytest.raises(ClientError) as err:
        logs.put_retention_policy(logGroupName=f"{prefix}/a", retentionInDays=2)
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"

    logs.delete_log_group(logGroupName=f"{prefix}/b")
    calls: list[Callable[[], Any]] = [
        lambda: logs.delete_log_group(logGroupName=f"{prefix}/b"),
        lambda: logs.describe_log_streams(logGroupName=f"{prefix}/b"),
        lambda: logs.filter_log_events(logGroupName=f"{prefix}/b"),
        lambda: logs.put_retention_policy(logGroupName=f"{prefix}/b", retentionInDays=1),
    ]
    for call in calls:
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert err.value.response["Error"]["Message"] == \
            "The specified log group does not exist."
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as err:
        logs.get_log_events(logGroupName=f"{prefix}/a", logStreamName="missing")
    assert err.value.response["Error"]["Message"] == "The specified log stream does not exist."


def test_custom_log_group_from_logging_config(lam: Any, logs: Any, name: str) -> None:
    group = "/custom/" + name
    deploy(lam, name, {"index.py": PRINTER}, LoggingConfig={"LogGroup": group})
    invoke(lam, name, {"lines": ["to my own group"]})
    assert "to my own group\n" in messages_when(logs, group, 4)


@pytest.mark.skipif(not AWS_CLI.exists(), reason="the aws CLI is not installed")
def test_aws_logs_tail_follow(lam: Any, name: str, server: Server, tmp_path: Path) -> None:
    deploy(lam, name, {"index.py": PRINTER})
    invoke(lam, name, {"lines": ["before tail"]})
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_PAGER": ""}
    out = tmp_path / "tail.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [str(AWS_CLI), "--endpoint-url", server.url, "logs", "tail",
             f"/aws/lambda/{name}", "--follow", "--format", "short"],
            stdout=sink, stderr=subprocess.STDOUT, env=env)
        try:
            assert wait_for(lambda: "before tail" in out.read_text(), 20), out.read_text()
            invoke(lam, name, {"lines": ["while tailing"]})
            assert wait_for(lambda: "while tailing" in out.read_text(), 20), out.read_text()
        finally:
            proc.terminate()
            proc.wait(10)
    assert out.read_text().count("before tail") == 1
