"""Execution environments over time: warm reuse, concurrency, the failures that
end an environment (timeout, out of memory, crash), keep-alive expiry and
configuration changes — each followed by a working invocation."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    CGROUP_ROOT,
    Server,
    client,
    environment_ids,
    node_cgroup_name,
    start_server,
)
from tests.integration.sandbox_support import deploy, invoke

pytestmark = pytest.mark.sandbox

# One handler for every lifecycle scenario: the event says what to do; the
# module-level state shows whether the environment is fresh.
LIFECYCLE_CODE = """
import os
import time
import uuid

# Named at the first invocation, not in Init: environments forked from a
# template share their Init's module state.
ENVIRONMENT = None
count = 0

def handler(event, context):
    global count, ENVIRONMENT
    if ENVIRONMENT is None:
        ENVIRONMENT = uuid.uuid4().hex
    count += 1
    action = event.get("action")
    started = time.time()
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "allocate":
        hog = []
        for _ in range(event["mb"] // 8):
            hog.append(b"x" * (8 << 20))
    elif action == "exit":
        os._exit(event["status"])
    elif action == "stray":
        import subprocess
        subprocess.Popen(["sleep", "287.25"])
        time.sleep(event["seconds"])
    return {
        "count": count,
        "environment": ENVIRONMENT,
        "stream": context.log_stream_name,
        "greeting": os.environ.get("GREETING"),
        "started": started,
        "ended": time.time(),
    }
"""


@pytest.fixture(scope="module")
def lifecycle_fn(lam: Any) -> str:
    return deploy(lam, "life", LIFECYCLE_CODE, Timeout=1)


def _environments(server: Server) -> list[str]:
    """The node's live environments (templates aside): their cgroups."""
    return environment_ids(server.data_dir)


def test_warm_environment_is_reused(lam: Any) -> None:
    name = deploy(lam, "warm", LIFECYCLE_CODE)
    results = [invoke(lam, name, {}) for _ in range(3)]
    bodies = [r.ok() for r in results]
    assert [b["count"] for b in bodies] == [1, 2, 3]
    assert len({b["environment"] for b in bodies}) == 1
    assert len({b["stream"] for b in bodies}) == 1
    assert results[0].report.cold
    assert not results[1].report.cold and not results[2].report.cold


def test_concurrent_invocations_get_separate_environments(lam: Any, server: Server) -> None:
    name = deploy(lam, "concurrent", LIFECYCLE_CODE, Timeout=20)

    def call(_: int) -> dict[str, Any]:
        result = invoke(client(server), name, {"action": "sleep", "seconds": 1})
        body: dict[str, Any] = result.ok()
        assert result.report.cold
        return body

    with ThreadPoolExecutor(3) as pool:
        bodies = list(pool.map(call, range(3)))
    assert len({b["environment"] for b in bodies}) == 3
    assert len({b["stream"] for b in bodies}) == 3
    assert all(b["count"] == 1 for b in bodies)
    # They really ran at the same time.
    assert max(b["started"] for b in bodies) < min(b["ended"] for b in bodies)
    # Afterwards the three environments are warm and reused.
    again = invoke(lam, name, {})
    assert again.ok()["environment"] in {b["environment"] for b in bodies}
    assert not again.report.cold


def test_timeout_ends_the_environment(lam: Any, lifecycle_fn: str) -> None:
    invoke(lam, lifecycle_fn, {}).ok()
    started = time.monotonic()
    result = invoke(lam, lifecycle_fn, {"action": "sleep", "seconds": 30})
    elapsed = time.monotonic() - started
    assert elapsed < 6, elapsed
    assert result.function_error == "Unhandled"
    doc = result.payload
    rid = result.report.request_id
    assert doc == {"errorType": "Sandbox.Timedout",
                   "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    assert f" {rid} Task timed out after 1.00 seconds\n" in result.log
    report = result.report
    assert report.status == "timeout"
    assert 1000 <= report.duration_ms < 3000
    assert report.billed_ms == 1000
    after = invoke(lam, lifecycle_fn, {})
    assert after.ok()["count"] == 1
    assert after.report.cold


def test_timeout_kills_stray_processes(lam: Any, server: Server) -> None:
    name = deploy(lam, "stray", LIFECYCLE_CODE, Timeout=1)
    result = invoke(lam, name, {"action": "stray", "seconds": 30})
    assert result.payload["errorType"] == "Sandbox.Timedout"
    # The environment, its processes and its scratch space are all gone.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _stray_sleepers():
        time.sleep(0.2)
    assert not _stray_sleepers()
    assert invoke(lam, name, {}).ok()["count"] == 1


def _stray_sleepers() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes() == b"sleep\x00287.25\x00":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_out_of_memory(lam: Any) -> None:
    name = deploy(lam, "oom", LIFECYCLE_CODE, MemorySize=128, Timeout=20)
    result = invoke(lam, name, {"action": "allocate", "mb": 400})
    assert result.function_error == "Unhandled"
    doc = result.payload
    rid = result.report.request_id
    assert doc == {"errorType": "Runtime.OutOfMemory",
                   "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: "
                                   "signal: killed"}
    report = result.report
    assert report.status == "error"
    assert report.error_type == "Runtime.OutOfMemory"
    assert report.max_memory_mb >= 120
    assert "Runtime.OutOfMemory" in result.log
    after = invoke(lam, name, {})
    assert after.ok()["count"] == 1
    assert after.report.cold


def test_runtime_exit(lam: Any) -> None:
    name = deploy(lam, "exit", LIFECYCLE_CODE, Timeout=10)
    invoke(lam, name, {}).ok()
    result = invoke(lam, name, {"action": "exit", "status": 3})
    assert result.function_error == "Unhandled"
    rid = result.report.request_id
    message = f"RequestId: {rid} Error: Runtime exited with error: exit status 3"
    assert result.payload == {"errorType": "Runtime.ExitError", "errorMessage": message}
    assert f"{message}\nRuntime.ExitError\n" in result.log
    assert result.report.status == "error"
    assert result.report.error_type == "Runtime.ExitError"
    after = invoke(lam, name, {})
    assert after.ok()["count"] == 1
    assert after.report.cold


def test_segfault_is_reported_with_the_signal(lam: Any) -> None:
    name = deploy(lam, "segv", """
        import ctypes

        def handler(event, context):
            ctypes.string_at(0)
    """)
    result = invoke(lam, name, {})
    rid = result.report.request_id
    assert result.payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: "
                        "signal: segmentation fault",
    }


def test_update_configuration_starts_a_new_environment(lam: Any) -> None:
    name = deploy(lam, "update", LIFECYCLE_CODE, Environment={"Variables": {"GREETING": "hi"}})
    first = invoke(lam, name, {}).ok()
    assert first["greeting"] == "hi"
    assert invoke(lam, name, {}).ok()["count"] == 2
    lam.update_function_configuration(FunctionName=name,
                                      Environment={"Variables": {"GREETING": "bye"}})
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    result = invoke(lam, name, {})
    body = result.ok()
    assert body["greeting"] == "bye"
    assert body["count"] == 1
    assert body["environment"] != first["environment"]
    assert result.report.cold


@pytest.fixture(scope="module")
def short_keep_alive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = Path(tmp_path_factory.mktemp("keepalive")) / "data"
    srv = start_server(data, extra_env={"LOAM_KEEP_ALIVE_SECONDS": "1"})
    yield srv
    srv.stop()


def test_idle_environments_expire_after_keep_alive(short_keep_alive: Server) -> None:
    lam = client(short_keep_alive)
    name = deploy(lam, "keepalive", LIFECYCLE_CODE)
    first = invoke(lam, name, {})
    assert first.ok()["count"] == 1 and first.report.cold
    # Its environment (and, with templates, a spare fork prepared for the next).
    assert _environments(short_keep_alive)
    # The reaper (every 5 s) destroys the environment once idle past 1 s.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and _environments(short_keep_alive):
        time.sleep(0.25)
    assert not _environments(short_keep_alive)
    after = invoke(lam, name, {})
    assert after.ok()["count"] == 1
    assert after.report.cold
    assert after.ok()["environment"] != first.ok()["environment"]


def _node_cgroups(data_dir: Path) -> list[Path]:
    """The node's parent cgroups, one per hierarchy."""
    return [p for p in CGROUP_ROOT.glob(f"*/{node_cgroup_name(data_dir)}") if p.is_dir()]


def _procs(cgroups: list[Path]) -> set[int]:
    pids: set[int] = set()
    for group in cgroups:
        for procs in group.glob("*/cgroup.procs"):
            try:
                pids.update(int(p) for p in procs.read_text().split())
            except OSError:
                continue
    return pids


def _wait_until(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


def test_server_shutdown_leaves_nothing_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        lam = client(srv)
        name = deploy(lam, "shutdown", LIFECYCLE_CODE)
        invoke(lam, name, {}).ok()
        assert _procs(_node_cgroups(data))  # a warm environment is running
    finally:
        srv.stop()
    assert not _node_cgroups(data)
    assert not _environments(srv)


def test_killed_server_takes_its_environments_along(tmp_path: Path) -> None:
    data = tmp_path / "data"
    srv = start_server(data)
    try:
        lam = client(srv)
        name = deploy(lam, "orphan", LIFECYCLE_CODE, Timeout=60)
        invoke(lam, name, {}).ok()
        cgroups = _node_cgroups(data)
        assert _procs(cgroups)
        # Kill the server while the runtime is busy (it would not notice on its own).
        busy = ThreadPoolExecutor(1)
        busy.submit(invoke, client(srv), name, {"action": "sleep", "seconds": 50})
        time.sleep(1)
        srv.stop(signal.SIGKILL)
        busy.shutdown(wait=True)
        # Every process of the environment dies with the server ...
        assert _wait_until(lambda: not _procs(cgroups), 10), _procs(cgroups)
    finally:
        srv.stop()
    # ... and the next start on the same data directory sweeps up the rest.
    again = start_server(data)
    try:
        assert not [p for group in _node_cgroups(data) for p in group.iterdir() if p.is_dir()]
        assert not _environments(again)
        assert invoke(client(again), name, {}).ok()["count"] == 1
    finally:
        again.stop()
    assert not _node_cgroups(data)
