"""Environments forked from per-version templates (the default; ``LOAM_TEMPLATES=0``
turns them off):
isolated from each other like fresh ones, with Init's state, their own
randomness, after-restore hooks, Restore Duration instead of Init Duration,
a crashed template replaced; and everything still working with templates off."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from loam.sandbox.template import MAX_SPARES
from loam.sandbox.tmpdisks import DEPTH as TMP_DISK_DEPTH
from tests.helpers import Server, client, processes, start_server
from tests.integration.sandbox_support import Invocation, deploy, invoke

pytestmark = pytest.mark.sandbox

CODE = """
import json
import os
import random
import time
import uuid

import snapshot_restore_py

INIT_VALUE = uuid.uuid4().hex
INIT_PID = os.getpid()
RESTORES = []
BEFORE = []
time.sleep(float(os.environ.get("INIT_SLEEP", "0")))


@snapshot_restore_py.register_before_snapshot
def before():
    BEFORE.append(1)


@snapshot_restore_py.register_after_restore
def after():
    RESTORES.append(time.time())


def handler(event, context):
    action = event.get("action")
    time.sleep(event.get("sleep", 0))
    if action == "write":
        with open("/tmp/mine", "w") as fh:
            fh.write(context.aws_request_id)
    if action == "allocate":
        hog = []
        while True:
            hog.append(bytearray(8 << 20))
    if action == "fill":
        import errno
        fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT)
        written = 0
        try:
            while True:
                written += os.write(fd, b"x" * (1 << 20))
        except OSError as exc:
            return {"errno": exc.errno, "written_mb": written >> 20,
                    "enospc": exc.errno == errno.ENOSPC}
        finally:
            os.close(fd)
    return {
        "init_value": INIT_VALUE,
        "init_pid": INIT_PID,
        "pid": os.getpid(),
        "uid": os.getuid(),
        "random": random.random(),
        "uuid": uuid.uuid4().hex,
        "tmp": sorted(os.listdir("/tmp")),
        "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "restores": len(RESTORES),
        "before": len(BEFORE),
        "init_type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "stream": context.log_stream_name,
        "caps": [line.split()[1] for line in open("/proc/self/status")
                 if line.startswith(("CapEff", "CapPrm", "CapAmb"))],
    }
"""


@pytest.fixture(scope="module")
def templated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("templates")) / "data",
                       extra_env={"LOAM_TEMPLATES": "1"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def untemplated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("no-templates")) / "data",
                       extra_env={"LOAM_TEMPLATES": "0"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def tlam(templated: Server) -> Any:
    return client(templated)


def _concurrently(lam: Any, name: str, events: list[dict[str, Any]]) -> list[Invocation]:
    with ThreadPoolExecutor(len(events)) as pool:
        return list(pool.map(lambda e: invoke(lam, name, e), events))


def _restore_ms(inv: Invocation) -> float | None:
    for part in inv.log.splitlines()[-1].split("\t"):
        if part.startswith("Restore Duration: "):
            return float(part.split()[2])
    return None


def _has_init(inv: Invocation) -> bool:
    return "\tInit Duration: " in inv.log


def _wait_until_forkable(function_name: str, timeout: float = 20) -> None:
    """Until the version's template has run Init and forked (its spare, at least)."""
    deadline = time.monotonic() + timeout
    while not _forked_pids(function_name):
        assert time.monotonic() < deadline, f"{function_name}: no template forked"
        time.sleep(0.05)


def _forked(lam: Any, name: str, events: list[dict[str, Any]]) -> list[Invocation]:
    """``events`` at once, each in a new environment forked from the version's template.

    The version's first environment (its template's first fork) is kept busy
    meanwhile, so none of ``events`` runs in it.
    """
    first = invoke(lam, name, {}).ok()
    assert first["init_type"] == "snap-start"
    _wait_until_forkable(name)
    hold_s = 2 + max(float(e.get("sleep", 0)) for e in events)
    with ThreadPoolExecutor(len(events) + 1) as pool:
        hold = pool.submit(invoke, lam, name, {"sleep": hold_s})
        time.sleep(0.3)
        runs = list(pool.map(lambda e: invoke(lam, name, e), events))
        assert hold.result().ok()["stream"] == first["stream"]
    return runs


