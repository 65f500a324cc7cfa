"""Warm invoke: latency of one client in sequence, throughput of 32 at once.

Against a real ``loam serve`` on loopback, one echo function (a Python
handler that returns its event). Clients run in processes of their own and
keep their HTTP connection alive:

- latency: ``benchmarks/rawhttp.py``, one connection, one Invoke after the
  other, each timed from request written to response read; boto3's
  end-to-end number alongside for reference;
- throughput: Debian's ``wrk`` (``rawhttp.py``'s asyncio client when wrk is
  missing) with 32 connections on one function, after 32 environments were
  warmed; every response is checked (status 200, no function error, the
  event echoed back).

Baselines in the same run, on the same server: ``GET /_loam/health`` (the
HTTP floor: uvicorn and the app, no invoke) with the same clients.
Each measurement is repeated ``RUNS`` times: min / median / max.
Writes the ``warm`` section of ``docs/performance.md`` (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, percentile, spread, write_section
from tests.helpers import Server, client, create_function, processes, running_server

RUNS = 5
SEQUENTIAL = 2000          # timed invokes per latency run
SEQUENTIAL_WARMUP = 200    # untimed invokes before them, same connection
BOTO3_CALLS = 300
CLIENTS = 32
SECONDS = 8                # per throughput run
MEMORY_MB = 1769           # one full vCPU per environment (AWS's ratio)
HANDLER = "def handler(event, context):\n    return event\n"
EVENT = b'{"hello": "world", "n": 1}'

_WRK_SCRIPT = """
wrk.method = "%(method)s"
if wrk.method == "POST" then
  wrk.body = '%(body)s'
  wrk.headers["Content-Type"] = "application/json"
end
bad = 0
local expected = '%(expect)s'
function response(status, headers, body)
  if status ~= 200 or body ~= expected or headers["x-amz-function-error"]
     or headers["X-Amz-Function-Error"] then
    bad = bad + 1
  end
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '\\nRESULT {"requests": %%d, "us": %%d, "bad": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, b,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Plan:
    runs: int = RUNS
    memory_mb: int = MEMORY_MB


@dataclass
class Throughput:
    per_second: float
    requests: int
    errors: int
    p50_ms: float | None = None
    p99_ms: float | None = None
    server_cpu_us: float | None = None   # CPU per request: the loam process
    runtime_cpu_us: float | None = None  # CPU per request: its environments
    threads_cpu_us: float | None = None  # of server_cpu_us: threads other than the loop's


def _invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


def _rawhttp(*args: object) -> Any:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.rawhttp", *map(str, args)],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(out.stdout)


def latency_runs(plan: Plan, port: int, path: str) -> list[list[float]]:
    runs = []
    for _ in range(plan.runs):
        samples = _rawhttp("sequential", port, path, EVENT.decode(),
                           SEQUENTIAL + SEQUENTIAL_WARMUP)
        runs.append(samples[SEQUENTIAL_WARMUP:])
    return runs


