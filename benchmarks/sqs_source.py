"""The SQS event source against a real ``loam serve`` (SQLite): throughput and delay.

Throughput: a queue is filled with N messages, then an event source mapping
(BatchSize 10, no batching window) to a no-op function is created; the rate
is N / (time from creating the mapping until the queue is empty, every
message deleted after its batch succeeded). Baseline in the same run: the
same number of messages through a hand-written consumer in this process
(ReceiveMessage 10 → Invoke with the batch → DeleteMessageBatch, 8 threads),
what a team without event source mappings would run.

Delay: with the mapping enabled, messages are sent one at a time; the
function logs how long after its send (the client's wall clock in the body,
same host clock) its handler started. Baseline: a synchronous Invoke's round
trip from the same client. Writes the ``sqs`` section of
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, percentile, spread, write_section
from tests.helpers import Server, client, create_function, running_server

NOOP = "def handler(event, context):\n    return None\n"
TIMED = (
    "import json, time\n"
    "def handler(event, context):\n"
    "    now = time.time() * 1000\n"
    "    for record in event['Records']:\n"
    "        sent = json.loads(record['body'])['sent']\n"
    "        print('DELAY %.3f' % (now - sent))\n"
)
SENDERS = 4
CONSUMERS = 8


def _fill(sqs: Any, url: str, count: int) -> None:
    def send(start: int) -> None:
        entries = [{"Id": str(i), "MessageBody": json.dumps({"n": start + i})}
                   for i in range(min(10, count - start))]
        out = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        if out.get("Failed"):
            raise RuntimeError(f"send failed: {out['Failed'][:1]}")

    with ThreadPoolExecutor(SENDERS) as pool:
        list(pool.map(send, range(0, count, 10)))


def _backlog(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"])


def _drain_time(sqs: Any, url: str, timeout: float = 600) -> float:
    started = time.monotonic()
    while _backlog(sqs, url) > 0:
        if time.monotonic() - started > timeout:
            raise RuntimeError("the queue did not drain")
        time.sleep(0.02)
    return time.monotonic() - started


def _wait_enabled(lam: Any, uuid_: str) -> None:
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=uuid_)["State"] != "Enabled":
        if time.monotonic() > deadline:
            raise RuntimeError("the mapping did not become Enabled")
        time.sleep(0.05)


def _mapping_rate(server: Server, count: int) -> float:
    lam, sqs = client(server), client(server, "sqs")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, {"index.py": NOOP}, MemorySize=1769)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    _fill(sqs, url, count)
    started = time.monotonic()
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              BatchSize=10)
    elapsed = time.monotonic() - started + _drain_time(sqs, url)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return count / elapsed


def _consumer_rate(server: Server, count: int) -> float:
    lam, sqs = client(server), client(server, "sqs")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, {"index.py": NOOP}, MemorySize=1769)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    _fill(sqs, url, count)
    done = threading.Event()

    def consume() -> None:
        while not done.is_set():
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=1).get("Messages", [])
            if not got:
                continue
            records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in got]
            lam.invoke(FunctionName=name, Payload=json.dumps({"Records": records}))[
                "Payload"].read()
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])

    threads = [threading.Thread(target=consume) for _ in range(CONSUMERS)]
    for t in threads:
        t.start()
    elapsed = _drain_time(sqs, url)
    done.set()
    for t in threads:
        t.join()
    return count / elapsed


def _delays(server: Server, count: int) -> tuple[list[float], list[float]]:
    lam, sqs = client(server), client(server, "sqs")
    name = f"bench-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, {"index.py": TIMED}, MemorySize=1769)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name,
                                              BatchSize=10)
    _wait_enabled(lam, mapping["UUID"])
    before = len(re.findall(r"DELAY ", server.log()))
    for _ in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"sent": time.time() * 1000}))
        time.sleep(0.05)
    deadline = time.monotonic() + 60
    while len(re.findall(r"DELAY ", server.log())) - before < count:
        if time.monotonic() > deadline:
            raise RuntimeError("not every message reached the function")
        time.sleep(0.05)
    delays = [float(v) for v in re.findall(r"DELAY ([0-9.]+)", server.log())[before:]]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    invokes = []
    for _ in range(count):
        t0 = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=json.dumps(
            {"Records": [{"body": json.dumps({"sent": time.time() * 1000})}]}))["Payload"].read()
        invokes.append((time.perf_counter() - t0) * 1000)
    return delays, invokes


def _run(count: int, samples: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        mapping = _mapping_rate(server, count)
        consumer = _consumer_rate(server, count)
        delays, invokes = _delays(server, samples)
    return {"mapping": mapping, "consumer": consumer, "delays": delays, "invokes": invokes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-n", "--messages", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    runs = [_run(args.messages, args.samples) for _ in range(args.runs)]
    delays = [d for r in runs for d in r["delays"]]
    invokes = [d for r in runs for d in r["invokes"]]
    lines = [
        "## SQS event source",
        "",
        f"Measured by `make bench` (`benchmarks/sqs_source.py`) on {machine_line()}. "
        f"SQLite store, a no-op Python function (1,769 MB). Throughput: {args.messages:,} "
        "messages are queued, then a mapping (BatchSize 10, no batching window) is created; "
        "rate = messages / (mapping created → queue empty). Baseline: the same number "
        f"through a hand-written consumer ({CONSUMERS} threads: ReceiveMessage 10 → Invoke → "
        "DeleteMessageBatch). Delay: messages sent one at a time, 50 ms apart, through an "
        "enabled mapping; the handler logs its start minus the send time in the body. "
        "Baseline: a synchronous Invoke's round trip from the same client. Targets "
        "(issue 5): ≥ 2,000 messages/s, p50 delay ≤ 50 ms. Rates: min / median / max over "
        f"{args.runs} runs; delays: {len(delays)} samples.",
        "",
        "| what | value |",
        "| --- | ---: |",
        f"| mapping → function, messages/s | {spread([r['mapping'] for r in runs], '{:.0f}')} |",
        f"| baseline: hand-written consumer, messages/s | "
        f"{spread([r['consumer'] for r in runs], '{:.0f}')} |",
        f"| send → handler start, p50 / p99 ms | {statistics.median(delays):.1f} / "
        f"{percentile(delays, 99):.1f} |",
        f"| baseline: sync Invoke round trip, p50 / p99 ms | {statistics.median(invokes):.1f} / "
        f"{percentile(invokes, 99):.1f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("sqs", text)


if __name__ == "__main__":
    main()
