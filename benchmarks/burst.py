"""Burst: N simultaneous invocations of a cold function whose handler sleeps 100 ms.

Against a real ``loam serve`` (account concurrency and idle cap raised through
``LOAM_ACCOUNT_CONCURRENCY`` / ``LOAM_MAX_IDLE_ENVIRONMENTS``): a new 128 MB
Python function, no environment yet. The client opens N keep-alive
connections first, then writes N Invoke requests at once and times each
(request written → response read); the burst's wall time runs from the first
request written to the last response read. Environments created: the node's
environment directories once every invocation has returned (idle ones stay).
Target (issue 3): 500 invocations, all succeed within 3 s, 500 environments.

Where the time goes, from outside the server (no instrumentation in it):
- CPU: the loam process itself (event loop), its reaped children (``mkfs.ext4``
  for each ``/tmp`` disk), every environment's processes (``/proc/PID/stat``
  of the live ones, plus what they reaped: the jail's ``mount``), and the
  whole machine (``/proc/stat``), against the wall time × CPUs;
- a timeline per environment from process start times (``/proc/PID/stat``,
  10 ms ticks) relative to the burst: when its sandbox process was spawned
  (``unshare``, fresh) or forked (templates), when its runtime process began.

Baseline in the same run: N bare interpreters (``python -c 0``), two at a time,
and all N at once. Runs templates off (``LOAM_TEMPLATES=0``) and on (``LOAM_TEMPLATES=1``).
Writes the ``burst`` section of ``docs/performance.md`` (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.rawhttp import build_request
from benchmarks.report import machine_line, percentile, spread, write_section
from tests.helpers import client, create_function, environment_ids, node_cgroup, running_server

N_DEFAULT = 500
TARGET_S = 3.0
MEMORY_MB = 128
HANDLER = "import time\n\ndef handler(event, context):\n    time.sleep(0.1)\n    return 'ok'\n"
TICK = os.sysconf("SC_CLK_TCK")
_CHILDREN = "loam children (mkfs.ext4, …)"


@dataclass
class Burst:
    templates: bool
    n: int
    wall_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    environments: int = 0
    templates_made: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    spawned_s: list[float] = field(default_factory=list)   # sandbox process start, per env
    runtime_s: list[float] = field(default_factory=list)   # runtime process start, per env
    log_lines: list[str] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)  # fork phases, ms
    fork_gaps_ms: list[float] = field(default_factory=list)
    baseline: int | None = None  # the baseline run right after this burst (its index)


# -- /proc --------------------------------------------------------------------

def _stat(pid: int | str) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()


def _cpu_s(fields: list[str], children: bool = False) -> float:
    own = int(fields[11]) + int(fields[12])
    reaped = int(fields[13]) + int(fields[14]) if children else 0
    return (own + reaped) / TICK


def _machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine since boot."""
    words = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(w) for w in words]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / TICK


def _boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def environment_processes(data_dir: Path) -> dict[str, list[int]]:
    """Each environment's (and template's) processes, by environment id."""
    parent = node_cgroup(data_dir)
    out: dict[str, list[int]] = {}
    for env_id in environment_ids(data_dir, templates=True):
        try:
            out[env_id] = [int(p) for p in (parent / env_id / "cgroup.procs").read_text().split()]
        except OSError:
            continue
    return out