def boto3_runs(server: Server, name: str) -> list[list[float]]:
    lam = client(server)
    runs = []
    for _ in range(3):
        samples = []
        for _ in range(BOTO3_CALLS):
            t = time.perf_counter()
            out = lam.invoke(FunctionName=name, Payload=EVENT)
            out["Payload"].read()
            samples.append((time.perf_counter() - t) * 1000)
        runs.append(samples[BOTO3_CALLS // 10:])
    return runs


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time (user + system) of ``pid`` itself and of all its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for proc, fields in processes():
        parents[proc] = int(fields[1])
        cpu[proc] = (int(fields[11]) + int(fields[12])) / tick
    children = 0.0
    for proc in cpu:
        p = parents.get(proc, 0)
        while p and p != pid:
            p = parents.get(p, 0)
        if p == pid:
            children += cpu[proc]
    return cpu.get(pid, 0.0), children


def _other_threads_cpu(pid: int) -> float:
    """CPU seconds of ``pid``'s threads other than its main one (the event loop's):
    during a warm-invoke run, the function-log writer (worker threads sit idle)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) == pid:
            continue
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


@dataclass(frozen=True)
class Check:
    """What a throughput run sends and expects back (``None``: the status only)."""
    method: str = "POST"
    body: bytes = EVENT
    expect: bytes | None = EVENT


HEALTH = Check("GET", b"", None)


def throughput_once(port: int, path: str, seconds: float, check: Check = Check()) -> Throughput:
    wrk = shutil.which("wrk")
    if wrk is None:
        out = _rawhttp("concurrent", port, path, EVENT.decode(), CLIENTS, seconds)
        return Throughput(out["per_second"], out["requests"], out["errors"])
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT % {"method": check.method, "body": check.body.decode(),
                                    "expect": (check.expect or b"").decode()})
        script.flush()
        method = ["-s", script.name] if check.expect is not None else []
        proc = subprocess.run(
            [wrk, "-t1", f"-c{CLIENTS}", f"-d{round(seconds)}s", "--timeout", "30s", *method,
             f"http://127.0.0.1:{port}{path}"],
            check=True, capture_output=True, text=True,
        )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:  # the health baseline runs without the script
        return _parse_wrk_plain(proc.stdout)
    doc = json.loads(line.removeprefix("RESULT "))
    return Throughput(doc["requests"] / (doc["us"] / 1e6), doc["requests"],
                      doc["bad"] + doc["socket_errors"], doc["p50_us"] / 1000,
                      doc["p99_us"] / 1000)


def _parse_wrk_plain(text: str) -> Throughput:
    rate = requests = errors = 0.0
    for line in text.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            rate = float(words[1])
        elif "requests in" in line:
            requests = float(words[0])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            errors += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return Throughput(rate, int(requests), int(errors))


def throughput_runs(plan: Plan, server: Server, path: str,
                    check: Check = Check()) -> list[Throughput]:
    """Repeated runs, each with the CPU it cost per request (loam, its environments)."""
    results: list[Throughput] = []
    for _ in range(plan.runs):
        before = _cpu_seconds(server.process.pid)
        threads_before = _other_threads_cpu(server.process.pid)
        run = throughput_once(server.port, path, SECONDS, check)
        after = _cpu_seconds(server.process.pid)
        threads_after = _other_threads_cpu(server.process.pid)
        if run.requests:
            run.server_cpu_us = (after[0] - before[0]) / run.requests * 1e6
            run.runtime_cpu_us = (after[1] - before[1]) / run.requests * 1e6
            run.threads_cpu_us = (threads_after - threads_before) / run.requests * 1e6
        results.append(run)
    return results


def environments(server: Server) -> dict[str, int]:
    with urllib.request.urlopen(server.url + "/_loam/health", timeout=10) as r:
        doc: dict[str, int] = json.load(r)["environments"]
    return doc


def warm_environments(server: Server, path: str, check: Check = Check()) -> dict[str, int]:
    """Run 32 clients until 32 environments exist (each cold start happens here)."""
    for _ in range(10):
        throughput_once(server.port, path, 3, check)
        if environments(server)["idle"] >= CLIENTS:
            break
    return environments(server)


def _pcts(runs: list[list[float]]) -> tuple[list[float], list[float]]:
    return [percentile(r, 50) for r in runs], [percentile(r, 99) for r in runs]


def render(plan: Plan, results: dict[str, Any]) -> str:
    inv50, inv99 = _pcts(results["invoke"])
    h50, h99 = _pcts(results["health"])
    b50, b99 = _pcts(results["boto3"])
    tp: list[Throughput] = results["throughput"]
    hp: list[Throughput] = results["health_throughput"]
    rates = [t.per_second for t in tp]
    ratios = [t / h.per_second for t, h in zip(rates, hp, strict=True)]
    lines = [
        "## Warm invoke",
        "",
        f"Measured by `make bench` (`benchmarks/warm.py`) on {machine_line()}; "
        f"{results['server']}. The function: `return event` (python3.12 runtime), "
        f"MemorySize {plan.memory_mb} MB, a {len(EVENT)}-byte event. "
        "Invoke and baseline runs alternate. "
        "Clients run in processes of their own over keep-alive connections to "
        "`127.0.0.1`; every response is checked (200, no `X-Amz-Function-Error`, "
        "the event echoed back). Each row: min / median / max over "
        f"{plan.runs} runs (boto3: 3).",
        "",
        "### One client in sequence",
        "",
        f"`benchmarks/rawhttp.py`: {SEQUENTIAL} Invoke requests per run, one after the "
        f"other on one connection (after {SEQUENTIAL_WARMUP} untimed), each timed from "
        "request written to response read. Baseline, same server and client: "
        "`GET /_loam/health` (HTTP and the app, no invoke).",
        "",
        "| what | p50 ms | p99 ms |",
        "| --- | ---: | ---: |",
        f"| warm Invoke, raw HTTP keep-alive | {spread(inv50, '{:.3f}')} | "
        f"{spread(inv99, '{:.3f}')} |",
        f"| warm Invoke, boto3 end to end (reference) | {spread(b50)} | {spread(b99)} |",
        f"| `GET /_loam/health` (baseline) | {spread(h50, '{:.3f}')} | "
        f"{spread(h99, '{:.3f}')} |",
        "",
        "Invoke p50 over the HTTP floor, each run against the health run beside it: "
        f"{spread([i - h for i, h in zip(inv50, h50, strict=True)], '{:.3f}')} ms.",
        "",
        f"### {CLIENTS} clients at once, one function",
        "",
        f"`{results['load_tool']}`, {CLIENTS} keep-alive connections for {SECONDS:g} s per run, "
        f"after warming {results['warmed']['idle']} environments (one invocation per "
        "environment at a time, as on Lambda). CPU per invocation from `/proc`: "
        "the loam process, and its environments (runtimes); of loam's, what its "
        "threads other than the event loop's used — the function-log writer storing "
        "every START / END / REPORT line (the worker threads sit idle).",
        "",
        "| what | invocations/s | errors | p50 ms | p99 ms | loam CPU µs/inv | "
        "runtime CPU µs/inv | of loam's: log writer µs/inv |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        _tp_row("warm Invoke", tp),
        _tp_row("`GET /_loam/health` (baseline)", hp),
        "",
        "Invoke throughput / health throughput, each run against the health run beside "
        f"it (they alternate): {spread(ratios)}.",
    ]
    return "\n".join(lines)


def _tp_row(label: str, runs: list[Throughput]) -> str:
    def col(values: list[float | None], fmt: str) -> str:
        present = [v for v in values if v is not None]
        return spread(present, fmt) if present else "–"

    return (f"| {label} | {spread([t.per_second for t in runs], '{:.0f}')} | "
            f"{sum(t.errors for t in runs)} | "
            f"{col([t.p50_ms for t in runs], '{:.2f}')} | "
            f"{col([t.p99_ms for t in runs], '{:.2f}')} | "
            f"{col([t.server_cpu_us for t in runs], '{:.0f}')} | "
            f"{col([t.runtime_cpu_us for t in runs], '{:.0f}')} | "
            f"{col([t.threads_cpu_us for t in runs], '{:.0f}')} |")


def measure(plan: Plan, server: Server, name: str) -> dict[str, Any]:
    """Each invoke run next to a baseline run (alternating), so that a ratio
    compares two runs of the same minute on this shared, noisy machine."""
    path = _invoke_path(name)
    one = Plan(1, plan.memory_mb)
    results: dict[str, Any] = {"invoke": [], "health": [], "throughput": [],
                               "health_throughput": []}
    results["warmed"] = warm_environments(server, path)
    for _ in range(plan.runs):
        results["invoke"] += latency_runs(one, server.port, path)
        results["health"] += latency_runs(one, server.port, "/_loam/health")
    results["boto3"] = boto3_runs(server, name)
    for _ in range(plan.runs):
        results["throughput"] += throughput_runs(one, server, path)
        results["health_throughput"] += throughput_runs(one, server, "/_loam/health", HEALTH)
    results["load_tool"] = "wrk -t1" if shutil.which("wrk") else "rawhttp.py (asyncio)"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--runs", type=int, default=RUNS, help="repetitions of each measurement")
    parser.add_argument("--memory", type=int, default=MEMORY_MB, help="the function's MemorySize")
    args = parser.parse_args()
    plan = Plan(args.runs, args.memory)
    # The server as shipped: function log lines stored, not also echoed on its console
    # (the tests' servers echo them, to read them back).
    with tempfile.TemporaryDirectory() as tmp, running_server(
            Path(tmp) / "data", extra_env={"LOAM_ECHO_FUNCTION_LOGS": "0"}) as server:
        lam = client(server)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER}, MemorySize=plan.memory_mb)
        results = measure(plan, server, name)
        results["server"] = _server_description(server)
    markdown = render(plan, results)
    print(markdown)
    if not args.no_write:
        write_section("warm", markdown)


def _server_description(server: Server) -> str:
    found = re.search(r"uvicorn, loop=\w+, http=\w+", server.log())
    return (f"`loam serve` ({found.group(0) if found else 'uvicorn'}; function log lines "
            "stored, not echoed on the console: the default)")


if __name__ == "__main__":
    main()
