"""An environment forked from a version's template (``template.py``), and the
framed handshake with the fork server (``runtimes/python/_loam_template.py``).

A fork is prepared up to its last step (cgroup, fork, namespaces, /tmp, an
unprivileged runtime waiting) and then activated: the runtime re-seeds, runs
the after-restore hooks and says ``ready``. A template's *spare* is a fork
prepared ahead of need, activated when an environment is wanted.

Invariants:
- a fork joins its own cgroup before it makes any process of the
  environment (on v1 itself, through descriptors loam opened; on v2 loam
  moves it);
- an awaited fork (an invocation waits for it), or a spare once claimed,
  weighs as its template until ready; a spare nobody waits for, an eighth of
  an environment;
- any failure destroys the fork and raises ``EnvironmentFailed``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import socket
import struct
import time
from pathlib import Path
from typing import TYPE_CHECKING

from loam.sandbox.environment import (
    PIDS_MAX,
    EnvironmentFailed,
    EnvironmentSpec,
    ExecutionEnvironment,
)
from loam.sandbox.host import HostCapabilities

if TYPE_CHECKING:
    from loam.sandbox.template import TemplateEnvironment

__all__ = ["FORK_TIMEOUT_S", "SPARE_CPU_WEIGHT", "TEMPLATE_CPU_WEIGHT", "ForkedEnvironment"]

log = logging.getLogger("loam.sandbox")

FORK_TIMEOUT_S = 10.0
# A template's CPU weight, in default weights (see TemplateEnvironment.start), and a
# spare's while it is prepared with nobody waiting for it (ForkedEnvironment._fork).
TEMPLATE_CPU_WEIGHT = 64
SPARE_CPU_WEIGHT = 0.125
_HEADER = struct.Struct("!II")
_UCRED = struct.Struct("3i")
_MAX_FRAME = 8 + 4096  # a handshake frame: the length prefix and a small JSON header


class ForkedEnvironment(ExecutionEnvironment):
    """An environment forked from a template: the template's Init, its own everything else."""

    has_workdir = False  # its root is the template's; its /tmp disk, the pool's (_place_tmp)

    def __init__(self, spec: EnvironmentSpec, host: HostCapabilities, work_root: Path,
                 template: TemplateEnvironment, awaited: bool = True) -> None:
        super().__init__(spec, host, work_root, "snap-start")
        self.template = template
        # Whether an invocation waits for this fork (else it is a spare, prepared at
        # a low CPU weight, behind the environments serving invocations).
        self.awaited = awaited
        self._cgroup_made = False
        self.uid = template.uid  # what Init saw
        # Set by ``prepare``: loam's end of the new channel.
        self._parent: socket.socket | None = None

    def max_memory_mb(self) -> int:
        """The template's Init peak (pages this fork shares, charged to the template)
        plus this fork's own peak: what a fresh environment would report, give or take
        the pages copied since the fork."""
        own = self.cgroup.peak_memory_bytes()
        return math.ceil((self.template.init_peak_bytes + own) / (1024 * 1024))

    async def start(self) -> None:
        """Fork (unless ``prepare`` already did) and let the new environment run."""
        if self._parent is None:
            await self.prepare()
        await self._activate()

    async def prepare(self) -> None:
        """Everything up to the last ``go``: cgroup, fork, namespaces, /tmp, an
        unprivileged runtime waiting.

        A prepared environment (a template's spare) costs a sleeping process
        and its cgroup until ``start`` finishes it.
        """
        await self._fork()

    async def _fork(self) -> None:
        template = self.template
        self._phases: list[tuple[str, float]] = [("begin", time.monotonic())]
        joins = await self._make_cgroup()
        self._phases.append(("cgroup", time.monotonic()))
        try:
            parent, child = socket.socketpair()
            parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            self._status_fd, status_w = os.pipe()
            os.set_blocking(self._status_fd, False)
            self._output_fd, output_w = os.pipe()
        except OSError as exc:
            for fd in joins:
                os.close(fd)
            await self.destroy("fork-failed")
            raise EnvironmentFailed(f"fork failed: {exc!r}") from exc
        template.adopt(self)
        request: dict[str, object] = {
            "hostname": "169.254." + ".".join(str(int(self.id[i : i + 2], 16)) for i in (0, 2)),
            "env": {"AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream,
                    "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"},
        }
        try:
            # v1: the fork moves itself into this cgroup, first thing (open_self_join).
            joined = bool(joins)
            request["joins"] = len(joins)
            template.send_fork(request, [child.fileno(), status_w, output_w, *joins])
            child.close()
            for fd in joins:
                os.close(fd)
            joins = []
            await asyncio.wait_for(
                self._handshake(parent, joined),
                FORK_TIMEOUT_S)
            parent.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
        except BaseException as exc:
            parent.close()
            said = self._unread_output()
            await self.destroy("fork-failed")
            if isinstance(exc, (OSError, EOFError, TimeoutError, ValueError)):
                detail = f"; the fork said: {said}" if said else ""
                raise EnvironmentFailed(f"fork failed: {exc!r}{detail}") from exc
            raise
        finally:
            child.close()
            os.close(status_w)
            os.close(output_w)
            for fd in joins:
                os.close(fd)
        self._parent = parent

    async def _make_cgroup(self) -> list[int]:
        """Cgroup and CPU weight; the cgroup's self-join descriptors (v1), or [].

        Awaited, a fork weighs as its template until ready (then ``limit_cpu``):
        otherwise, while the template forks others at its own weight, this fork's
        setup and its runtime's restore wait behind them. A spare yields to
        everything else until it is claimed (``hurry``), and its directories are
        made in a worker thread: ~1–3 ms of system calls that would hold up the
        invocations on the event loop (a version's first, say, while its template
        prepares spares). An awaited fork's are made at once, on the event loop (in
        a burst, worker threads would only add their fight for the interpreter
        lock). On any failure or cancellation, once the thread is done, the
        environment is destroyed.
        """
        def make() -> list[int]:
            self.cgroup.create(self.spec.memory_mb, PIDS_MAX)
            return self.cgroup.open_self_join()

        made: asyncio.Future[list[int]] | None = None
        joins: list[int] = []
        try:
            if self.awaited:
                joins = make()
            else:
                made = asyncio.ensure_future(asyncio.to_thread(make))
                joins = await asyncio.shield(made)
            # Whether an invocation waits for it now: a spare may be claimed meanwhile.
            self.cgroup.prioritise_cpu(
                TEMPLATE_CPU_WEIGHT if self.awaited else SPARE_CPU_WEIGHT)
        except BaseException as exc:
            if made is not None and not joins:
                await asyncio.wait({made})
                if not made.cancelled() and made.exception() is None:
                    joins = made.result()
            for fd in joins:
                os.close(fd)
            await self.destroy("fork-failed")
            if isinstance(exc, OSError):
                raise EnvironmentFailed(f"cannot create its cgroup: {exc!r}") from exc
            raise
        self._cgroup_made = True
        return joins

    def hurry(self) -> None:
        """An invocation now waits for this spare, still being prepared: weigh it up."""
        self.awaited = True
        if self._cgroup_made and self.destroyed is None:
            try:
                self.cgroup.prioritise_cpu(TEMPLATE_CPU_WEIGHT)
            except OSError as exc:
                log.debug("fork %s: cannot raise its CPU weight: %s", self.id, exc)

    def _unread_output(self) -> str:
        """What the fork wrote before anyone read its output (why it failed, say)."""
        fd = self._output_fd
        if fd is None:
            return ""
        os.set_blocking(fd, False)
        try:
            return os.read(fd, 4096).decode("utf-8", "replace").strip()
        except OSError:
            return ""

    async def _activate(self) -> None:
        template, parent = self.template, self._parent
        assert parent is not None
        started = template.last_used = time.monotonic()
        self._phases.append(("activate", started))
        try:
            _send(parent, {"type": "go"})
        except OSError as exc:
            await self.destroy("fork-failed")
            raise EnvironmentFailed(f"the prepared fork is gone: {exc!r}") from exc
        parent.setblocking(False)
        logs, init_ms = template.claim_init()
        for record in logs:
            self._logs.append(record)
        header, _ = await self._first_frame(
            parent, "fork-failed", "forked environment did not start", "the runtime exited")
        if header.get("type") != "ready":
            await self.destroy("fork-failed")
            raise EnvironmentFailed("forked runtime sent an unexpected first frame")
        self._phases.append(("ready", time.monotonic()))
        log.debug("forked %s from template %s: %s", self.id, template.id, ", ".join(
            f"{name} +{(t - self._phases[i][1]) * 1000:.1f} ms"
            for i, (name, t) in enumerate(self._phases[1:])))
        if init_ms is not None:
            self._init_ms = init_ms  # the first environment of a version reports Init
        else:
            self._restore_ms = (time.monotonic() - started) * 1000
        await self._settle_output()
        self._collecting.clear()
        self.cgroup.limit_cpu(self.spec.memory_mb)

    async def _handshake(self, sock: socket.socket, joined: bool) -> None:
        """Have the fork (G, the environment's pid 1; see ADR 8) in this cgroup, give
        its new mount namespace its /tmp, and wait until its runtime (H) is
        ``prepared``: only the last ``go`` is left.

        ``joined``: G moved itself into this cgroup before anything else (v1) and
        says ``unshared`` first. Otherwise (v2) it says ``hello`` and waits while
        a worker thread moves it, beside its unshare and the /tmp mount: that move
        can wait for an RCU grace period (~15 ms after a quiet spell), which must
        hold up neither the event loop nor the rest of the fork. Either way G
        forks H (and with it everything the environment runs) only once moved.
        """
        sock.setblocking(False)
        header, pid = await _receive_with_pid(sock)
        self._stamp_template_phases(header)
        joining: asyncio.Future[None] | None = None
        if not joined:
            if header.get("type") != "hello" or pid is None:
                raise EOFError("the fork did not say hello")
            self._phases.append(("hello", time.monotonic()))
            _send(sock, {"type": "go"})
            joining = asyncio.ensure_future(asyncio.to_thread(self.cgroup.move, pid))
        try:
            if joining is not None:
                header, pid = await _receive_with_pid(sock)
            if header.get("type") != "unshared" or pid is None:
                raise EOFError("the fork did not create its namespaces")
            self._phases.append(("unshared", time.monotonic()))
            if self.host.sized_tmp:
                await self._place_tmp(pid)
            if joining is not None:
                await joining
                self._phases.append(("cgroup-joined", time.monotonic()))
        finally:
            if joining is not None:
                if not joining.done():  # a failed fork: the thread still ends before teardown
                    await asyncio.wait({joining})
                if not joining.cancelled():
                    joining.exception()  # retrieved: the fork's own failure is what is raised
        if self.host.sized_tmp:
            _send(sock, {"type": "go"})
        else:
            _send(sock, {"type": "go", "tmpfs_mb": self.spec.ephemeral_mb})
        header, _ = await _receive_with_pid(sock)
        if header.get("type") != "prepared":
            raise EOFError("the fork's runtime did not get ready")
        self._phases.append(("prepared", time.monotonic()))

    async def _place_tmp(self, pid: int) -> None:
        """The fork's /tmp disk, into G's mount namespace: a stocked one if any is
        mounted already, else a ready image, mounted now. The image is the pool's
        file, claimed where it lies, and the helper unlinks it once mounted (the
        loop device keeps the disk until the namespace goes): a fork makes no file
        or directory of its own, so nothing is left to remove at teardown."""
        manager = self.template.manager
        if await manager.stock.place(self.spec.ephemeral_mb, pid, self.uid):
            self._phases.append(("tmp-placed", time.monotonic()))
            return
        image = await manager.disks.claim(self.spec.ephemeral_mb)
        self._phases.append(("disk", time.monotonic()))
        try:
            await manager.mount_tmp(pid, image, self.uid)
        except BaseException:
            image.unlink(missing_ok=True)
            raise
        self._phases.append(("tmp-mounted", time.monotonic()))

    def _stamp_template_phases(self, header: dict[str, object]) -> None:
        for phase in ("received", "forked"):  # the template's clock is this one (no time ns)
            stamp = header.get(phase)
            if isinstance(stamp, float):
                self._phases.append((f"template-{phase}", stamp))

    async def _crash_type(self) -> str:
        # No wrapper process to wait for: give the reaper (G) time to report.
        deadline = time.monotonic() + 2
        while self._status_fd is not None and time.monotonic() < deadline:
            if self._read_exit_status() is not None:
                break
            await asyncio.sleep(0.01)
        return await super()._crash_type()

    async def _teardown(self) -> None:
        if self._parent is not None and self._channel is None:
            self._parent.close()  # a spare destroyed before it was needed
        await super()._teardown()
        template = self.template
        template.release(self)
        if template.retiring and not template.serving:
            await template.destroy("retired")