def test_first_environment_is_forked_and_reports_the_one_init(tlam: Any) -> None:
    name = deploy(tlam, "tpl-first", CODE, Timeout=30)
    first = invoke(tlam, name, {"action": "write"})
    body = first.ok()
    # The version's Init runs once, in its template; its first environment is the
    # template's first fork and reports that Init.
    assert body["init_type"] == "snap-start" and body["restores"] == 1
    assert _has_init(first) and _restore_ms(first) is None
    assert body["tmp"] == ["mine"] and body["procs"] == [1, 2]
    assert len(_template_pids(name)) == 1
    # Later environments are forked from the same template: the same Init's state,
    # each its own /tmp, Restore Duration instead of Init Duration.
    forked = _forked(tlam, name, [{"sleep": 1}] * 2)
    bodies = [r.ok() for r in forked]
    assert all(b["init_type"] == "snap-start" and b["restores"] == 1 for b in bodies)
    assert all(not _has_init(r) and _restore_ms(r) is not None for r in forked)
    assert {b["init_value"] for b in bodies} == {body["init_value"]}
    assert all(b["tmp"] == [] for b in bodies)
    assert len({b["stream"] for b in [body, *bodies]}) == 3


def test_concurrent_first_invocations_fork_from_one_template(tlam: Any) -> None:
    name = deploy(tlam, "tpl-first-burst", CODE, Timeout=30)
    runs = _concurrently(tlam, name, [{"action": "write", "sleep": 1}] * 4)
    bodies = [r.ok() for r in runs]
    assert len({b["stream"] for b in bodies}) == 4
    # All four waited for the one template and forked from it: one Init, reported
    # once (by whichever environment came first), three restores.
    assert all(b["init_type"] == "snap-start" for b in bodies)
    assert sum(_has_init(r) for r in runs) == 1
    assert sum(_restore_ms(r) is not None for r in runs) == 3
    assert len(_template_pids(name)) == 1
    assert len({b["init_value"] for b in bodies}) == 1
    assert all(b["restores"] == 1 and b["tmp"] == ["mine"] for b in bodies)


def test_a_new_template_prepares_spares_for_the_first_burst(tlam: Any) -> None:
    name = deploy(tlam, "tpl-spares", CODE, Timeout=30)
    # Right after its first fork, a new template prepares MAX_SPARES more: the
    # version's first burst finds them ready, and each burst's environments are
    # replaced by new spares, never more than MAX_SPARES of them.
    invoke(tlam, name, {}).ok()
    deadline = time.monotonic() + 20
    while _forked_runtimes(name) < 1 + MAX_SPARES:
        assert time.monotonic() < deadline, f"spares: {_forked_runtimes(name) - 1}"
        time.sleep(0.05)
    runs = _forked(tlam, name, [{"sleep": 2}] * 3)
    assert all(r.ok()["init_type"] == "snap-start" for r in runs)
    assert all(_restore_ms(r) is not None for r in runs)
    deadline = time.monotonic() + 20
    while _forked_runtimes(name) < 1 + 3 + MAX_SPARES:
        assert time.monotonic() < deadline, f"spares: {_forked_runtimes(name) - 4}"
        time.sleep(0.05)
    time.sleep(0.5)
    assert _forked_runtimes(name) <= 1 + 3 + MAX_SPARES


