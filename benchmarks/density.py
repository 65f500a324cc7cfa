"""Density: how many idle warm environments of one function one node holds, and
what each costs in memory.

Against a real ``loam serve`` (idle cap, account concurrency and keep-alive
raised through ``LOAM_MAX_IDLE_ENVIRONMENTS``, ``LOAM_ACCOUNT_CONCURRENCY``,
``LOAM_KEEP_ALIVE_SECONDS``): one 128 MB Python function whose handler holds
its invocation until a gate file appears in its code directory (the host's
``<data>/code/<digest>/``, mounted read-only at ``/var/task``). The driver opens
invocations in waves of ``WAVE`` (one keep-alive connection each) and waits
after each wave until the node reports that many busy environments, so N
environments exist at once (no two invocations can share one); then it opens
the gate, every invocation returns, and N environments sit idle. Then, per
environment (its cgroup under the node's parent cgroup, named after the
environment's id, one directory of ``<data>/environments/``): every process in
it, and per process ``/proc/PID/smaps_rollup``:

- USS (unique set size) = ``Private_Clean + Private_Dirty``: what destroying
  the environment would give back in process memory;
- PSS = ``Pss``: shared pages split among the processes sharing them; the
  sum over all environments is their fair share of the host's memory;
- the cgroup's own charge (``memory.usage_in_bytes``: process memory, tmpfs
  root, page cache of its ``/tmp`` disk, kernel memory) for comparison;
- and the host's ``MemAvailable`` before the first environment and with N
  idle ones (everything: kernel, page cache, the server's own growth).

Runs once with templates off (``LOAM_TEMPLATES=0``) and once on (``LOAM_TEMPLATES=1``).
Where it breaks: the first failed invocation's status and body, the busy
count it stalled at, and the tail of the server log are recorded.
Writes the ``density`` section of ``docs/performance.md`` (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.rawhttp import build_request
from benchmarks.report import machine_line, write_section
from tests.helpers import (
    Server,
    client,
    create_function,
    environment_ids,
    node_cgroup,
    running_server,
    template_ids,
)

N_DEFAULT = 100
WAVE = 25
WAVE_PATIENCE_S = 60.0  # no new busy environment for this long: the node is stuck
MEMORY_MB = 128
USS_TARGET_MIB = 5.0
GATE = "release"
HANDLER = (
    "import os, time\n\n"
    "def handler(event, context):\n"
    f"    while not os.path.exists('/var/task/{GATE}'):\n"
    "        time.sleep(1)\n"
    "    return 'released'\n"
)
MIB = 1024 * 1024


@dataclass
class ProcessMemory:
    name: str
    rss: int
    pss: int
    uss: int


@dataclass
class EnvironmentMemory:
    id: str
    processes: list[ProcessMemory]
    cgroup_bytes: int

    @property
    def uss(self) -> int:
        return sum(p.uss for p in self.processes)

    @property
    def pss(self) -> int:
        return sum(p.pss for p in self.processes)


@dataclass
class Run:
    templates: bool
    target: int
    memory_mb: int = MEMORY_MB
    reached: int = 0              # most busy environments seen at once
    ok: int = 0
    failed: int = 0
    first_failure: str = ""
    ramp_seconds: float = 0.0
    release_seconds: float = 0.0
    environments: list[EnvironmentMemory] = field(default_factory=list)
    templates_memory: list[EnvironmentMemory] = field(default_factory=list)
    mem_available_drop: int = 0
    server: dict[str, int] = field(default_factory=dict)
    loop_devices: int = 0
    stalled: str = ""
    log_tail: str = ""
    waves: list[float] = field(default_factory=list)  # seconds per wave of WAVE starts


# -- measuring ----------------------------------------------------------------

def process_memory(pid: int) -> ProcessMemory | None:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        name = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    if name.startswith("python"):
        # pid 1 of the environment's pid namespace is its reaper; the other python the runtime.
        name = "python, pid 1 (reaper)" if _namespace_pid(pid) == 1 else "python (runtime)"
    fields: dict[str, int] = {}
    for line in rollup.splitlines()[1:]:
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            fields[key.strip()] = int(parts[0]) * 1024
    return ProcessMemory(name, fields.get("Rss", 0), fields.get("Pss", 0),
                         fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0))


def _namespace_pid(pid: int) -> int:
    """The process's pid in its own (innermost) pid namespace."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    return pid


