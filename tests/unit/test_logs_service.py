"""The logs service over SQLite and PostgreSQL: tokens, paging, retention, the disk cap.

PostgreSQL runs against ``LOAM_TEST_DATABASE_URL`` in a throwaway schema and
is skipped when unreachable (unless ``LOAM_REQUIRE_POSTGRES=1``), as the SQS
unit tests decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from loam.clock import FakeClock
from loam.services.base import ServiceError
from loam.services.logs import LogsService
from loam.store.sql import open_database
from loam.telemetry.buffered import LogLine
from tests.unit.test_sqs_support import _pg_url, run

GROUP = "/aws/lambda/fn"
STREAM = "2024/01/01/[$LATEST]" + "a" * 32
DAY_MS = 86_400_000


class Logs:
    def __init__(self, service: LogsService, clock: FakeClock) -> None:
        self.service = service
        self.clock = clock

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return run(self.service.operations[operation](params))

    def error(self, operation: str, **params: Any) -> ServiceError:
        with pytest.raises(ServiceError) as err:
            self(operation, **params)
        return err.value

    def write(self, *messages: str, group: str = GROUP, stream: str = STREAM) -> None:
        now = int(self.clock.time() * 1000)
        self.service._write([LogLine(group, stream, now, m) for m in messages])


@pytest.fixture(params=["sqlite", "postgres"])
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Logs]:
    url, base, schema = "sqlite", "", f"loam_logs_{uuid.uuid4().hex}"
    if request.param == "postgres":
        base = _pg_url()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        url = f"{base}?options={quote(f'-csearch_path={schema}', safe='')}"
    clock = FakeClock()
    database = open_database(url, tmp_path)
    service = LogsService(database, clock, "us-east-1", "123456789012",
                          max_stored_bytes=10_000)
    service.store.create_schema()
    try:
        yield Logs(service, clock)
    finally:
        database.close()
        if request.param == "postgres":
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def messages(answer: dict[str, Any]) -> list[str]:
    return [event["message"] for event in answer["events"]]


def test_writing_creates_group_and_stream(logs: Logs) -> None:
    logs.write("one\n", "two\n")
    [group] = logs("DescribeLogGroups")["logGroups"]
    assert group["logGroupName"] == GROUP
    assert group["creationTime"] == 1_700_000_000_000
    assert group["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}:*"
    assert group["storedBytes"] == len("one\n") + len("two\n") + 2 * 26
    [stream] = logs("DescribeLogStreams", logGroupName=GROUP)["logStreams"]
    assert stream["logStreamName"] == STREAM
    assert stream["firstEventTimestamp"] == stream["lastEventTimestamp"] == 1_700_000_000_000


def test_a_batch_keeps_its_order_and_any_text(logs: Logs) -> None:
    texts = ["plain\n", "emoji 😀 and ünïcode\n", "quotes ' \" and \\ \\n\n", "tab\t cr\r\n",
             "[1, 2]\n", "{\"json\": true}\n"] * 50  # one batch, one timestamp
    logs.write(*texts)
    events = logs("GetLogEvents", logGroupName=GROUP, logStreamName=STREAM,
                  startFromHead=True, limit=10_000)["events"]
    assert [e["message"] for e in events] == texts
    stored = logs("DescribeLogGroups")["logGroups"][0]["storedBytes"]
    assert stored == sum(len(t.encode()) + 26 for t in texts)


def test_a_nul_character_is_kept_where_the_database_can_hold_it(logs: Logs) -> None:
    logs.write("before\n", "a\x00b\n", "after\n")
    got = messages(logs("GetLogEvents", logGroupName=GROUP, logStreamName=STREAM,
                        startFromHead=True))
    # SQLite keeps it; PostgreSQL text cannot, and stores U+FFFD (the batch is not lost).
    kept = "a\x00b\n" if logs.service.database.dialect == "sqlite" else "a\ufffdb\n"
    assert got == ["before\n", kept, "after\n"]


def test_get_log_events_tokens(logs: Logs) -> None:
    for i in range(7):
        logs.write(f"m{i}\n")
        logs.clock.advance(1)
    kwargs = {"logGroupName": GROUP, "logStreamName": STREAM, "limit": 3}
    newest = logs("GetLogEvents", **kwargs)
    assert messages(newest) == ["m4\n", "m5\n", "m6\n"]
    assert newest["nextForwardToken"].startswith("f/")
    assert newest["nextBackwardToken"].startswith("b/")
    older = logs("GetLogEvents", **kwargs, nextToken=newest["nextBackwardToken"])
    assert messages(older) == ["m1\n", "m2\n", "m3\n"]
    oldest = logs("GetLogEvents", **kwargs, nextToken=older["nextBackwardToken"])
    assert messages(oldest) == ["m0\n"]
    # At the start, the backward token stays put: that is how readers know they are done.
    end = logs("GetLogEvents", **kwargs, nextToken=oldest["nextBackwardToken"])
    assert end["events"] == [] and end["nextBackwardToken"] == oldest["nextBackwardToken"]
    forward = logs("GetLogEvents", **kwargs, nextToken=oldest["nextForwardToken"])
    assert messages(forward) == ["m1\n", "m2\n", "m3\n"]
    tail = logs("GetLogEvents", **kwargs, nextToken=newest["nextForwardToken"])
    assert tail["events"] == [] and tail["nextForwardToken"] == newest["nextForwardToken"]
    logs.write("m7\n")
    assert messages(logs("GetLogEvents", **kwargs, nextToken=tail["nextForwardToken"])) == [
        "m7\n"]
    head = logs("GetLogEvents", **kwargs, startFromHead=True)
    assert messages(head) == ["m0\n", "m1\n", "m2\n"]
    assert logs.error("GetLogEvents", **kwargs, nextToken="x/1").code == \
        "InvalidParameterException"


def test_time_ranges_are_start_inclusive_end_exclusive(logs: Logs) -> None:
    start = int(logs.clock.time() * 1000)
    for i in range(4):
        logs.write(f"t{i}\n")
        logs.clock.advance(1)
    answer = logs("GetLogEvents", logGroupName=GROUP, logStreamName=STREAM,
                  startTime=start + 1000, endTime=start + 3000, startFromHead=True)
    assert messages(answer) == ["t1\n", "t2\n"]
    filtered = logs("FilterLogEvents", logGroupName=GROUP, startTime=start + 2000)
    assert messages(filtered) == ["t2\n", "t3\n"]


def test_filter_log_events_pages_across_streams_in_time_order(logs: Logs) -> None:
    for i in range(6):
        logs.write(f"a{i}\n", stream="a")
        logs.write(f"b{i}\n", stream="b")
        logs.clock.advance(0.001)
    seen: list[str] = []
    token: str | None = None
    while True:
        page = logs("FilterLogEvents", logGroupName=GROUP, limit=5,
                    **({"nextToken": token} if token else {}))
        seen += messages(page)
        token = page.get("nextToken")
        if token is None:
            break
    assert seen == [f"{s}{i}\n" for i in range(6) for s in "ab"]
    only_b = logs("FilterLogEvents", logGroupName=GROUP, logStreamNames=["b"])
    assert messages(only_b) == [f"b{i}\n" for i in range(6)]
    assert {e["logStreamName"] for e in only_b["events"]} == {"b"}
    by_prefix = logs("FilterLogEvents", logGroupName=GROUP, logStreamNamePrefix="a",
                     filterPattern="?a1 ?a4")
    assert messages(by_prefix) == ["a1\n", "a4\n"]
    assert logs.error("FilterLogEvents", logGroupName=GROUP, logStreamNames=["a"],
                      logStreamNamePrefix="a").code == "InvalidParameterException"


def test_describe_log_streams_orders_and_pages(logs: Logs) -> None:
    for name in ("c", "a", "b"):
        logs.write("x\n", stream=name)
        logs.clock.advance(1)
    by_name = logs("DescribeLogStreams", logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    latest = logs("DescribeLogStreams", logGroupName=GROUP, orderBy="LastEventTime",
                  descending=True, limit=2)
    assert [s["logStreamName"] for s in latest["logStreams"]] == ["b", "a"]
    rest = logs("DescribeLogStreams", logGroupName=GROUP, orderBy="LastEventTime",
                descending=True, limit=2, nextToken=latest["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c"]
    assert "nextToken" not in rest
    error = logs.error("DescribeLogStreams", logGroupName=GROUP, orderBy="LastEventTime",
                       logStreamNamePrefix="a")
    assert error.code == "InvalidParameterException"


def test_describe_log_groups_prefix_and_paging(logs: Logs) -> None:
    for name in ("/x/3", "/x/1", "/y/1", "/x/2"):
        logs("CreateLogGroup", logGroupName=name)
    first = logs("DescribeLogGroups", logGroupNamePrefix="/x/", limit=2)
    assert [g["logGroupName"] for g in first["logGroups"]] == ["/x/1", "/x/2"]
    second = logs("DescribeLogGroups", logGroupNamePrefix="/x/", limit=2,
                  nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in second["logGroups"]] == ["/x/3"]
    assert "nextToken" not in second
    error = logs.error("CreateLogGroup", logGroupName="/x/1")
    assert (error.code, error.message) == ("ResourceAlreadyExistsException",
                                           "The specified log group already exists")


def test_retention_expires_old_events_on_a_fake_clock(logs: Logs) -> None:
    logs.write("old\n")
    logs.write("other group\n", group="/kept")
    logs("PutRetentionPolicy", logGroupName=GROUP, retentionInDays=1)
    logs.clock.advance(DAY_MS / 2000)
    logs.write("new\n")
    run(logs.service.maintain())
    assert messages(logs("FilterLogEvents", logGroupName=GROUP)) == ["old\n", "new\n"]
    logs.clock.advance(DAY_MS / 2000 + 1)
    run(logs.service.maintain())
    assert messages(logs("FilterLogEvents", logGroupName=GROUP)) == ["new\n"]
    assert messages(logs("FilterLogEvents", logGroupName="/kept")) == ["other group\n"]
    assert logs.service.statistics().events_expired == 1
    logs("DeleteRetentionPolicy", logGroupName=GROUP)
    logs.clock.advance(DAY_MS * 10 / 1000)
    run(logs.service.maintain())
    assert messages(logs("FilterLogEvents", logGroupName=GROUP)) == ["new\n"]


def test_disk_cap_drops_the_oldest_events_first(logs: Logs) -> None:
    line = "x" * 74 + "\n"  # 75 bytes + 26 overhead = 101 bytes stored
    for i in range(150):
        logs.write(f"{i:03d}" + line[3:], group=f"/g{i % 3}")
    run(logs.service.maintain())
    assert logs.service.store.stored_bytes() <= 10_000
    kept = sorted(int(m[:3]) for g in ("/g0", "/g1", "/g2")
                  for m in messages(logs("FilterLogEvents", logGroupName=g)))
    assert kept == list(range(150 - len(kept), 150))
    assert len(kept) == 10_000 // 101
    assert logs.service.statistics().events_evicted == 150 - len(kept)


def test_missing_groups_and_streams_answer_as_aws(logs: Logs) -> None:
    for operation, params in (("DeleteLogGroup", {}), ("DescribeLogStreams", {}),
                              ("FilterLogEvents", {}), ("DeleteRetentionPolicy", {}),
                              ("GetLogEvents", {"logStreamName": STREAM})):
        error = logs.error(operation, logGroupName="/missing", **params)
        assert (error.code, error.message, error.status) == (
            "ResourceNotFoundException", "The specified log group does not exist.", 400)
    logs("CreateLogGroup", logGroupName="/empty")
    error = logs.error("GetLogEvents", logGroupName="/empty", logStreamName="s")
    assert error.message == "The specified log stream does not exist."
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/empty:*"
    assert logs("DescribeLogStreams", logGroupIdentifier=arn)["logStreams"] == []
    error = logs.error("DescribeLogStreams", logGroupName="/empty", logGroupIdentifier=arn)
    assert error.code == "InvalidParameterException"
    error = logs.error("PutRetentionPolicy", logGroupName="/empty", retentionInDays=2)
    assert error.code == "InvalidParameterException"
    assert error.message.startswith("1 validation error detected: Value '2' at "
                                    "'retentionInDays' failed to satisfy constraint")