def test_forked_environments_are_isolated_and_keep_init_state(tlam: Any) -> None:
    name = deploy(tlam, "tpl-iso", CODE, Timeout=30)
    runs = _forked(tlam, name, [{"action": "write", "sleep": 1}] * 3)
    bodies = [r.ok() for r in runs]
    # Three environments, each its own.
    assert len({b["stream"] for b in bodies}) == 3
    # Init ran once for them all: its module-level values are in every environment.
    assert len({b["init_value"] for b in bodies}) == 1
    for body in bodies:
        assert body["tmp"] == ["mine"]  # its own /tmp, and only its own file
        assert body["procs"] == [1, 2]  # only its own processes
        assert body["pid"] == 2
        assert body["uid"] >= 20000
        assert body["caps"] == ["0000000000000000"] * 3
    # Randomness differs across environments.
    assert len({b["random"] for b in bodies}) == 3
    assert len({b["uuid"] for b in bodies}) == 3
    # Every environment came from the template: after-restore hooks ran once in
    # each, before-snapshot hooks once in the template.
    assert all(b["restores"] == 1 for b in bodies)
    assert all(b["before"] == 1 for b in bodies)
    assert all(b["init_type"] == "snap-start" for b in bodies)
    # A warm invocation runs no hook again.
    assert invoke(tlam, name, {}).ok()["restores"] in (0, 1)


def test_second_environment_skips_init(tlam: Any) -> None:
    name = deploy(tlam, "tpl-fast", CODE, Timeout=30,
                  Environment={"Variables": {"INIT_SLEEP": "1"}})
    first = invoke(tlam, name, {"sleep": 0})
    assert _has_init(first) and _restore_ms(first) is None
    assert first.report.init_ms is not None and first.report.init_ms >= 1000
    _wait_until_forkable(name)
    # The warm environment is busy for 3 s; a second one is forked meanwhile.
    with ThreadPoolExecutor(2) as pool:
        busy = pool.submit(invoke, tlam, name, {"sleep": 3})
        time.sleep(0.5)
        started = time.monotonic()
        second = invoke(tlam, name, {"sleep": 0})
        elapsed = time.monotonic() - started
        busy.result().ok()
    second.ok()
    assert not _has_init(second)
    restore = _restore_ms(second)
    assert restore is not None and restore < 500, second.log
    assert elapsed < 0.9, f"took {elapsed:.2f} s: Init ran again?"


def test_forked_max_memory_used_counts_what_init_holds(tlam: Any) -> None:
    """A fork shares its template's Init pages: they count in its Max Memory Used, as
    in a fresh environment's (not only the few pages the fork copied)."""
    name = deploy(tlam, "tpl-memory", {
        "index.py": "BALLAST = bytearray(48 << 20)\n\n"
                    "def handler(event, context):\n"
                    "    __import__('time').sleep(event.get('sleep', 0))\n"
                    "    return {'init_type': __import__('os').environ["
                    "'AWS_LAMBDA_INITIALIZATION_TYPE'], 'stream': context.log_stream_name, "
                    "'restores': 0}\n"}, Timeout=30, MemorySize=256)
    first = invoke(tlam, name, {})
    first.ok()
    assert first.report.max_memory_mb >= 48
    [forked] = _forked(tlam, name, [{}])
    assert forked.ok()["init_type"] == "snap-start"
    assert _restore_ms(forked) is not None
    assert forked.report.max_memory_mb >= 48, forked.log
    assert forked.report.max_memory_mb <= first.report.max_memory_mb + 16, forked.log


def test_one_forked_environment_runs_out_of_memory_the_other_survives(tlam: Any) -> None:
    name = deploy(tlam, "tpl-oom", CODE, Timeout=30, MemorySize=128)
    runs = _forked(tlam, name, [{"action": "allocate"}, {"sleep": 2}])
    assert runs[0].function_error == "Unhandled"
    assert runs[0].payload["errorType"] == "Runtime.OutOfMemory"
    runs[1].ok()
    invoke(tlam, name, {}).ok()


def _children(pid: int) -> dict[int, str]:
    """The children of host process ``pid``, each with its state letter."""
    return {child: fields[0] for child, fields in processes() if int(fields[1]) == pid}


