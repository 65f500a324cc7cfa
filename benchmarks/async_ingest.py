"""Durable async ingest and processing against a real ``loam serve`` (SQLite).

Clients (in this process, over keep-alive connections) send ``InvocationType=
Event`` invokes of a no-op function for a fixed time: each 202 means the event
is committed to the store. Then the worker's progress is read from
``/_loam/health`` until every accepted event is processed. Baseline in the
same run: synchronous invokes of the same function by the same clients.
Writes the ``async`` section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from benchmarks.rawhttp import concurrent
from benchmarks.report import machine_line, spread, write_section
from tests.helpers import client, create_function, running_server

CODE = "def handler(event, context):\n    return None\n"
CLIENTS = 16


def _request(name: str, event: bool) -> bytes:
    body = b'{"n": 1}'
    kind = "Event" if event else "RequestResponse"
    head = (f"POST /2015-03-31/functions/{name}/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Amz-Invocation-Type: {kind}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


def _health(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/_loam/health", timeout=10) as r:
        doc: dict[str, Any] = json.load(r)
    return doc


def _run(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        lam = client(server)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": CODE}, MemorySize=1769)
        sync = concurrent(server.port, _request(name, False), CLIENTS, seconds, None)
        before = _health(server.url)["async"]["processed"]
        started = time.monotonic()
        ingest = concurrent(server.port, _request(name, True), CLIENTS, seconds, None)
        accepted = int(ingest["requests"] - ingest["errors"])
        deadline = time.monotonic() + 600
        while _health(server.url)["async"]["processed"] - before < accepted:
            if time.monotonic() > deadline:
                raise RuntimeError("the queue did not drain in 10 minutes")
            time.sleep(0.05)
        drained = time.monotonic() - started
        return {"accepted_per_s": ingest["per_second"], "errors": ingest["errors"],
                "accepted": accepted, "processed_per_s": accepted / drained,
                "sync_per_s": sync["per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    runs = [_run(args.seconds) for _ in range(args.runs)]
    rows = [
        ("accepted Event invocations/s (202 = committed)", [r["accepted_per_s"] for r in runs]),
        ("processed end to end/s (accept → handler done)", [r["processed_per_s"] for r in runs]),
        ("baseline: synchronous invocations/s, same clients", [r["sync_per_s"] for r in runs]),
    ]
    lines = [
        "## Durable async invocations",
        "",
        f"Measured by `make bench` (`benchmarks/async_ingest.py`) on {machine_line()}. "
        f"SQLite store. {CLIENTS} keep-alive clients send `InvocationType=Event` invokes of a "
        f"no-op function (1,769 MB) for {args.seconds:.0f} s; each 202 means the event is "
        "committed (group commit). Then `/_loam/health` is polled until the worker has "
        "processed every accepted event; end-to-end rate = accepted / (time from the first "
        "send to the last processed). Targets (issue 5): ≥ 2,000 accepted/s, ≥ 1,000 "
        "processed/s. Each cell: min / median / max over "
        f"{args.runs} runs; errors: {sum(int(r['errors']) for r in runs)}.",
        "",
        "| what | per second |",
        "| --- | ---: |",
    ]
    lines += [f"| {label} | {spread(values, '{:.0f}')} |" for label, values in rows]
    lines.append("")
    text = "\n".join(lines)
    print(text)
    print("medians:", {label: statistics.median(v) for label, v in rows})
    if not args.no_write:
        write_section("async", text)


if __name__ == "__main__":
    main()