def _kind(pid: int, fields: list[str]) -> str:
    """unshare (fresh: sh → setpriv → unshare), pid 1 (the jail, then its reaper; with
    what it reaped, e.g. ``mount``), or the runtime."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "gone"
    nspid = next((line.split()[-1] for line in status.splitlines()
                  if line.startswith("NSpid:")), "")
    if comm == "unshare":
        return "unshare"
    return "pid 1 (jail, reaper)" if nspid == "1" else "runtime"


# -- driving ------------------------------------------------------------------

async def _burst(port: int, request: bytes, n: int) -> tuple[float, list[tuple[float, int, bytes]],
                                                               float]:
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                   for _ in range(n)))

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                  ) -> tuple[float, int, bytes]:
        t = time.perf_counter()
        writer.write(request)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.partition(b":")[2]) for line in head.split(b"\r\n")[1:]
                           if line.partition(b":")[0].strip().lower() == b"content-length"), 0)
            body = await reader.readexactly(length)
        finally:
            writer.close()
        status = int(head.split(b" ", 2)[1])
        if b"x-amz-function-error" in head.lower():
            status = -status
        return (time.perf_counter() - t) * 1000, status, body

    boot0 = _boottime()
    started = time.perf_counter()
    results = await asyncio.gather(*(one(r, w) for r, w in conns), return_exceptions=True)
    wall = time.perf_counter() - started
    flat: list[tuple[float, int, bytes]] = []
    for r in results:
        flat.append((0.0, 0, repr(r).encode()) if isinstance(r, BaseException) else r)
    return wall, flat, boot0


_FORKED = re.compile(r"^(\S+ \S+) DEBUG loam\.sandbox: forked \w+ from template \w+: (.*)$")


def fork_phases(log: str) -> tuple[dict[str, list[float]], list[float]]:
    """From the server's debug log: each fork's phases (ms, from the previous one), and
    the intervals between consecutive forks completing (ms)."""
    phases: dict[str, list[float]] = {}
    stamps: list[float] = []
    for line in log.splitlines():
        m = _FORKED.match(line)
        if not m:
            continue
        when = time.strptime(m.group(1).split(",")[0], "%Y-%m-%d %H:%M:%S")
        stamps.append(time.mktime(when) + int(m.group(1).split(",")[1]) / 1000)
        for part in m.group(2).split(", "):
            name, _, value = part.partition(" +")
            phases.setdefault(name, []).append(float(value.removesuffix(" ms")))
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    return phases, gaps


def one_burst(n: int, templates: bool, tmp: Path, phases: bool = False) -> Burst:
    result = Burst(templates, n)
    data = tmp / f"{'templates' if templates else 'fresh'}-{uuid.uuid4().hex[:6]}"
    env = {"LOAM_TEMPLATES": "1" if templates else "0",
           "LOAM_ACCOUNT_CONCURRENCY": str(n + 100),
           "LOAM_MAX_IDLE_ENVIRONMENTS": str(n + 100),
           "LOAM_KEEP_ALIVE_SECONDS": "3600"}
    args = ["--log-level", "debug"] if phases else None
    with running_server(data, extra_env=env, args=args) as server:
        lam = client(server)
        name = f"burst-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER}, MemorySize=MEMORY_MB, Timeout=60)
        request = build_request("POST", f"/2015-03-31/functions/{name}/invocations", b"{}")
        server_before = _stat(server.process.pid)
        machine_before = _machine_busy_s()
        wall, results, boot0 = asyncio.run(_burst(server.port, request, n))
        machine_after = _machine_busy_s()
        server_after = _stat(server.process.pid)
        result.wall_s = wall
        for ms, status, body in results:
            if status == 200:
                result.ok += 1
                result.latencies_ms.append(ms)
            else:
                key = _failure_key(status, body)
                result.failures[key] = result.failures.get(key, 0) + 1
        envs = environment_processes(data)
        tdir = data / "templates"
        result.templates_made = sum(1 for d in tdir.iterdir() if d.is_dir()) \
            if tdir.is_dir() else 0
        result.environments = len(envs) - result.templates_made
        result.cpu = {
            "loam": _cpu_s(server_after) - _cpu_s(server_before),
            _CHILDREN: (_cpu_s(server_after, True) - _cpu_s(server_after))
            - (_cpu_s(server_before, True) - _cpu_s(server_before)),
            "environments": 0.0,
            "machine": machine_after - machine_before,
        }
        for env_id, pids in envs.items():
            starts = []
            for pid in pids:
                try:
                    fields = _stat(pid)
                except OSError:
                    continue
                used = _cpu_s(fields, children=True)
                result.cpu["environments"] += used
                kind = f"environments: {_kind(pid, fields)}"
                result.cpu[kind] = result.cpu.get(kind, 0.0) + used
                starts.append(int(fields[19]) / TICK - boot0)
            if starts and not (tdir / env_id).is_dir():
                starts.sort()
                result.spawned_s.append(starts[0])
                result.runtime_s.append(starts[-1])
        if phases:
            result.phases, result.fork_gaps_ms = fork_phases(server.log())
        result.log_lines = [line for line in server.log().splitlines()
                            if " WARNING " in line or " ERROR " in line][:20]
    return result


_REQUEST_ID = re.compile(r"RequestId: [0-9a-f-]+ (Error: )?")


def _failure_key(status: int, body: bytes) -> str:
    """What failed, without the request id, so alike failures count together."""
    text = _REQUEST_ID.sub("", body.decode("utf-8", "replace"))
    return f"{status}: {text[:240]}"


def bare_interpreters(n: int) -> dict[str, float]:
    """Wall time of ``n`` bare interpreter starts: two at a time, and all at once."""
    cmd = [sys.executable, "-c", "0"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: subprocess.run(cmd, check=True), range(n)))
    two = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n
    t = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(n)]
    for p in procs:
        p.wait()
    at_once = time.perf_counter() - t
    return {"two at a time": two, "all at once": at_once, "cpu ms": cpu * 1000}


# -- reporting ----------------------------------------------------------------

def _pct(values: list[float], pct: float) -> str:
    return f"{percentile(values, pct):.0f}" if values else "–"


def render(bursts: list[Burst], baselines: list[dict[str, float]], n_base: int) -> str:
    lines = [
        "## Burst: simultaneous invocations of a cold function",
        "",
        f"Measured by `make bench` (`benchmarks/burst.py`) on {machine_line()}. "
        f"A new {MEMORY_MB} MB Python function whose handler sleeps 100 ms, no "
        "environment yet; N keep-alive connections opened first, then N Invoke requests "
        "written at once; wall time from the first request written to the last response "
        f"read. Target (issue 3): 500 at once, all succeed within {TARGET_S:g} s, "
        "500 environments.",
        "",
        "| templates | N | wall s | ok | failed | environments (templates) | p50 ms | p99 ms "
        "| max ms | within target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for b in bursts:
        failed = sum(b.failures.values())
        within = b.ok == b.n and b.wall_s <= TARGET_S
        lines.append(
            f"| {'on' if b.templates else 'off'} | {b.n} | {b.wall_s:.2f} | {b.ok} | {failed} | "
            f"{b.environments} ({b.templates_made}) | {_pct(b.latencies_ms, 50)} | "
            f"{_pct(b.latencies_ms, 99)} | "
            f"{max(b.latencies_ms) if b.latencies_ms else 0:.0f} | "
            f"{'yes' if within else '**no**'} |")
    two = [b["two at a time"] for b in baselines]
    once = [b["all at once"] for b in baselines]
    if baselines:
        lines += [
            "",
            f"Baseline, same run: {n_base} bare `python -c 0` (the interpreter loam runs on), "
            f"two at a time: {spread(two)} s; all {n_base} at once: {spread(once)} s "
            f"(min / median / max over {len(baselines)}); CPU per bare start "
            f"{spread([b['cpu ms'] for b in baselines], '{:.0f}')} ms.",
        ]
        paired = [(b, baselines[b.baseline]) for b in bursts if b.baseline is not None]
        if paired:
            lines += [
                "",
                f"Each templates burst of {n_base} against the baseline run right after it "
                f"(two at a time): "
                + ", ".join(f"{b.wall_s:.2f} s / {base['two at a time']:.2f} s = "
                            f"{b.wall_s / base['two at a time']:.2f}" for b, base in paired)
                + ".",
            ]
    lines += [
        "",
        "### Where the time goes",
        "",
        "CPU seconds during the burst (from `/proc`: the loam process; what it reaped, "
        "mostly `mkfs.ext4` for each `/tmp` disk; the environments' own processes, live and "
        "reaped; the whole machine) against wall time × CPUs, and when environments came "
        "up: seconds after the burst began that the sandbox process was spawned (fresh) or "
        "forked (templates), and that the runtime process began (10 ms ticks), "
        "p50 / p90 / last.",
        "",
        "| templates | N | loam s | loam's children s | environments s | machine s "
        "| machine − loam − children s | wall × CPUs s | CPU per environment ms "
        "| spawned p50 / p90 / last s | runtime began p50 / p90 / last s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b in bursts:
        c = b.cpu
        lines.append(
            f"| {'on' if b.templates else 'off'} | {b.n} | {c['loam']:.1f} | "
            f"{c[_CHILDREN]:.1f} | {c['environments']:.1f} | "
            f"{c['machine']:.1f} | {c['machine'] - c['loam'] - c[_CHILDREN]:.1f} | "
            f"{b.wall_s * (os.cpu_count() or 1):.1f} | {_per_environment(b)} | "
            f"{_timeline(b.spawned_s)} | {_timeline(b.runtime_s)} |")
    lines += ["", "Environments' CPU by process, seconds (per environment, ms):", ""]
    for b in bursts:
        kinds = sorted(k for k in b.cpu if k.startswith("environments: "))
        per = max(1, b.environments)
        parts = [f"{k.removeprefix('environments: ')} {b.cpu[k]:.1f} "
                 f"({b.cpu[k] / per * 1000:.0f})" for k in kinds]
        lines.append(f"- templates {'on' if b.templates else 'off'}, N = {b.n}: "
                     + "; ".join(parts) + ".")
    phased = [b for b in bursts if b.phases]
    if phased:
        lines += ["", "Forks from the template (server at `--log-level debug`: each fork's "
                  "phases as the template path logs them, ms from the previous phase; and the "
                  "interval between consecutive forks completing), p50 / p90:", ""]
        for b in phased:
            parts = [f"{name} {percentile(v, 50):.1f} / {percentile(v, 90):.1f}"
                     for name, v in b.phases.items()]
            gaps = b.fork_gaps_ms
            lines.append(f"- N = {b.n}, {len(next(iter(b.phases.values())))} forks: "
                         + "; ".join(parts)
                         + (f"; between forks {percentile(gaps, 50):.1f} / "
                            f"{percentile(gaps, 90):.1f}" if gaps else "") + ".")
    failures = [(b, k, v) for b in bursts for k, v in b.failures.items()]
    if failures:
        lines += ["", "Failures (status: body, count):", ""]
        for b, k, v in failures[:12]:
            lines.append(f"- templates {'on' if b.templates else 'off'}, N = {b.n}: "
                         f"`{k.strip()}` × {v}")
    return "\n".join(lines)


def _per_environment(b: Burst) -> str:
    """loam + its children + the environments' CPU per environment created; only when
    every environment of the burst is still there to be counted (none failed)."""
    if b.failures or not b.environments:
        return "–"
    c = b.cpu
    return f"{(c['loam'] + c[_CHILDREN] + c['environments']) / b.environments * 1000:.0f}"


def _timeline(values: list[float]) -> str:
    if not values:
        return "–"
    return (f"{percentile(values, 50):.2f} / {percentile(values, 90):.2f} / "
            f"{max(values):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("-n", type=int, nargs="+", default=[N_DEFAULT],
                        help="simultaneous invocations (several: one burst each)")
    parser.add_argument("--runs", type=int, default=1, help="bursts per N and mode")
    parser.add_argument("--templates", choices=["off", "on", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--baselines", type=int, default=3,
                        help="runs of the bare-interpreter baseline (0: none)")
    parser.add_argument("--phases", type=int, default=100,
                        help="also one templates burst of this size with the server at debug "
                             "level, for the fork phases (0: none)")
    args = parser.parse_args()
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.templates]
    bursts: list[Burst] = []
    n_base = max(args.n)
    # The baseline runs between the largest bursts, so a burst and its baseline share
    # a minute of this shared, noisy machine (``render`` puts each beside its burst).
    baselines: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n:
            for templates in modes:
                for _ in range(args.runs):
                    print(f"burst: N = {n}, templates {'on' if templates else 'off'}",
                          flush=True)
                    bursts.append(one_burst(n, templates, Path(tmp)))
                    print("\n".join(bursts[-1].log_lines[:5]), flush=True)
                    if n == n_base and templates and len(baselines) < args.baselines:
                        bursts[-1].baseline = len(baselines)
                        baselines.append(bare_interpreters(n_base))
        if args.phases and True in modes:
            print(f"burst: N = {args.phases}, templates on, fork phases", flush=True)
            bursts.append(one_burst(args.phases, True, Path(tmp), phases=True))
    while len(baselines) < args.baselines:
        baselines.append(bare_interpreters(n_base))
    markdown = render(bursts, baselines, n_base)
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps([_summary(b) for b in bursts], indent=1))
    if not args.no_write:
        write_section("burst", markdown)


def _summary(b: Burst) -> dict[str, Any]:
    return {"templates": b.templates, "n": b.n, "wall_s": b.wall_s, "ok": b.ok,
            "failures": b.failures, "environments": b.environments,
            "templates_made": b.templates_made, "cpu": b.cpu,
            "latencies_ms": b.latencies_ms, "spawned_s": b.spawned_s,
            "runtime_s": b.runtime_s, "log": b.log_lines, "phases": b.phases,
            "fork_gaps_ms": b.fork_gaps_ms}


if __name__ == "__main__":
    main()