def test_each_environment_s_pid_1_is_the_template_s_child_and_is_collected(
        tlam: Any) -> None:
    """Two forks per environment (ADR 8): the template makes pid 1 itself, which forks
    the runtime; a pid 1 whose environment ended is collected, not left a zombie."""
    name = deploy(tlam, "tpl-tree", CODE, Timeout=30, MemorySize=128)
    runs = _forked(tlam, name, [{"action": "allocate"}, {"sleep": 2}])
    assert runs[0].payload["errorType"] == "Runtime.OutOfMemory"
    runs[1].ok()
    [template] = _template_pids(name)
    forked = _bootstraps(name, 3)  # every environment's pid 1 and runtime, host pids
    inits = {pid for pid, ppid in forked.items() if ppid == template}
    runtimes = {pid for pid, ppid in forked.items() if ppid in inits}
    assert inits and len(runtimes) == len(inits) == len(forked) // 2, forked
    deadline = time.monotonic() + 5
    while "Z" in _children(template).values() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "Z" not in _children(template).values(), _children(template)


def test_forked_tmp_is_a_sized_disk(tlam: Any, templated: Server) -> None:
    name = deploy(tlam, "tpl-disk", CODE, Timeout=60, MemorySize=1769,
                  EphemeralStorage={"Size": 512})
    runs = _forked(tlam, name, [{"action": "fill", "sleep": 0.5}, {"sleep": 1}])
    body = runs[0].ok()
    assert body["enospc"], body
    assert 512 <= body["written_mb"] < 560
    # A fork leaves nothing on the host's disk: no work directory, and its image
    # (a ready one claimed where it lay) went with the mount, to its loop device.
    data = templated.data_dir
    stream = runs[1].ok()["stream"]  # (the filling one answers with what it wrote)
    assert stream.rsplit("]", 1)[1] not in {p.name for p in (data / "environments").iterdir()}
    images = [p.name for p in (data / "tmp-disks").iterdir()]
    assert all(n.startswith(("golden-", "ready-")) for n in images), images
    assert len([n for n in images if n.startswith("ready-")]) <= TMP_DISK_DEPTH, images


def _bootstraps(function_name: str, depth: int) -> dict[int, int]:
    """Host pid → parent pid of the function's bootstraps with a control descriptor
    (a template's command line, which its forks share), ``depth`` pid namespaces deep."""
    pids: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if (b"/var/runtime/bootstrap.py" in argv and len([a for a in argv if a]) == 6
                and f"AWS_LAMBDA_FUNCTION_NAME={function_name}".encode() in environ
                and _pid_depth(status) == depth):
            ppid = next(int(line.split()[1]) for line in status.splitlines()
                        if line.startswith("PPid:"))
            pids[int(entry)] = ppid
    return pids


def _template_pids(function_name: str) -> list[int]:
    """Host pids of the template runtimes of ``function_name``.

    Two pid namespaces deep (the environments forked from it are one namespace
    deeper; a spare fork waiting to be needed is its child, in its namespace).
    """
    pids = _bootstraps(function_name, 2)
    return [pid for pid, ppid in pids.items() if ppid not in pids]


def _forked_pids(function_name: str) -> list[int]:
    """Host pids of processes forked from the function's templates, in environments."""
    return list(_bootstraps(function_name, 3))


def _forked_runtimes(function_name: str) -> int:
    """How many forked environments (spares included) the function's templates have:
    their runtimes, each the child of its environment's pid 1 (the reaper)."""
    pids = _bootstraps(function_name, 3)
    return sum(1 for ppid in pids.values() if ppid in pids)