def _send(sock: socket.socket, header: dict[str, object]) -> None:
    head = json.dumps(header).encode()
    sock.sendall(_HEADER.pack(len(head), 0) + head)


async def _receive_with_pid(sock: socket.socket) -> tuple[dict[str, object], int | None]:
    """One body-less frame and the sender's pid (SCM_CREDENTIALS, in this pid namespace).

    On the event loop itself (``sock`` non-blocking): a fork's handshake never
    waits for a worker thread, however busy the server's thread pool is. The
    handshake is lockstep (the fork says one thing, then waits for ``go``), so
    a frame usually arrives whole and is read in one call; bytes beyond it
    would break that rule and fail the fork.
    """
    data = b""
    pid: int | None = None
    want: int | None = None  # the frame's length, once its prefix is in
    while want is None or len(data) < want:
        chunk, ancillary = await _recvmsg(sock, _MAX_FRAME - len(data))
        if not chunk:
            raise EOFError("the fork closed its channel")
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and pid is None:
                pid = _UCRED.unpack(payload[: _UCRED.size])[0]
        data += chunk
        if want is None and len(data) >= _HEADER.size:
            head_len, body_len = _HEADER.unpack(data[: _HEADER.size])
            if body_len or head_len > _MAX_FRAME - _HEADER.size:
                raise ValueError("unexpected frame from the fork")
            want = _HEADER.size + head_len
    if len(data) > want:
        raise ValueError("the fork said more than one thing at once")
    header = json.loads(data[_HEADER.size :])
    if not isinstance(header, dict):
        raise ValueError("malformed frame from the fork")
    return header, pid


async def _recvmsg(sock: socket.socket, size: int) -> tuple[bytes, list[tuple[int, int, bytes]]]:
    loop = asyncio.get_running_loop()
    while True:
        try:
            chunk, ancillary, _, _ = sock.recvmsg(size, socket.CMSG_SPACE(_UCRED.size))
            return chunk, ancillary
        except BlockingIOError:
            pass
        readable: asyncio.Future[None] = loop.create_future()
        loop.add_reader(sock.fileno(), _wake, readable)
        try:
            await readable
        finally:
            loop.remove_reader(sock.fileno())


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
