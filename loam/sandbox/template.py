"""SOCK-style templates: a new environment for an already-initialised
function version is forked from a template in a few milliseconds instead of
starting a fresh interpreter and running Init again.

A template is built like an environment (jail, namespaces, read-only root,
code at /var/task, its own cgroup) but its runtime lives in a user namespace
of its own, where it keeps CAP_SYS_ADMIN/CAP_NET_ADMIN (see
``jail.become_template_runtime``). It runs Init once, uncapped, and then
forks environments on request (``runtimes/python/_loam_template.py``): each
fork gets its own cgroup (it moves itself in on v1, loam moves it on v2,
before it does anything else), its own mount/pid/ipc/uts/net namespaces,
its own ext4 /tmp disk (taken ready-formatted from ``TmpDisks`` and mounted
by the privileged ``tmpmount.py`` helper, as ext4 cannot be mounted inside a
user namespace), a fresh /proc and /dev/shm, no capabilities, re-seeded
randomness, and runs the after-restore hooks.

Invariants:
- a version's Init runs once, in its template; the version's first
  environment is its template's first fork and reports that Init (its
  duration and log lines), every later fork Restore Duration;
- any failure on the template path falls back to a fresh environment (the
  caller gets None); an invocation never fails because of a template;
- a version whose Init fails, leaves threads running or files in /tmp is
  never forked (fresh environments from then on, the first of them running
  Init a second time: that is only known once Init has run);
- a template that died (crash, OOM) is replaced at the next fork;
- a template is destroyed only when none of its forked environments is left
  (they live inside its pid namespace), once retired or idle past the
  keep-alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import socket
import time
from pathlib import Path
from typing import Any

from loam.clock import Clock, SystemClock
from loam.sandbox.environment import (
    EnvironmentFailed,
    EnvironmentSpec,
    ExecutionEnvironment,
)
from loam.sandbox.fork import TEMPLATE_CPU_WEIGHT, ForkedEnvironment
from loam.sandbox.host import HostCapabilities
from loam.sandbox.tmpdisks import TmpDisks
from loam.sandbox.tmphelper import MountHelper
from loam.sandbox.tmpstock import TmpStock

__all__ = ["ForkedEnvironment", "SpareDepth", "TemplateEnvironment", "TemplateManager"]

log = logging.getLogger("loam.sandbox")

# What each live fork may leave charged to its template's cgroup (see _fit_memory).
FORK_CHARGE_MB = 2
FORK_CHARGE_STEP = 16
# Forks a template keeps prepared ahead of need: MAX_SPARES when new, started as soon
# as Init is done (a version's first environments are when bursts come: a deploy, a
# shifted alias, scale from zero), one fewer per SPARE_DECAY_S without a new
# environment that found none ready (a miss), down to one; one more per miss.
MAX_SPARES = 4
SPARE_DECAY_S = 60.0
# How long after a fork its template starts preparing the next spare.
SPARE_DELAY_S = 0.05
# At most this many /tmp helpers at once (more start only while all are busy).
MOUNT_HELPERS = 4


class SpareDepth:
    """How many spares a template keeps prepared: ``MAX_SPARES`` when new, one more
    per miss (a new environment that found none ready), one fewer per ``decay_s``
    without a miss, never fewer than one."""

    def __init__(self, clock: Clock | None = None, decay_s: float = SPARE_DECAY_S,
                 most: int = MAX_SPARES) -> None:
        self.clock = clock or SystemClock()
        self.decay_s = decay_s
        self.most = most
        self.value = most
        self._quiet_since = self.clock.monotonic()

    def missed(self) -> None:
        self.value = min(self.most, self.value + 1)
        self._quiet_since = self.clock.monotonic()

    def current(self) -> int:
        """The depth now, one lower if a quiet ``decay_s`` has passed since the last
        miss or decrease."""
        now = self.clock.monotonic()
        if self.value > 1 and now - self._quiet_since > self.decay_s:
            self.value -= 1
            self._quiet_since = now
        return self.value


class TemplateEnvironment(ExecutionEnvironment):
    """The fork server of one function version."""

    def __init__(self, spec: EnvironmentSpec, host: HostCapabilities, work_root: Path,
                 manager: TemplateManager) -> None:
        super().__init__(spec, host, work_root, disks=manager.disks)
        self.work_root = work_root
        self.manager = manager
        self._template = True
        self.children: set[ForkedEnvironment] = set()
        self._memory_limit = spec.memory_mb << 20  # what the cgroup was created with
        self.init_peak_bytes = 0
        self.retiring = False
        self.last_used = time.monotonic()
        self._control: socket.socket | None = None
        self._init_claimed = False
        self._monitor: asyncio.Task[None] | None = None
        # Forks prepared ahead of need (``ForkedEnvironment.prepare``), the tasks still
        # preparing more, and how many to keep (see MAX_SPARES).
        self.spares: list[ForkedEnvironment] = []
        self._preparing: dict[asyncio.Task[ForkedEnvironment | None], ForkedEnvironment] = {}
        self.depth = SpareDepth()

    async def start(self) -> None:
        # Ready for the first fork: /tmp disks (formatted while Init runs) and the helper.
        if self.host.sized_tmp:
            self.manager.disks.warm(self.spec.ephemeral_mb)
            self.manager.stock.warm(self.spec.ephemeral_mb)
            await self.manager.start_helper()
        self._control, child = socket.socketpair()
        self._extra_fds = [child.fileno()]
        try:
            await super().start()
        finally:
            child.close()
            self._extra_fds = []
        if self.init_error is None:
            # What Init used: every fork shares those pages, so it is part of each
            # fork's Max Memory Used, as it is of a fresh environment's.
            self.init_peak_bytes = self.cgroup.peak_memory_bytes()
            # Every fork of a burst waits on this one process: weigh it above the
            # environments it makes (Init ran at the ordinary weight), capped at one CPU.
            try:
                self.cgroup.prioritise_cpu(TEMPLATE_CPU_WEIGHT)
            except OSError as exc:
                log.warning("template %s: cannot set its CPU weight: %s", self.id, exc)
        self._monitor = asyncio.create_task(self._watch(), name=f"template-{self.id}")

    async def _watch(self) -> None:
        """When the template dies, so do its forks (in its pid namespace): never lend them."""
        assert self._proc is not None
        await self._proc.wait()
        for child in list(self.children):
            task = child.begin_destroy("template-died")
            if task is not None:
                self.manager.own(task)

    @property
    def alive(self) -> bool:
        proc = self._proc
        return self.destroyed is None and proc is not None and proc.returncode is None

    @property
    def unforkable(self) -> str | None:
        """Why this template cannot fork (Init failed, threads, files in /tmp), or None."""
        if self.init_error is not None:
            return "Init failed"
        reason = self.ready.get("unforkable")
        return str(reason) if reason else None

    def claim_init(self) -> tuple[list[str], float | None]:
        """Init's logs and duration, for the first environment forked (once)."""
        if self._init_claimed:
            return [], None
        self._init_claimed = True
        return self.take_init_logs()

    def adopt(self, child: ForkedEnvironment) -> None:
        self.children.add(child)
        self._fit_memory()

    def release(self, child: ForkedEnvironment) -> None:
        self.children.discard(child)
        self._fit_memory()

    def _fit_memory(self) -> None:
        """MemorySize, plus ``FORK_CHARGE_MB`` per live fork (rounded up to a step).

        After a fork, the pages the template writes are copied, and the originals,
        now the fork's alone, stay charged to the template's cgroup (charges do not
        follow pages). Without this allowance a 128 MB template dies of its forks'
        charges after about a hundred of them.
        """
        if self.destroyed is not None:
            return
        # In steps of FORK_CHARGE_STEP forks: a burst rewrites the limit now and
        # then, not at every fork.
        steps = -(-len(self.children) // FORK_CHARGE_STEP)
        limit = (self.spec.memory_mb + FORK_CHARGE_MB * FORK_CHARGE_STEP * steps) * (1 << 20)
        if limit == self._memory_limit:
            return
        try:
            self.cgroup.set_memory_limit(limit)
        except OSError as exc:
            log.warning("template %s: cannot resize its memory limit: %s", self.id, exc)
            return
        self._memory_limit = limit

    @property
    def serving(self) -> set[ForkedEnvironment]:
        """Forked environments that are not spares: the ones keeping this template."""
        return self.children.difference(self.spares)

    def claim_spare(self) -> ForkedEnvironment | asyncio.Task[ForkedEnvironment | None] | None:
        """A prepared fork, or else a task still preparing one, or None; taken at once.

        Claiming a spare still being prepared makes it the caller's alone: the
        caller waits for it (see ``finish_spare``) without holding up anyone
        else, who forks on their own meanwhile. Finding none ready is a miss:
        the template keeps one more spare from then on (up to ``MAX_SPARES``).
        """
        if self.spares:
            return self.spares.pop()
        self.depth.missed()
        if not self._preparing:
            return None
        task = next(iter(self._preparing))
        self._preparing.pop(task).hurry()
        return task

    async def finish_spare(
            self, claimed: ForkedEnvironment | asyncio.Task[ForkedEnvironment | None] | None,
    ) -> ForkedEnvironment | None:
        """What ``claim_spare`` gave, once prepared; None if it failed or the template died."""
        spare: ForkedEnvironment | None
        if isinstance(claimed, asyncio.Task):
            try:
                spare = await claimed
            except Exception:  # it failed: the caller forks the whole way instead
                return None
        else:
            spare = claimed
        if spare is not None and spare.destroyed is None and self.alive:
            return spare
        if spare is not None:
            await spare.destroy("template-died")
        return None

    def prepare_spare(self) -> None:
        """Prepare forks in the background up to ``spare_depth``, so the next new
        environments only finish one each."""
        if not self.alive or self.retiring:
            return
        while len(self.spares) + len(self._preparing) < self.depth.current():
            env = ForkedEnvironment(self.spec, self.host, self.manager.work_root, self,
                                    awaited=False)
            task = asyncio.create_task(self._prepare_spare(env), name=f"spare-{self.id}")
            self._preparing[task] = env
            self.manager.own(task)
            task.add_done_callback(self._spare_prepared)

    async def _prepare_spare(self, env: ForkedEnvironment) -> ForkedEnvironment | None:
        try:
            await env.prepare()
        except Exception as exc:  # the next fork goes the whole way instead
            log.debug("template %s: no spare fork (%s)", self.id, exc)
            await env.destroy("fork-failed")
            return None
        return env

    def _spare_prepared(self, task: asyncio.Task[ForkedEnvironment | None]) -> None:
        if task not in self._preparing:
            return  # claimed while being prepared (the claimant has it), or dropped
        del self._preparing[task]
        if not task.cancelled() and task.exception() is None:
            spare = task.result()
            if spare is not None:
                self.spares.append(spare)

    async def trim_spares(self) -> None:
        """Destroy the prepared spares beyond the depth (after quiet spells)."""
        keep = self.depth.current()
        while len(self.spares) > keep:
            await self.spares.pop(0).destroy("idle-timeout")

    async def drop_spare(self) -> None:
        """Destroy every spare, prepared or being prepared."""
        tasks, self._preparing = list(self._preparing), {}
        spares, self.spares = self.spares, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                prepared = await task  # done before the cancel came: it is ours to drop
                if prepared is not None:
                    spares.append(prepared)
        for env in spares:
            await env.destroy("retired")

    def send_fork(self, request: dict[str, object], fds: list[int]) -> None:
        if self._control is None or not self.alive:
            raise EnvironmentFailed("the template is gone")
        try:
            socket.send_fds(self._control, [json.dumps(request).encode()], fds)
        except OSError as exc:
            raise EnvironmentFailed(f"the template is gone: {exc}") from exc
        self.last_used = time.monotonic()

    async def _teardown(self) -> None:
        if self._monitor is not None and self._monitor is not asyncio.current_task():
            self._monitor.cancel()
        for task in self._preparing:
            if task is not asyncio.current_task():
                task.cancel()
        if self._control is not None:
            self._control.close()
            self._control = None
        await super()._teardown()


class TemplateManager:
    """The templates of one pool, one per version key, and the /tmp helper."""

    def __init__(self, host: HostCapabilities, work_root: Path) -> None:
        self.host = host
        self.work_root = work_root
        # Templates are not environments: their work directories live apart.
        self.template_root = work_root.parent / "templates"
        shutil.rmtree(self.template_root, ignore_errors=True)  # a killed predecessor's
        self.template_root.mkdir(parents=True, exist_ok=True)
        self._templates: dict[str, TemplateEnvironment] = {}
        self._retired: set[TemplateEnvironment] = set()
        self._unforkable: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        # The /tmp helpers: every one started, and those waiting for a request.
        self._helpers: list[MountHelper] = []
        self._idle_helpers: asyncio.Queue[MountHelper] = asyncio.Queue()
        self._spawning = 0
        self.disks = TmpDisks(host, work_root.parent / "tmp-disks")
        self.stock = TmpStock(self.disks, work_root.parent / "tmp-stock")
        self._background: set[asyncio.Task[Any]] = set()
        # Templates being built, by key (with the function and when it began).
        self._building: dict[str, asyncio.Task[TemplateEnvironment | None]] = {}
        self._build_started: dict[str, tuple[str, float]] = {}
        self._stale_builds: set[str] = set()
        self._closed = False

    def count(self) -> int:
        """Live templates (retired ones still finishing included)."""
        return len(self._templates) + len(self._retired)

    def own(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def fork(self, spec: EnvironmentSpec) -> ExecutionEnvironment | None:
        """A started environment forked from the version's template, or None (go fresh).

        A version's first environment is forked too: its template's Init is the
        version's one Init, reported by that environment. Requests that arrive
        while the template runs Init wait for it, then fork.
        """
        if spec.key in self._unforkable:
            return None
        if getattr(spec.runtime, "family", "python") != "python":
            return None  # the fork server is the Python runtime's
        async with self._locks.setdefault(spec.key, asyncio.Lock()):
            template = await self._template(spec)
            if template is None:
                return None
            claimed = template.claim_spare()
        # Outside the lock: a spare still being prepared holds up its claimant alone.
        env = await template.finish_spare(claimed)
        if env is None:
            env = ForkedEnvironment(spec, self.host, self.work_root, template)
        try:
            await env.start()
        except Exception as exc:  # never fail an invocation for the optimisation
            log.warning("%s: cannot fork an environment (%s); starting a fresh one",
                        spec.function_name, exc)
            await env.destroy("fork-failed")
            if not template.alive:
                async with self._locks[spec.key]:
                    await self._drop(template, "crashed")
            return None
        # The next spares a little later: forked now, they would take the CPU from this
        # environment's first invocation (~1.5 ms of its Duration on two CPUs).
        asyncio.get_running_loop().call_later(SPARE_DELAY_S, template.prepare_spare)
        return env

    def _build(self, spec: EnvironmentSpec) -> asyncio.Task[TemplateEnvironment | None]:
        """The version's template being built (one build per key at a time)."""
        task = self._building.get(spec.key)
        if task is None:
            task = asyncio.create_task(self._start_template(spec),
                                       name=f"template-build-{spec.key[:40]}")
            self._building[spec.key] = task
            self._build_started[spec.key] = (spec.function_name, time.monotonic())
            self._background.add(task)

            def done(finished: asyncio.Task[TemplateEnvironment | None]) -> None:
                self._background.discard(finished)
                if self._building.get(spec.key) is finished:
                    del self._building[spec.key]
                    del self._build_started[spec.key]
                    self._stale_builds.discard(spec.key)

            task.add_done_callback(done)
        return task

    async def _template(self, spec: EnvironmentSpec) -> TemplateEnvironment | None:
        template = self._templates.get(spec.key)
        if template is not None and not template.alive:
            log.info("template %s of %s died; replacing it", template.id, spec.function_name)
            await self._drop(template, "crashed")
            template = None
        if template is not None:
            return template
        # Shielded: the build is shared, and outlives a caller that gives up.
        return await asyncio.shield(self._build(spec))

    async def _start_template(self, spec: EnvironmentSpec) -> TemplateEnvironment | None:
        template = TemplateEnvironment(spec, self.host, self.template_root, self)
        try:
            await template.start()
        except BaseException as exc:  # any failure: this version starts fresh
            await template.destroy("init-failed")
            if not isinstance(exc, Exception):
                raise
            log.info("%s: no template (%s); fresh environments", spec.function_name, exc)
            self._unforkable.add(spec.key)
            return None
        reason = template.unforkable
        if reason is not None:
            log.info("%s: no template (%s); fresh environments", spec.function_name, reason)
            self._unforkable.add(spec.key)
            await template.destroy("unforkable")
            return None
        if self._closed or spec.key in self._stale_builds:
            await template.destroy("retired")
            return None
        self._templates[spec.key] = template
        # Its spares at once: the waiting requests claim the first ones, and the
        # version's first burst (right after its first response) finds the rest.
        template.prepare_spare()
        return template

    async def _drop(self, template: TemplateEnvironment, reason: str) -> None:
        if self._templates.get(template.spec.key) is template:
            del self._templates[template.spec.key]
        template.retiring = True
        await template.drop_spare()
        if template.serving:
            self._retired.add(template)  # its environments die with it anyway
        await template.destroy(reason)

    def is_stale(self, env: ExecutionEnvironment) -> bool:
        """Whether ``env`` was forked from a template being retired (never reuse it)."""
        return isinstance(env, ForkedEnvironment) and env.template.retiring

    async def retire(self, function_name: str, keep_key: str | None = None,
                     before: float | None = None) -> None:
        """Retire the function's templates (those created before ``before``, if given:
        a template built after a change already serves the changed function)."""
        for key, template in list(self._templates.items()):
            if template.spec.function_name != function_name or key == keep_key:
                continue
            if before is not None and template.created >= before:
                continue
            del self._templates[key]
            template.retiring = True
            await template.drop_spare()
            if not template.serving:
                await template.destroy("retired")
        for key, (function, started) in list(self._build_started.items()):
            if function == function_name and key != keep_key and (
                    before is None or started < before):
                self._stale_builds.add(key)  # destroyed once built; its waiters go fresh

    async def reap(self, keep_alive_s: float) -> None:
        now = time.monotonic()
        for key, template in list(self._templates.items()):
            if not template.serving and now - template.last_used >= keep_alive_s:
                del self._templates[key]
                await template.drop_spare()
                await template.destroy("idle-timeout")
            else:
                await template.trim_spares()

    async def start_helper(self) -> None:
        """Have one /tmp helper ready (before a version's first fork)."""
        if not self._helpers and not self._spawning:
            self._spawning += 1
            try:
                self._idle_helpers.put_nowait(await self._spawn_helper())
            finally:
                self._spawning -= 1

    async def _spawn_helper(self) -> MountHelper:
        helper = await MountHelper.spawn()
        self._helpers.append(helper)
        return helper

    async def _take_helper(self) -> MountHelper:
        """An idle helper; a new one while all are busy, up to ``MOUNT_HELPERS``."""
        if self._idle_helpers.empty() and len(self._helpers) + self._spawning < MOUNT_HELPERS:
            self._spawning += 1
            try:
                return await self._spawn_helper()
            finally:
                self._spawning -= 1
        helper = await self._idle_helpers.get()
        if not helper.alive:  # died (stranded in a namespace): replace it
            self._helpers.remove(helper)
            helper = await self._spawn_helper()
        return helper

    async def mount_tmp(self, pid: int, image: Path, uid: int) -> None:
        """Ask a helper to mount ``image`` on the /tmp of ``pid``'s mount namespace,
        its root owned by ``uid``.

        Each helper serves one request at a time; several serve a burst, since
        most of a mount is the kernel waiting (loop device set-up, ext4's
        superblock read), not CPU.
        """
        helper = await self._take_helper()
        try:
            answer = await helper.ask(f"{pid} {uid} {image}")
        finally:
            self._idle_helpers.put_nowait(helper)
        if answer != "ok":
            raise EnvironmentFailed(f"cannot mount /tmp: {answer}")

    async def close(self) -> None:
        self._closed = True
        for task in self._building.values():
            task.cancel()
        templates = list(self._templates.values()) + list(self._retired)
        self._templates.clear()
        await asyncio.gather(*(t.drop_spare() for t in templates), return_exceptions=True)
        await asyncio.gather(*(t.destroy("shutdown") for t in templates), *self._background,
                             return_exceptions=True)
        await self.stock.close()
        await self.disks.close()
        for helper in self._helpers:
            await helper.close()