def test_crashed_template_is_replaced(tlam: Any) -> None:
    name = deploy(tlam, "tpl-crash", CODE, Timeout=30)
    forked = _forked(tlam, name, [{}])[0].ok()
    pids = _template_pids(name)
    assert len(pids) == 1, pids
    # Killing the template kills its pid namespace: every environment of the version.
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _forked_pids(name) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    with ThreadPoolExecutor(3) as pool:
        hold = pool.submit(invoke, tlam, name, {"sleep": 3})
        time.sleep(0.3)
        runs = list(pool.map(lambda e: invoke(tlam, name, e), [{"sleep": 1}] * 2))
        held = hold.result()
    # The next invocations fork from a new template (its Init reported once).
    bodies = [r.ok() for r in [held, *runs]]
    assert all(b["init_type"] == "snap-start" for b in bodies)
    assert all(b["init_value"] != forked["init_value"] for b in bodies)
    assert len({b["init_value"] for b in bodies}) == 1
    assert sum(_has_init(r) for r in [held, *runs]) == 1
    new = _template_pids(name)
    assert len(new) == 1 and new != pids


def test_update_retires_the_template(tlam: Any) -> None:
    name = deploy(tlam, "tpl-retire", CODE, Timeout=30)
    invoke(tlam, name, {}).ok()
    _wait_until_forkable(name)
    old = _template_pids(name)
    assert len(old) == 1
    tlam.update_function_configuration(FunctionName=name,
                                       Environment={"Variables": {"ROUND": "2"}})
    tlam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    changed = invoke(tlam, name, {})
    assert _has_init(changed)  # the new configuration's first environment: a new Init
    assert changed.ok()["init_type"] == "snap-start"
    deadline = time.monotonic() + 10
    while _template_pids(name) in ([], old) and time.monotonic() < deadline:
        time.sleep(0.2)
    new = _template_pids(name)
    assert len(new) == 1 and new != old


def test_init_writing_tmp_falls_back_to_fresh_environments(tlam: Any) -> None:
    name = deploy(tlam, "tpl-dirty", """
        import os
        import time
        open("/tmp/from-init", "w").close()

        def handler(event, context):
            time.sleep(event.get("sleep", 0))
            return {"tmp": os.listdir("/tmp"),
                    "init_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
    """)
    # Its template found Init's file: it is dropped, and the version's environments
    # are fresh (the first one running Init a second time).
    first = invoke(tlam, name, {})
    assert first.ok() == {"tmp": ["from-init"], "init_type": "on-demand"}
    assert _has_init(first)
    runs = _concurrently(tlam, name, [{"sleep": 1}] * 2)
    assert all(r.ok() == {"tmp": ["from-init"], "init_type": "on-demand"} for r in runs)
    assert sum(_has_init(r) for r in runs) == 1
    assert _template_pids(name) == []


def test_init_error_falls_back_to_fresh_environments(tlam: Any) -> None:
    name = deploy(tlam, "tpl-broken", """
        raise ValueError("broken at Init")

        def handler(event, context):
            return 1
    """)
    inv = invoke(tlam, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "ValueError"
    assert _has_init(inv)


def test_a_function_can_opt_out(tlam: Any) -> None:
    name = deploy(tlam, "tpl-opt-out", CODE, Timeout=30,
                  Environment={"Variables": {"LOAM_TEMPLATES": "0"}})
    bodies = [r.ok() for r in _concurrently(tlam, name, [{"sleep": 1}] * 2)]
    assert len({b["init_value"] for b in bodies}) == 2  # Init in each environment
    assert all(b["restores"] == 0 and b["init_type"] == "on-demand" for b in bodies)
    assert _template_pids(name) == []


def test_templates_off(untemplated: Server) -> None:
    lam = client(untemplated)
    name = deploy(lam, "tpl-off", CODE, Timeout=30)
    bodies = [r.ok() for r in _concurrently(lam, name, [{"sleep": 1}] * 2)]
    assert len({b["init_value"] for b in bodies}) == 2
    assert all(b["restores"] == 0 and b["init_type"] == "on-demand" for b in bodies)
    assert _template_pids(name) == []


def _pid_depth(status: str) -> int:
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return len(line.split()) - 1
    return 0