def environment_memory(parent: Path, env_id: str) -> EnvironmentMemory:
    d = parent / env_id
    try:
        pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
    except OSError:
        pids = []
    charge = d / "memory.usage_in_bytes"
    if not charge.exists():
        charge = d / "memory.current"
    try:
        cgroup_bytes = int(charge.read_text())
    except (OSError, ValueError):
        cgroup_bytes = 0
    procs = [m for m in map(process_memory, pids) if m is not None]
    return EnvironmentMemory(env_id, procs, cgroup_bytes)


def measure_environments(data_dir: Path) -> tuple[list[EnvironmentMemory],
                                                  list[EnvironmentMemory]]:
    parent = node_cgroup(data_dir)
    made = template_ids(data_dir)
    every = environment_ids(data_dir, templates=True)
    envs = [i for i in every if i not in made]
    templates = [i for i in every if i in made]
    return ([environment_memory(parent, e) for e in envs],
            [environment_memory(parent, t) for t in templates])


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def server_resources(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    values = {k: v.split()[0] for k, _, v in
              (line.partition(":") for line in status.splitlines()) if v.split()}
    return {"rss": int(values["VmRSS"]) * 1024, "threads": int(values["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def loop_devices_in_use() -> int:
    return sum(1 for p in Path("/sys/block").glob("loop*")
               if (p / "loop" / "backing_file").exists())


_SLEEPING = ("230", "35")  # clock_nanosleep, nanosleep (x86_64): in the handler's sleep


def in_handler(data_dir: Path, seen: set[str]) -> int:
    """Environments whose runtime is inside the handler (sleeping in ``time.sleep``).

    The node's busy count includes environments still starting; this does not.
    ``seen`` remembers the environments found there (they stay until the gate
    opens), so each poll reads only the newer ones' ``/proc`` files.
    """
    parent = node_cgroup(data_dir)
    for env_id in environment_ids(data_dir):
        if env_id in seen:
            continue
        try:
            pids = (parent / env_id / "cgroup.procs").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                call = Path(f"/proc/{pid}/syscall").read_text().split(" ", 1)[0]
            except OSError:
                continue
            if call in _SLEEPING:
                seen.add(env_id)
                break
    return len(seen)


def health(server: Server) -> dict[str, int]:
    with urllib.request.urlopen(server.url + "/_loam/health", timeout=30) as r:
        doc: dict[str, int] = json.load(r)["environments"]
    return doc


# -- driving ------------------------------------------------------------------

async def _invoke(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == b"content-length":
                length = int(value)
        body = await reader.readexactly(length)
        status = int(head.split(b" ", 2)[1])
        if b"x-amz-function-error" in head.lower():
            status = -status
        return status, body
    finally:
        writer.close()


async def _ramp(server: Server, run: Run, request: bytes,
                calls: list[asyncio.Task[tuple[int, bytes]]]) -> None:
    """Open invocations a wave at a time until ``run.target`` are busy (or it stalls)."""
    started = time.monotonic()
    try:
        await _waves(server, run, request, calls)
    finally:
        run.ramp_seconds = time.monotonic() - started


async def _waves(server: Server, run: Run, request: bytes,
                 calls: list[asyncio.Task[tuple[int, bytes]]]) -> None:
    started = time.monotonic()
    seen: set[str] = set()
    while len(calls) < run.target:
        wave_started = time.monotonic()
        wave = min(WAVE, run.target - len(calls))
        calls += [asyncio.create_task(_invoke(server.port, request)) for _ in range(wave)]
        progress_at, best = time.monotonic(), -1
        while True:
            busy = await asyncio.to_thread(in_handler, server.data_dir, seen)
            run.reached = max(run.reached, busy)
            if busy >= len(calls):
                break
            if busy > best:
                best, progress_at = busy, time.monotonic()
            done = [c for c in calls if c.done()]
            if done:
                status, body = done[0].result() if not done[0].exception() else (0, b"")
                run.stalled = (f"an invocation returned while holding (status {status}: "
                               f"{body[:300]!r}) at {busy} busy")
                return
            if time.monotonic() - progress_at > WAVE_PATIENCE_S:
                run.stalled = f"no new environment for {WAVE_PATIENCE_S:g} s at {busy} busy"
                return
            await asyncio.sleep(0.5)
        run.waves.append(time.monotonic() - wave_started)
        print(f"  {len(calls)} busy after {time.monotonic() - started:.1f} s", flush=True)


async def _drive(server: Server, run: Run, path: str, gate: Path) -> None:
    request = build_request("POST", path, b"{}")
    calls: list[asyncio.Task[tuple[int, bytes]]] = []
    try:
        await _ramp(server, run, request, calls)
    finally:
        released = time.monotonic()
        gate.touch()
        results = await asyncio.gather(*calls, return_exceptions=True)
        run.release_seconds = time.monotonic() - released
    for result in results:
        if isinstance(result, BaseException):
            run.failed += 1
            run.first_failure = run.first_failure or repr(result)
        elif result[0] == 200:
            run.ok += 1
        else:
            run.failed += 1
            run.first_failure = run.first_failure or f"{result[0]}: {result[1][:300]!r}"


def one_run(n: int, templates: bool, tmp: Path, memory_mb: int = MEMORY_MB) -> Run:
    run = Run(templates, n, memory_mb)
    data = tmp / ("templates" if templates else "fresh")
    env = {"LOAM_TEMPLATES": "1" if templates else "0",
           "LOAM_ACCOUNT_CONCURRENCY": str(n + 100),
           "LOAM_MAX_IDLE_ENVIRONMENTS": str(n + 100),
           "LOAM_KEEP_ALIVE_SECONDS": "3600"}
    before = mem_available()
    with running_server(data, extra_env=env) as server:
        lam = client(server)
        name = f"density-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER + f"# {name}\n"},
                        MemorySize=memory_mb, Timeout=900)
        digest = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
        gate = _code_dir(data, digest) / GATE
        asyncio.run(_drive(server, run, f"/2015-03-31/functions/{name}/invocations", gate))
        deadline = time.monotonic() + 60
        while health(server)["busy"] and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)  # let the last returns settle
        run.environments, run.templates_memory = measure_environments(data)
        run.mem_available_drop = before - mem_available()
        run.server = server_resources(server.process.pid)
        run.loop_devices = loop_devices_in_use()
        run.log_tail = "\n".join(line for line in server.log().splitlines()
                                 if " WARNING " in line or " ERROR " in line)[-3000:]
    return run


def _code_dir(data: Path, digest_b64: str) -> Path:
    """The unpacked package: ``<data>/code/<sha256 hex>``."""
    import base64

    return data / "code" / base64.b64decode(digest_b64).hex()


# -- reporting ----------------------------------------------------------------

def _mib(value: float) -> str:
    return f"{value / MIB:.2f}"


def _mmm(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(_mib(v) for v in (min(values), statistics.median(values), max(values)))


def _waves_text(waves: list[float]) -> str:
    if not waves:
        return "–"
    first, last = waves[:4], waves[-4:]
    return (f"{statistics.median(first):.1f} s (median of the first {len(first)} waves), "
            f"{statistics.median(last):.1f} s (the last {len(last)})")


def render(runs: list[Run]) -> str:
    lines = [
        "## Density: idle warm environments of one function",
        "",
        f"Measured by `make bench` (`benchmarks/density.py`) on {machine_line()}. "
        f"One Python function; invocations opened {WAVE} at a time (each "
        "holds until a gate file appears), so N environments exist at once; then all "
        "return and N environments sit idle. Per environment (its cgroup), every process's "
        "`/proc/PID/smaps_rollup`: USS = Private_Clean + Private_Dirty, PSS = Pss. "
        f"Target (issue 3): 1,000 idle environments, USS ≤ {USS_TARGET_MIB:g} MiB each.",
        "",
        "| templates | MemorySize MB | N asked | idle envs measured | invocations ok / failed "
        "| ramp s | USS per env MiB (min / median / max) | PSS per env MiB (median) "
        "| total PSS MiB | cgroup charge per env MiB (median) "
        "| host MemAvailable drop MiB (per env) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        envs = run.environments
        uss = [float(e.uss) for e in envs]
        pss = [float(e.pss) for e in envs]
        total_pss = sum(pss) + sum(t.pss for t in run.templates_memory)
        per_env = run.mem_available_drop / len(envs) if envs else 0
        lines.append(
            f"| {'on' if run.templates else 'off'} | {run.memory_mb} | {run.target} | "
            f"{len(envs)} | "
            f"{run.ok} / {run.failed} | {run.ramp_seconds:.1f} | {_mmm(uss)} | "
            f"{_mib(statistics.median(pss)) if pss else '–'} | {_mib(total_pss)} | "
            f"{_mib(statistics.median([e.cgroup_bytes for e in envs])) if envs else '–'} | "
            f"{_mib(run.mem_available_drop)} ({_mib(per_env)}) |")
    lines += ["", "Per process, medians over the environments of each run (MiB):", "",
              "| templates | MemorySize MB | N | process | RSS | PSS | USS |",
              "| --- | ---: | ---: | --- | ---: | ---: | ---: |"]
    for run in runs:
        by_name: dict[str, list[ProcessMemory]] = {}
        for e in run.environments:
            for p in e.processes:
                by_name.setdefault(p.name, []).append(p)
        for name, procs in sorted(by_name.items()):
            lines.append(
                f"| {'on' if run.templates else 'off'} | {run.memory_mb} | {run.target} | {name} "
                f"(×{len(procs)}) | {_mib(statistics.median([p.rss for p in procs]))} | "
                f"{_mib(statistics.median([p.pss for p in procs]))} | "
                f"{_mib(statistics.median([p.uss for p in procs]))} |")
        for t in run.templates_memory:
            lines.append(f"| on | {run.memory_mb} | {run.target} | "
                         f"the template ({len(t.processes)} processes; "
                         f"its cgroup is charged {_mib(t.cgroup_bytes)} MiB) | "
                         f"{_mib(sum(p.rss for p in t.processes))} | {_mib(t.pss)} | "
                         f"{_mib(t.uss)} |")
    lines += ["", "The server with N idle environments, and where it stopped:", ""]
    for run in runs:
        s = run.server
        lines.append(
            f"- templates {'on' if run.templates else 'off'}, {run.memory_mb} MB, "
            f"N = {run.target}: server RSS "
            f"{_mib(s.get('rss', 0))} MiB, {s.get('threads', 0)} threads, {s.get('fds', 0)} "
            f"open descriptors; {run.loop_devices} loop devices attached on the machine; "
            f"most busy at once {run.reached}; a wave of {WAVE} starts took "
            f"{_waves_text(run.waves)}"
            + (f"; **stopped**: {run.stalled}" if run.stalled else "")
            + (f"; first failure: `{run.first_failure[:200]}`" if run.first_failure else "")
            + ".")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("-n", type=int, nargs="+", default=[N_DEFAULT],
                        help="environments to hold (several: one run each)")
    parser.add_argument("--templates", choices=["off", "on", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also save the raw results here")
    parser.add_argument("--memory", type=int, nargs="+", default=[MEMORY_MB],
                        help="the function's MemorySize (several: a templates run at each; "
                             "fresh environments at the first only)")
    args = parser.parse_args()
    import tempfile

    modes = {"off": [False], "on": [True], "both": [False, True]}[args.templates]
    runs: list[Run] = []
    for n in args.n:
        for i, memory in enumerate(args.memory):
            # Fresh environments barely depend on MemorySize: only the first size for them.
            for templates in modes if i == 0 else [m for m in modes if m]:
                print(f"density: N = {n}, {memory} MB, templates "
                      f"{'on' if templates else 'off'}", flush=True)
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(one_run(n, templates, Path(tmp), memory))
                if runs[-1].log_tail:
                    print(runs[-1].log_tail[-1500:])
                if args.json:
                    args.json.write_text(json.dumps([_summary(r) for r in runs], indent=1))
    markdown = render(runs)
    print(markdown)
    if args.json:
        args.json.write_text(json.dumps([_summary(r) for r in runs], indent=1))
    if not args.no_write:
        write_section("density", markdown)


def _summary(run: Run) -> dict[str, Any]:
    return {"templates": run.templates, "n": run.target, "memory_mb": run.memory_mb,
            "ok": run.ok, "failed": run.failed,
            "reached": run.reached, "ramp_s": run.ramp_seconds, "stalled": run.stalled,
            "first_failure": run.first_failure, "server": run.server,
            "uss": [e.uss for e in run.environments], "pss": [e.pss for e in run.environments],
            "cgroup": [e.cgroup_bytes for e in run.environments],
            "mem_available_drop": run.mem_available_drop, "loop_devices": run.loop_devices,
            "log_tail": run.log_tail,
            "waves": run.waves,
            "template_cgroup": [t.cgroup_bytes for t in run.templates_memory],
            "template_pss": [t.pss for t in run.templates_memory]}


if __name__ == "__main__":
    main()
