"""One execution environment: a sandboxed runtime process serving one
invocation at a time.

Lifecycle (in this order, each at most once): ``start`` (create cgroup,
scratch disk, namespaces; run Init) → ``invoke``* → ``destroy(reason)``.
``destroy`` is safe to call twice; any failure of the environment destroys
it, and the next invocation gets a fresh one.

Logs: everything written to the runtime's stdout/stderr (one pipe, shared by
its child processes) is collected only while Init or an invocation runs;
between invocations the pipe fills and writers block, as in a frozen AWS
environment. Output written before the runtime answers belongs to that
invocation; at most ``LOG_BUFFER_BYTES`` of it are held per invocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import select
import shutil
import socket
import sys
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loam.runtimes.registry import RuntimeSpec
from loam.sandbox import extensions
from loam.sandbox.cgroups import EnvironmentCgroup
from loam.sandbox.channel import MAX_BODY, FrameChannel
from loam.sandbox.host import HostCapabilities

if TYPE_CHECKING:
    from loam.sandbox.tmpdisks import TmpDisks

__all__ = ["ChunkSink", "EnvironmentSpec", "ExecutionEnvironment", "InvocationOutcome",
           "InvocationRequest", "LogSpill"]

log = logging.getLogger("loam.sandbox")

INIT_TIMEOUT_S = 10.0
PIDS_MAX = 1024
NOFILE = 1024
LOG_BUFFER_BYTES = 8 << 20
# Past this much of one invocation's output, it goes to ``on_log`` as it is read.
SPILL_BYTES = 1 << 20
# Output written straight to the runtime's stdout/stderr without a newline is
# cut into records of at most this many bytes.
MAX_LOG_LINE = 256 << 10
_JAIL = Path(__file__).resolve().parent / "jail.py"
# Where a streamed response goes as it arrives (``invoke(request, on_chunk)``).
ChunkSink = Callable[[bytes], Awaitable[None]]
# Where an invocation's output goes once it outgrows SPILL_BYTES (``invoke(..., on_log)``).
# Until it returns, no more output is read: a function that prints faster than its
# log can be stored blocks in write(2), and it alone.
LogSpill = Callable[[str], Awaitable[None]]
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
    # The function's layers merged in order, mounted read-only at /opt.
    opt_dir: Path | None = None
    # SnapStart on: environments are restored from the version's template even
    # when templates are not the node's default.
    snap_start: bool = False
    # LoggingConfig: "Text" or "JSON"; the application log level applies to JSON only.
    log_format: str = "Text"
    application_log_level: str | None = None


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
    # Set instead of init_ms by an environment forked from a template (its first invocation).
    restore_ms: float | None = None
    # The response's size in bytes, also when it was too large to be kept.
    response_bytes: int = 0
    # A crash not of the runtime's own (an extension's): AWS's words after "Error: ".
    error_cause: str | None = None


class ExecutionEnvironment:
    # A directory of its own under the work root (its jail's root, its /tmp image).
    has_workdir = True

    def __init__(self, spec: EnvironmentSpec, host: HostCapabilities, work_root: Path,
                 initialization_type: str = "on-demand", disks: TmpDisks | None = None,
                 ) -> None:
        self.spec = spec
        # Ready-formatted /tmp images; without, ``start`` formats one itself.
        self.disks = disks
        # AWS_LAMBDA_INITIALIZATION_TYPE: on-demand, provisioned-concurrency or snap-start.
        self.initialization_type = initialization_type
        self.id = uuid.uuid4().hex
        self.host = host
        self.workdir = work_root / self.id
        self.log_stream = time.strftime("%Y/%m/%d", time.gmtime()) + f"/[{spec.version}]{self.id}"
        self.uid = 20000 + next(_uids) % 30000
        assert host.cgroups is not None
        self.cgroup = EnvironmentCgroup(host.cgroups, self.id)
        self.invocations = 0
        self.created = self.last_used = time.monotonic()
        self.destroyed: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._channel: FrameChannel | None = None
        self._logs = LogBuffer(LOG_BUFFER_BYTES)
        self._spill: LogSpill | None = None
        self._spilling = asyncio.Lock()
        self._collecting = asyncio.Event()
        self._pipe_task: asyncio.Task[None] | None = None
        self._output_fd: int | None = None
        self._output: asyncio.ReadTransport | None = None
        self._partial = b""  # output after the last newline, not yet logged
        self._output_reader: _OutputReader | None = None
        self._output_taken = 0  # bytes of it the drain task has logged
        self._init_ms: float | None = None
        self._restore_ms: float | None = None
        self._init_error: bytes | None = None
        # A template (see template.py): descriptors its runtime also inherits, and its
        # first frame; templates run Init uncapped and serve no invocation.
        self._template = False
        self._extra_fds: list[int] = []
        self.ready: dict[str, object] = {}
        # The extensions agent runs in front of the runtime (extensions.py, ADR 6).
        self._agent = False
        self._invoking = False  # an invocation reads the channel: no Shutdown exchange then
        # What extensions wrote during the Shutdown phase (no invocation to log it with).
        self.shutdown_logs: list[str] = []
        # Read end of the pipe the environment's init reports the runtime's end on.
        self._status_fd: int | None = None
        self._exit_status: str | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        """Build the sandbox and run Init; raises ``EnvironmentFailed`` if it cannot start."""
        self.workdir.mkdir(parents=True)
        (self.workdir / "root").mkdir()
        self.cgroup.create(self.spec.memory_mb, PIDS_MAX)
        tmp_image = await self._make_tmp_image()
        # Init Duration counts from here: the sandbox's own set-up is not the function's.
        started = time.monotonic()
        parent_sock, child_sock = socket.socketpair()
        self._status_fd, status_w = os.pipe()
        os.set_blocking(self._status_fd, False)
        self._output_fd, output_w = os.pipe()
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command(child_sock.fileno(), status_w, tmp_image),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output_w,
                stderr=output_w,
                pass_fds=(child_sock.fileno(), status_w, *self._extra_fds),
                start_new_session=True,
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
            os.close(status_w)
            os.close(output_w)
        header, body = await self._first_frame(
            parent_sock, "init-failed", "environment did not start",
            "the runtime exited during Init")
        self._init_ms = (time.monotonic() - started) * 1000
        await self._settle_output()
        self._collecting.clear()
        self.ready = header
        if not self._template:
            self.cgroup.limit_cpu(self.spec.memory_mb)
        if header.get("type") == "init_error":
            self._init_error = body
        elif header.get("type") != "ready":
            await self.destroy("protocol")
            raise EnvironmentFailed("runtime sent an unexpected first frame")

    async def _first_frame(self, sock: socket.socket, reason: str, failure: str,
                           silent: str) -> tuple[dict[str, object], bytes]:
        """Open the channel over ``sock``, collect the runtime's output, and wait (up to
        Init's timeout) for its first frame other than a log line. When none comes, the
        environment is destroyed (``reason``) and ``EnvironmentFailed`` says ``failure``
        and what the runtime printed (else ``silent``)."""
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        self._channel = FrameChannel(reader, writer)
        self._collecting.set()
        self._pipe_task = asyncio.create_task(self._drain_output(await self._open_output()))
        try:
            return await asyncio.wait_for(self._receive_init(), INIT_TIMEOUT_S)
        except (EOFError, TimeoutError) as exc:
            await self._drain_pipe()
            detail = "".join(self._logs.take()).strip() or silent
            await self.destroy(reason)
            raise EnvironmentFailed(f"{failure}: {detail}") from exc

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
        init_ms, self._init_ms = self._init_ms, None
        return self._logs.take(), init_ms

    def max_memory_mb(self) -> int:
        return math.ceil(self.cgroup.peak_memory_bytes() / (1024 * 1024))

    async def destroy(self, reason: str) -> None:
        """Tear the environment down; a no-op once destruction has begun."""
        if self.destroyed is not None:
            return
        self.destroyed = reason
        await self._teardown()

    def begin_destroy(self, reason: str) -> asyncio.Task[None] | None:
        """Mark destroyed now (never lent again) and tear down in the background.

        The caller owns the returned task (None when destruction had begun).
        """
        if self.destroyed is not None:
            return None
        self.destroyed = reason
        return asyncio.create_task(self._teardown(), name=f"destroy-{self.id}")

    async def _teardown(self) -> None:
        log.debug("destroying environment %s (%s)", self.id, self.destroyed)
        if self._agent and self._channel is not None and not self._invoking:
            self._collecting.set()
            await extensions.shut_down(self._channel, self.destroyed or "", self._logs.append)
            await self._settle_output()
            self.shutdown_logs = self._logs.take()
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
        if self._output is not None:
            self._output.close()  # closes the pipe's read end too
        elif self._output_fd is not None:
            os.close(self._output_fd)
        self._output_fd = None
        if self._status_fd is not None:
            self._read_exit_status()
            os.close(self._status_fd)
            self._status_fd = None
        # Both may take a while (a fork bomb dies slowly): off the event loop.
        if not await asyncio.to_thread(self.cgroup.destroy):
            log.warning("environment %s: its cgroup outlived it; the next start removes it",
                        self.id)
        if self.has_workdir:
            await asyncio.to_thread(shutil.rmtree, self.workdir, True)

    # -- invocations ---------------------------------------------------------

    async def invoke(self, request: InvocationRequest, on_chunk: ChunkSink | None = None,
                     on_log: LogSpill | None = None) -> InvocationOutcome:
        """Run one invocation. Callers destroy the environment unless status is success/error.

        A streaming runtime answers ``chunk`` frames before its ``response``
        (or ``error``) frame: each goes to ``on_chunk`` as it arrives, within
        the invocation's deadline; without ``on_chunk`` they are joined in
        front of the response (up to ``MAX_BODY``; ``response_bytes`` counts
        them all). A streamed outcome's ``payload`` is the end frame's body.
        With ``on_log``, output beyond ``SPILL_BYTES`` goes there as it is read
        (oldest first) and ``logs`` holds the rest; without, ``logs`` keeps the
        last ``LOG_BUFFER_BYTES`` of it.
        """
        assert self._channel is not None and self.destroyed is None
        init_ms, self._init_ms = self._init_ms, None
        restore_ms, self._restore_ms = self._restore_ms, None
        self._spill = on_log
        self._collecting.set()
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
        status, payload, error_type, size = "success", b"", None, 0
        cause: str | None = None
        streamed = 0
        parts: list[bytes] = []
        self._invoking = True
        try:
            await self._channel.send(header, request.payload)
            # One deadline for all the frames (wait_for would make a task per frame).
            deadline = _Deadline(max(0.0, started + timeout - time.monotonic()))
            try:
                while True:
                    frame, body = await self._channel.receive()
                    kind = frame.get("type")
                    oversized = frame.get("oversized")
                    if kind == "log" and oversized:
                        await self._collect(
                            f"[loam] a log record of {oversized} bytes was dropped\n")
                    elif kind == "log":
                        await self._collect(body.decode("utf-8", "replace"))
                    elif kind in ("response", "error"):
                        status = "success" if kind == "response" else "error"
                        payload = body
                        size = oversized if isinstance(oversized, int) else len(body)
                        if parts and status == "success":
                            payload = b"".join(parts) + payload
                        size += streamed
                        break
                    elif kind == "fatal":  # an extension failed (the agent's frame)
                        status, error_type, cause = extensions.fatal(frame)
                        break
                    elif kind == "chunk":
                        streamed += oversized if isinstance(oversized, int) else len(body)
                        if on_chunk is None:
                            if streamed <= MAX_BODY:
                                parts.append(body)
                        elif body:
                            await on_chunk(body)
            except asyncio.CancelledError:
                if deadline.close(cancelled=True):
                    raise TimeoutError from None
                raise
            finally:
                deadline.close()
            if self._agent and status != "crash" and not frame.get("invoke_done"):
                failed = await extensions.end_invoke_phase(
                    self._channel, self._logs.append, started + timeout)
                if failed is not None:
                    status, error_type, cause = failed
        except TimeoutError:
            status, error_type = "timeout", "Sandbox.Timedout"
        except (EOFError, ConnectionError):
            status, error_type = "crash", await self._crash_type()
        self._invoking = False
        duration = (time.monotonic() - started) * 1000
        if status == "timeout":
            # The loop's timers may fire a fraction of a millisecond early (uvloop's are
            # millisecond timers on its cached clock); a timed-out invocation ran its
            # whole timeout, as AWS reports it.
            duration = max(duration, timeout * 1000)
        self.last_used = time.monotonic()
        await self._settle_output()
        self._collecting.clear()
        if self._spilling.locked():  # a spill in flight goes first
            async with self._spilling:
                pass
        self._spill = None
        outcome = InvocationOutcome(
            status=status,
            payload=payload,
            error_type=error_type,
            duration_ms=duration,
            max_memory_mb=self.max_memory_mb(),
            logs=self._logs.take(),
            init_ms=init_ms,
            restore_ms=restore_ms,
            response_bytes=size,
            error_cause=cause,
        )
        if self._agent and self.ready.get("telemetry"):
            await extensions.send_report(self._channel, request.request_id, outcome,
                                         self.spec.memory_mb)
        return outcome

    def exit_description(self) -> str:
        """How the runtime ended, worded as AWS does: ``exit status 3``, ``signal: killed``.

        The environment's init reports it; without a report (the sandbox itself
        failed) the wrapper process's own status stands in.
        """
        report = self._read_exit_status()
        if report is not None:
            kind, _, number = report.partition(" ")
            if kind == "signal" and number.isdigit():
                return f"signal: {_signal_name(int(number))}"
            if kind == "exit" and number.isdigit():
                return f"exit status {number}"
        if self._proc is None or self._proc.returncode is None:
            return "signal: killed"
        code = self._proc.returncode
        return f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"

    def _read_exit_status(self) -> str | None:
        if self._exit_status is None and self._status_fd is not None:
            with contextlib.suppress(BlockingIOError):
                self._exit_status = os.read(self._status_fd, 64).decode("ascii", "replace")
        return self._exit_status or None

    async def _crash_type(self) -> str:
        if self._proc is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._proc.wait(), 2)
        await self._drain_pipe()
        self._read_exit_status()
        return "Runtime.OutOfMemory" if self.cgroup.oom_kills() > 0 else "Runtime.ExitError"

    # -- plumbing ------------------------------------------------------------

    async def _open_output(self) -> asyncio.StreamReader:
        """A stream over the read end of the runtime's stdout/stderr pipe."""
        assert self._output_fd is not None
        reader = self._output_reader = _OutputReader()
        pipe = os.fdopen(self._output_fd, "rb", buffering=0)
        try:
            self._output, _ = await asyncio.get_running_loop().connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe)
        except BaseException:
            self._output_fd = None  # closed with its file object, here
            pipe.close()
            raise
        return reader

    async def _settle_output(self) -> None:
        """Give output already in the pipe (written before the response) time to be logged.

        Bounded: a process that never stops writing cannot hold the invocation open.
        Nothing pending (the usual case) costs one ``select`` and no turn of the loop.
        """
        for _ in range(_SETTLE_ROUNDS):
            if self._spilling.locked():  # the reader waits for the log store: so do we
                async with self._spilling:
                    pass
            if not self._output_pending():
                break
            await asyncio.sleep(0)  # the transport's turn to read, the drain task's to log
        if self._partial:
            self._logs.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def _output_pending(self) -> bool:
        """Output not logged yet: read by the transport but not taken by the drain
        task, or still in the pipe."""
        reader = self._output_reader
        if reader is not None and reader.fed != self._output_taken:
            return True
        return self._output_fd is not None and _readable(self._output_fd)

    async def _drain_output(self, stream: asyncio.StreamReader) -> None:
        """Collect the runtime's stdout/stderr, only while collecting.

        Each record is a run of whole lines (cheap however fast the output
        comes); an unfinished line waits for its end, up to ``MAX_LOG_LINE``,
        or for the invocation to end (``_settle_output``).
        """
        while True:
            await self._collecting.wait()
            chunk = await stream.read(1 << 16)
            if not chunk:
                break
            data = self._partial + chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) >= MAX_LOG_LINE:
                cut = len(data)
            self._partial = data[cut:]
            if cut:
                await self._collect(data[:cut].decode("utf-8", "replace"))
            self._output_taken += len(chunk)
        if self._partial:
            self._logs.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    async def _collect(self, record: str) -> None:
        """Keep one record of output; past ``SPILL_BYTES``, pass what is kept to the
        invocation's ``on_log`` (waiting for it: that is the back-pressure)."""
        self._logs.append(record)
        if self._spill is None or self._logs.size < SPILL_BYTES:
            return
        async with self._spilling:
            if self._spill is not None and self._logs.size >= SPILL_BYTES:
                await self._spill("".join(self._logs.take()))

    async def _drain_pipe(self) -> None:
        if self._pipe_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._pipe_task), 1)

    async def _make_tmp_image(self) -> str | None:
        """A sparse ext4 image whose free space is at least EphemeralStorage MB."""
        if not self.host.sized_tmp:
            return None
        image = self.workdir / "tmp.img"
        if self.disks is None:
            await make_tmp_image(self.host, image, self.spec.ephemeral_mb, self.uid)
            return str(image)
        # Root-owned: the jail gives its root to the runtime's uid.
        await self.disks.take(self.spec.ephemeral_mb, image)
        return str(image)

    def _command(self, channel_fd: int, status_fd: int, tmp_image: str | None) -> list[str]:
        spec = self.spec
        interpreter = str(spec.runtime.interpreter)
        binds = [[str(p), str(p)] for p in spec.runtime.mounts]
        binds.append([str(spec.code_dir), "/var/task"])
        binds.append([str(spec.runtime.runtime_dir), "/var/runtime"])
        if spec.opt_dir is not None:
            binds.append([str(spec.opt_dir), "/opt"])
        init_python = interpreter
        if spec.runtime.family == "nodejs":
            # The environment's tiny init is a Python program: Debian's, else loam's own.
            system = Path("/usr/bin/python3")
            init_python = str(system) if system.exists() else sys.executable
            if not init_python.startswith("/usr/"):
                binds.append([sys.base_prefix, sys.base_prefix])
        runtime = [interpreter, *spec.runtime.arguments, str(channel_fd),
                   *map(str, self._extra_fds)]
        self._agent = extensions.has_extensions(spec.opt_dir)
        if self._agent and self._template:  # the template manager falls back to fresh ones
            raise EnvironmentFailed("extensions run in fresh environments, not in templates")
        if self._agent:
            binds.append([str(extensions.AGENT_DIR), extensions.AGENT_MOUNT])
            runtime = extensions.agent_command(init_python, channel_fd, spec.runtime.family,
                                               runtime[:-1 - len(self._extra_fds)],
                                               INIT_TIMEOUT_S)
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
            "status_fd": status_fd,
            "exec": runtime,
            "template": self._template,
            "init_python": init_python,
            "extra_fds": self._extra_fds,
            "env": self._runtime_env(),
        }
        # The shell (one thread) moves itself: see EnvironmentCgroup.self_join_files.
        join = 'for f in $1; do echo 0 > "$f" || exit 125; done; shift; exec "$@"'
        return [
            "/bin/sh", "-c", join, "loam-env",
            " ".join(map(str, self.cgroup.self_join_files())),
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
            "AWS_LAMBDA_LOG_FORMAT": spec.log_format,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": self.initialization_type,
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
        if spec.runtime.family == "nodejs":
            major = spec.runtime.identifier.removeprefix("nodejs").split(".")[0]
            env["NODE_PATH"] = (f"/opt/nodejs/node{major}/node_modules:/opt/nodejs/node_modules:"
                                "/var/runtime/node_modules:/var/runtime:/var/task")
            del env["PYTHONPATH"], env["PYTHONDONTWRITEBYTECODE"]
        if spec.log_format == "JSON" and spec.application_log_level:
            env["AWS_LAMBDA_LOG_LEVEL"] = spec.application_log_level
        return env


_SETTLE_ROUNDS = 50


async def make_tmp_image(host: HostCapabilities, image: Path, ephemeral_mb: int,
                         uid: int) -> None:
    """Format ``image``: a sparse ext4 disk owned by ``uid`` with ``ephemeral_mb`` MB free."""
    with open(image, "wb") as fh:
        fh.truncate(tmp_image_mb(ephemeral_mb) * 1024 * 1024)
    proc = await asyncio.create_subprocess_exec(
        str(host.mkfs_ext4), "-q", "-F", "-m", "0", "-O", "^has_journal",
        "-E", f"root_owner={uid}:{uid}", str(image),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise EnvironmentFailed(f"cannot format /tmp disk: {err.decode().strip()}")


def tmp_image_mb(ephemeral_mb: int) -> int:
    """Image size that leaves ``ephemeral_mb`` free after ext4's own metadata (~4 %)."""
    return ephemeral_mb + 4 + ephemeral_mb * 5 // 100


class _OutputReader(asyncio.StreamReader):
    """The runtime's output stream, counting what its transport fed it."""

    fed = 0

    def feed_data(self, data: bytes) -> None:  # type: ignore[override]  # always bytes here
        self.fed += len(data)
        super().feed_data(data)


class _Deadline:
    """``asyncio.timeout`` for one invocation's frames, without its context manager's
    two coroutines and its state machine (this is on every invocation's path): a
    timer that cancels the task; ``close`` says whether a cancellation was its own."""

    __slots__ = ("_cancelling", "_fired", "_handle", "_task")

    def __init__(self, delay: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._cancelling = task.cancelling()
        self._fired = False
        self._handle: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            delay, self._fire)

    def _fire(self) -> None:
        self._fired = True
        self._task.cancel()

    def close(self, cancelled: bool = False) -> bool:
        """Stop the timer (once; later calls do nothing). True when the block ended in a
        CancelledError (``cancelled``) that this deadline caused: then it is a timeout."""
        if self._handle is None:
            return False
        self._handle.cancel()
        self._handle = None
        # As asyncio.timeout: a request the timer made is withdrawn however the block ended.
        return self._fired and self._task.uncancel() <= self._cancelling and cancelled


def _readable(fd: int) -> bool:
    try:
        return bool(select.select([fd], [], [], 0)[0])
    except (OSError, ValueError):
        return False


class LogBuffer:
    """One invocation's log records, holding at most ``limit`` characters.

    Past the limit the oldest records go (the tail is what LogResult shows)
    and ``take`` puts one notice of how much was dropped in their place.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._records: deque[str] = deque()
        self._size = 0
        self._dropped = 0

    @property
    def size(self) -> int:
        return self._size

    def append(self, record: str) -> None:
        self._records.append(record)
        self._size += len(record)
        while self._size > self.limit and len(self._records) > 1:
            old = self._records.popleft()
            self._size -= len(old)
            self._dropped += len(old)

    def take(self) -> list[str]:
        """The records so far (oldest first); the buffer starts over empty."""
        records = list(self._records)
        if self._dropped:
            records.insert(0, f"[loam] {self._dropped} characters of log output were dropped\n")
        self._records.clear()
        self._size = self._dropped = 0
        return records


class EnvironmentFailed(Exception):
    """The environment could not be created or started."""


# How Go (AWS's runtime supervisor) names signals: "Runtime exited with error: signal: …".
_SIGNAL_NAMES = {
    1: "hangup", 2: "interrupt", 3: "quit", 4: "illegal instruction",
    5: "trace/breakpoint trap", 6: "aborted", 7: "bus error", 8: "floating point exception",
    9: "killed", 10: "user defined signal 1", 11: "segmentation fault",
    12: "user defined signal 2", 13: "broken pipe", 14: "alarm clock", 15: "terminated",
    16: "stack fault", 17: "child exited", 18: "continued", 19: "stopped (signal)",
    20: "stopped", 21: "stopped (tty input)", 22: "stopped (tty output)",
    23: "urgent I/O condition", 24: "CPU time limit exceeded", 25: "file size limit exceeded",
    26: "virtual timer expired", 27: "profiling timer expired", 28: "window changed",
    29: "I/O possible", 30: "power failure", 31: "bad system call",
}


def _signal_name(number: int) -> str:
    return _SIGNAL_NAMES.get(number, f"signal {number}")


def sweep_leftovers(host: HostCapabilities, work_root: Path) -> int:
    """Remove environments a previous, killed server left behind; returns how many."""
    names: set[str] = set()
    if host.cgroups is not None:
        for mount in host.cgroups.mounts.values():
            parent = mount / host.cgroups.parent
            if parent.is_dir():
                names.update(child.name for child in parent.iterdir() if child.is_dir())
        for name in names:
            EnvironmentCgroup(host.cgroups, name).destroy()
    if work_root.exists():
        shutil.rmtree(work_root, ignore_errors=True)
    os.makedirs(work_root, exist_ok=True)
    return len(names)
