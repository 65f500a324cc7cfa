"""One execution environment: a sandboxed runtime process serving one
invocation at a time.

Lifecycle (in this order, each at most once): ``start`` (create cgroup,
scratch disk, namespaces; run Init) → ``invoke``* → ``destroy(reason)``.
``destroy`` is safe to call twice; any failure of the environment destroys
it, and the next invocation gets a fresh one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import shutil
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from loam.runtimes.registry import RuntimeSpec, python_bootstrap_dir
from loam.sandbox.cgroups import EnvironmentCgroup
from loam.sandbox.channel import FrameChannel
from loam.sandbox.host import HostCapabilities

__all__ = ["EnvironmentSpec", "ExecutionEnvironment", "InvocationOutcome", "InvocationRequest"]

log = logging.getLogger("loam.sandbox")

INIT_TIMEOUT_S = 10.0
PIDS_MAX = 1024
NOFILE = 1024
_JAIL = Path(__file__).resolve().parent / "jail.py"
_uids = itertools.count()


@dataclass(frozen=True)
class EnvironmentSpec:
    """Everything needed to build an environment for one function version."""

    function_name: str
    version: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    code_dir: Path
    runtime: RuntimeSpec
    handler: str
    environment: dict[str, str]
    log_group: str
    region: str
    architecture: str = "x86_64"
    key: str = ""


@dataclass(frozen=True)
class InvocationRequest:
    request_id: str
    payload: bytes
    invoked_function_arn: str
    client_context: str | None = None
    trace_id: str = ""


@dataclass
class InvocationOutcome:
    """What happened; ``status`` is one of success, error, timeout, crash."""

    status: str
    payload: bytes
    error_type: str | None
    duration_ms: float
    max_memory_mb: int
    logs: list[str] = field(default_factory=list)
    init_ms: float | None = None


class ExecutionEnvironment:
    def __init__(self, spec: EnvironmentSpec, host: HostCapabilities, work_root: Path) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.host = host
        self.workdir = work_root / self.id
        self.log_stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{spec.version}]{self.id}"
        self.uid = 20000 + next(_uids) % 30000
        assert host.cgroups is not None
        self.cgroup = EnvironmentCgroup(host.cgroups, self.id)
        self.invocations = 0
        self.last_used = time.monotonic()
        self.destroyed: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._channel: FrameChannel | None = None
        self._logs: list[str] = []
        self._pipe_task: asyncio.Task[None] | None = None
        self._init_ms: float | None = None
        self._init_error: bytes | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Build the sandbox and run Init; raises ``EnvironmentFailed`` if it cannot start."""
        started = time.monotonic()
        self.workdir.mkdir(parents=True)
        (self.workdir / "root").mkdir()
        self.cgroup.create(self.spec.memory_mb, PIDS_MAX)
        tmp_image = await self._make_tmp_image()
        parent_sock, child_sock = socket.socketpair()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command(child_sock.fileno(), tmp_image),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),),
                start_new_session=True,
            )
        finally:
            child_sock.close()
        reader, writer = await asyncio.open_unix_connection(sock=parent_sock)
        self._channel = FrameChannel(reader, writer)
        assert self._proc.stdout is not None
        self._pipe_task = asyncio.create_task(self._drain_output(self._proc.stdout))
        try:
            header, body = await asyncio.wait_for(self._receive_init(), INIT_TIMEOUT_S)
        except (EOFError, TimeoutError) as exc:
            await self._drain_pipe()
            detail = "".join(self._logs).strip() or "the runtime exited during Init"
            await self.destroy("init-failed")
            raise EnvironmentFailed(f"environment did not start: {detail}") from exc
        self._init_ms = (time.monotonic() - started) * 1000
        self.cgroup.limit_cpu(self.spec.memory_mb)
        if header.get("type") == "init_error":
            self._init_error = body
        elif header.get("type") != "ready":
            await self.destroy("protocol")
            raise EnvironmentFailed("runtime sent an unexpected first frame")

    async def _receive_init(self) -> tuple[dict[str, object], bytes]:
        assert self._channel is not None
        while True:
            header, body = await self._channel.receive()
            if header.get("type") != "log":
                return header, body
            self._logs.append(body.decode("utf-8", "replace"))

    @property
    def init_error(self) -> bytes | None:
        return self._init_error

    def take_init_logs(self) -> tuple[list[str], float | None]:
        logs, self._logs = self._logs, []
        init_ms, self._init_ms = self._init_ms, None
        return logs, init_ms

    def max_memory_mb(self) -> int:
        return math.ceil(self.cgroup.peak_memory_bytes() / (1024 * 1024))

    async def destroy(self, reason: str) -> None:
        if self.destroyed is not None:
            return
        self.destroyed = reason
        log.debug("destroying environment %s (%s)", self.id, reason)
        if self._channel is not None:
            self._channel.close()
        self.cgroup.kill_all()
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._proc.wait(), 5)
        if self._pipe_task is not None:
            self._pipe_task.cancel()
        self.cgroup.destroy()
        await asyncio.to_thread(shutil.rmtree, self.workdir, True)

    # -- invocations ---------------------------------------------------------

    async def invoke(self, request: InvocationRequest) -> InvocationOutcome:
        """Run one invocation. Callers destroy the environment unless status is success/error."""
        assert self._channel is not None and self.destroyed is None
        init_ms, self._init_ms = self._init_ms, None
        if init_ms is None:
            self._logs = []
        self.invocations += 1
        timeout = self.spec.timeout_s
        deadline_ms = int(time.time() * 1000 + timeout * 1000)
        started = time.monotonic()
        header = {
            "type": "invoke",
            "request_id": request.request_id,
            "deadline_ms": deadline_ms,
            "invoked_function_arn": request.invoked_function_arn,
            "client_context": request.client_context,
            "trace_id": request.trace_id,
        }
        status, payload, error_type = "success", b"", None
        try:
            await self._channel.send(header, request.payload)
            while True:
                frame, body = await asyncio.wait_for(
                    self._channel.receive(), max(0.0, started + timeout - time.monotonic())
                )
                kind = frame.get("type")
                if kind == "log":
                    self._logs.append(body.decode("utf-8", "replace"))
                elif kind in ("response", "error"):
                    status = "success" if kind == "response" else "error"
                    payload = body
                    break
        except TimeoutError:
            status, error_type = "timeout", "Sandbox.Timedout"
        except (EOFError, ConnectionError):
            status, error_type = "crash", await self._crash_type()
        duration = (time.monotonic() - started) * 1000
        self.last_used = time.monotonic()
        return InvocationOutcome(
            status=status,
            payload=payload,
            error_type=error_type,
            duration_ms=duration,
            max_memory_mb=self.max_memory_mb(),
            logs=self._logs,
            init_ms=init_ms,
        )

    def exit_description(self) -> str:
        if self._proc is None or self._proc.returncode is None:
            return "signal: killed"
        code = self._proc.returncode
        return f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"

    async def _crash_type(self) -> str:
        if self._proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 2)
        await self._drain_pipe()
        return "Runtime.OutOfMemory" if self.cgroup.oom_kills() > 0 else "Runtime.ExitError"

    # -- plumbing ------------------------------------------------------------

    async def _drain_output(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._logs.append(line.decode("utf-8", "replace"))

    async def _drain_pipe(self) -> None:
        if self._pipe_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._pipe_task), 1)

    async def _make_tmp_image(self) -> str | None:
        if not self.host.sized_tmp:
            return None
        image = self.workdir / "tmp.img"
        with open(image, "wb") as fh:
            fh.truncate(self.spec.ephemeral_mb * 1024 * 1024)
        proc = await asyncio.create_subprocess_exec(
            str(self.host.mkfs_ext4), "-q", "-F", "-m", "0", "-O", "^has_journal",
            "-E", f"root_owner={self.uid}:{self.uid}", str(image),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise EnvironmentFailed(f"cannot format /tmp disk: {err.decode().strip()}")
        return str(image)

    def _command(self, channel_fd: int, tmp_image: str | None) -> list[str]:
        spec = self.spec
        interpreter = str(spec.runtime.interpreter)
        binds = [[str(p), str(p)] for p in spec.runtime.mounts]
        binds.append([str(spec.code_dir), "/var/task"])
        binds.append([str(python_bootstrap_dir()), "/var/runtime"])
        jail_spec = {
            "root": str(self.workdir / "root"),
            "hostname": "169.254." + ".".join(str(int(self.id[i : i + 2], 16)) for i in (0, 2)),
            "ro_binds": binds,
            "tmp_image": tmp_image,
            "tmp_size_mb": spec.ephemeral_mb,
            "uid": self.uid,
            "gid": self.uid,
            "nofile": NOFILE,
            "channel_fd": channel_fd,
            "exec": [interpreter, "-X", "utf8", "/var/runtime/bootstrap.py", str(channel_fd)],
            "env": self._runtime_env(),
        }
        join = 'for f in $1; do echo $$ > "$f" || exit 125; done; shift; exec "$@"'
        import json

        return [
            "/bin/sh", "-c", join, "loam-env", " ".join(map(str, self.cgroup.procs_files())),
            "setpriv", "--pdeathsig", "KILL", "--",
            str(self.host.unshare), "--mount", "--pid", "--ipc", "--uts", "--net", "--fork",
            "--kill-child", "--", sys.executable, "-S", "-E", str(_JAIL), json.dumps(jail_spec),
        ]

    def _runtime_env(self) -> dict[str, str]:
        spec = self.spec
        env = dict(spec.environment)
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime.identifier}",
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": "/var/task",
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "HOME": "/tmp",
            "PATH": f"{spec.runtime.interpreter.parent}:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LD_LIBRARY_PATH": "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:"
                               "/var/task/lib:/opt/lib",
            "PYTHONPATH": "/var/runtime",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return env


class EnvironmentFailed(Exception):
    """The environment could not be created or started."""


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)


def sweep_leftovers(host: HostCapabilities, work_root: Path) -> int:
    """Remove environments a previous, killed server left behind; returns how many."""
    count = 0
    if host.cgroups is not None:
        for mount in host.cgroups.mounts.values():
            parent = mount / host.cgroups.parent
            if parent.is_dir():
                for child in parent.iterdir():
                    if child.is_dir():
                        EnvironmentCgroup(host.cgroups, child.name).destroy()
                        count += 1
    if work_root.exists():
        shutil.rmtree(work_root, ignore_errors=True)
    os.makedirs(work_root, exist_ok=True)
    return count
