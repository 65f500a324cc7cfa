"""Warm function URL: a GET answered with a small JSON document, against a direct Invoke.

Against a real ``loam serve`` on loopback, one Python function (MemorySize
1,769 MB) with a function URL (AuthType NONE, the public statement added):
a GET of its URL (path form, ``/_loam/url/<id>/``) is answered with
``{"ok": true}``; a direct Invoke of the same function (its event echoed) is
the baseline, measured in the same run. Clients run in processes of their
own over keep-alive connections (``benchmarks/rawhttp.py``; ``wrk`` for
throughput when installed), every response checked:

- latency: one connection, requests in sequence — p50 / p99 (target p50 ≤ 1.5 ms);
- throughput: 32 connections after 32 environments were warmed (target ≥ 4,000/s).

Writes the ``function-url`` section of ``docs/performance.md`` (``--no-write``
to only print).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from benchmarks.report import machine_line, spread, write_section
from benchmarks.warm import (
    CLIENTS,
    SECONDS,
    SEQUENTIAL,
    Check,
    Plan,
    Throughput,
    _invoke_path,
    _pcts,
    _server_description,
    _tp_row,
    latency_runs,
    throughput_runs,
    warm_environments,
)
from tests.helpers import client, create_function, running_server

RUNS = 3
URL_ANSWER = b'{"ok": true}'
HANDLER = """
def handler(event, context):
    if "requestContext" in event:
        return {"statusCode": 200, "headers": {"content-type": "application/json"},
                "body": '{"ok": true}'}
    return event
"""


def render(plan: Plan, results: dict[str, Any]) -> str:
    u50, u99 = _pcts(results["url"])
    i50, i99 = _pcts(results["invoke"])
    tp: list[Throughput] = results["url_throughput"]
    ip: list[Throughput] = results["invoke_throughput"]
    return "\n".join([
        "## Function URLs",
        "",
        f"Measured by `make bench` (`benchmarks/function_url.py`) on {machine_line()}; "
        f"{results['server']}. One python3.12 function, MemorySize {plan.memory_mb} MB, "
        "with a function URL (AuthType NONE): `GET /_loam/url/<url-id>/` answered "
        "`{\"ok\": true}` through a payload format 2.0 event and response document; "
        "the baseline is a direct Invoke of the same function in the same run. "
        "Clients in processes of their own over keep-alive connections to `127.0.0.1`, "
        f"every response checked. Each row: min / median / max over {plan.runs} runs.",
        "",
        "| one client in sequence | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
        f"| function URL GET | {spread(u50, '{:.3f}')} | {spread(u99, '{:.3f}')} |",
        f"| direct Invoke (baseline) | {spread(i50, '{:.3f}')} | {spread(i99, '{:.3f}')} |",
        "",
        f"{SEQUENTIAL} timed requests per run. Target: function URL p50 ≤ 1.5 ms "
        f"(median {statistics.median(u50):.3f} ms; "
        f"{statistics.median(u50) - statistics.median(i50):+.3f} ms over Invoke).",
        "",
        f"`{results['load_tool']}`, {CLIENTS} connections for {SECONDS:g} s per run, after "
        f"warming {results['warmed']['idle']} environments:",
        "",
        "| what | requests/s | errors | p50 ms | p99 ms | loam CPU µs/req | "
        "runtime CPU µs/req | of loam's: log writer µs/req |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _tp_row("function URL GET", tp),
        _tp_row("direct Invoke (baseline)", ip),
        "",
        f"Target: ≥ 4,000 requests/s (median "
        f"{statistics.median([t.per_second for t in tp]):.0f}/s).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--runs", type=int, default=RUNS, help="repetitions of each measurement")
    args = parser.parse_args()
    plan = Plan(args.runs)
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        lam = client(server)
        name = f"bench-url-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER}, MemorySize=plan.memory_mb)
        config = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        lam.add_permission(FunctionName=name, StatementId="public-url", Principal="*",
                           Action="lambda:InvokeFunctionUrl", FunctionUrlAuthType="NONE")
        url_id = (urlsplit(config["FunctionUrl"]).hostname or "").split(".")[0]
        url_path = f"/_loam/url/{url_id}/"
        invoke_path = _invoke_path(name)
        url_get = Check("GET", b"", URL_ANSWER)
        results: dict[str, Any] = {"warmed": warm_environments(server, url_path, url_get)}
        results["url"] = latency_runs(plan, server.port, url_path)
        results["invoke"] = latency_runs(plan, server.port, invoke_path)
        results["url_throughput"] = throughput_runs(plan, server, url_path, url_get)
        results["invoke_throughput"] = throughput_runs(plan, server, invoke_path)
        results["load_tool"] = "wrk -t1" if shutil.which("wrk") else "rawhttp.py (asyncio)"
        results["server"] = _server_description(server)
    markdown = render(plan, results)
    print(markdown)
    if not args.no_write:
        write_section("function-url", markdown)


if __name__ == "__main__":
    main()
