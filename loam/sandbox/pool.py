"""Warm execution environments, per function version.

Invariants:
- an environment is either idle in exactly one pool slot, or busy with
  exactly one invocation, or destroyed;
- acquire takes the most recently used idle *provisioned* environment of the
  key (function version + configuration revision), else the most recently
  used on-demand one, else creates one;
- provisioned environments (``provision``) are started ahead of traffic with
  ``AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`` and are never
  reaped, evicted or retired: only ``provision`` with a lower target removes
  them;
- idle on-demand environments past the keep-alive, beyond the node's idle cap,
  or while the host is short of memory (least recently used first) are
  destroyed;
- at most ``start_concurrency`` fresh environments start at once (forks are
  not limited: they cost little CPU);
- each function adds at most ``scale_limit`` environments per
  ``scale_window_s`` (AWS's scaling rate); beyond that acquire raises
  ``ScalingLimitExceeded`` without creating anything;
- ``retire(function)`` destroys idle on-demand environments of every stale
  key of a function as soon as its code or configuration changes;
- with templates on (the default; ``LOAM_TEMPLATES=0`` turns them off), or
  for a SnapStart version, a new environment is forked from its key's
  template when it can be (``template.py``), else started fresh; a function
  opts out with its own environment variable ``LOAM_TEMPLATES=0`` (every
  environment then runs Init). A version's first environment is its
  template's first fork, and reports the template's Init;
- a runtime that cannot be forked (``prestart_families``: Node.js) gets a
  pre-started pool instead: whenever a version of it has no idle environment
  left, one more is started in the background (one at a time per key), so
  the next cold start finds it ready. Such spares are ordinary idle
  environments: reaped, capped and evicted like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from loam.clock import Clock
from loam.config import opted_out, templates_enabled
from loam.errors import TooManyRequestsException
from loam.sandbox.cgroups import remove_parent
from loam.sandbox.environment import (
    EnvironmentFailed,
    EnvironmentSpec,
    ExecutionEnvironment,
    sweep_leftovers,
)
from loam.sandbox.host import HostCapabilities
from loam.sandbox.template import TemplateManager

__all__ = [
    "EnvironmentFailed",
    "EnvironmentPool",
    "Lease",
    "PoolStatistics",
    "ScalingLimitExceeded",
    "available_memory",
]

log = logging.getLogger("loam.sandbox")

# (spec, AWS_LAMBDA_INITIALIZATION_TYPE) → an environment not yet started.
Factory = Callable[[EnvironmentSpec, str], ExecutionEnvironment]


@dataclass(frozen=True)
class PoolStatistics:
    idle: int
    busy: int
    created: int
    destroyed: int
    evictions: int
    provisioned: int = 0
    templates: int = 0

    @property
    def warm(self) -> int:
        return self.idle + self.busy


class ScalingLimitExceeded(TooManyRequestsException):
    """The function added as many environments as its scaling rate allows, for now."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Rate Exceeded.", reason="FunctionInvocationRateLimitExceeded",
                         retry_after=retry_after)


def available_memory() -> int:
    """The host's MemAvailable, in bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 1 << 62


class EnvironmentPool:
    def __init__(
        self,
        host: HostCapabilities,
        data_dir: Path,
        clock: Clock,
        keep_alive_s: float,
        max_idle: int,
        templates: bool | None = None,
        *,
        factory: Factory | None = None,
        memory: Callable[[], int] = available_memory,
        min_free_bytes: int = 0,
        scale_limit: int = 1000,
        scale_window_s: float = 10.0,
        prestart_families: frozenset[str] = frozenset({"nodejs"}),
        start_concurrency: int = 2 * (os.cpu_count() or 1),
    ) -> None:
        self.clock = clock
        self.keep_alive_s = keep_alive_s
        self.max_idle = max_idle
        self.memory = memory
        self.min_free_bytes = min_free_bytes
        self.scale_limit = scale_limit
        self.scale_window_s = scale_window_s
        self.work_root = data_dir / "environments"
        self._idle: dict[str, list[tuple[float, ExecutionEnvironment]]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        # Provisioned environments: key → idle ones, key → every live one, key → target.
        self._ready: dict[str, list[ExecutionEnvironment]] = {}
        self._provisioned: dict[str, set[ExecutionEnvironment]] = {}
        self._targets: dict[str, int] = {}
        self._starts: dict[str, deque[float]] = {}
        self.prestart_families = prestart_families
        # Fresh environments start (interpreter + Init, ~0.15 s of CPU each) a few at a
        # time: a burst queues here instead of every start missing its Init deadline.
        self._starting = asyncio.Semaphore(start_concurrency)
        self._prestarting: dict[str, asyncio.Task[None]] = {}
        self._created = self._destroyed = self._evictions = 0
        self.templates: TemplateManager | None = None
        self.fork_all = False
        self._owns_cgroups = factory is None
        if factory is not None:
            self.host = host
            self._factory = factory
            return
        host.require()
        assert host.cgroups is not None
        tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
        self.host = replace(host, cgroups=replace(host.cgroups, parent=f"loam-{tag}"))
        self._factory = self._new_environment
        if templates is None:
            templates = templates_enabled()
        # Fork new environments of an initialised version from its template
        # (template.py): every version's when templates are on, else SnapStart ones'.
        self.fork_all = templates
        self.templates = TemplateManager(self.host, self.work_root)
        swept = sweep_leftovers(self.host, self.work_root)
        if swept:
            log.info("removed %d environments left by an earlier run", swept)

    def _new_environment(self, spec: EnvironmentSpec, init_type: str) -> ExecutionEnvironment:
        disks = self.templates.disks if self.templates is not None else None
        return ExecutionEnvironment(spec, self.host, self.work_root, init_type, disks)

    # -- lending -------------------------------------------------------------

    def environment(self, spec: EnvironmentSpec) -> Lease:
        """Lend an environment for one invocation (``async with``). The borrower destroys
        it on failure."""
        return Lease(self, spec)

    async def _lend(self, spec: EnvironmentSpec) -> ExecutionEnvironment:
        env = self._take_ready(spec.key) or self._take_idle(spec.key)
        if env is None:
            env = await self._create(spec)
        if not self._idle.get(spec.key) and spec.runtime.family in self.prestart_families:
            self._prestart(spec)
        self._busy.add(env)
        return env

    async def _take_back(self, env: ExecutionEnvironment) -> None:
        self._busy.discard(env)
        await self._give_back(env)

    async def _create(self, spec: EnvironmentSpec) -> ExecutionEnvironment:
        self._count_start(spec.function_name)
        await self._relieve_memory()
        env: ExecutionEnvironment | None = None
        if self.templates is not None and self._forks(spec):
            env = await self.templates.fork(spec)
        if env is None:
            env = self._factory(spec, "on-demand")
            await self._start(env)
        self._created += 1
        return env

    def _forks(self, spec: EnvironmentSpec) -> bool:
        """Templates on for the node (unless the function opts out), or SnapStart."""
        if spec.snap_start:
            return True
        return self.fork_all and not opted_out(spec.environment.get("LOAM_TEMPLATES", ""))

    async def _start(self, env: ExecutionEnvironment) -> None:
        try:
            async with self._starting:
                await env.start()
        except BaseException:
            self._destroyed += 1
            await env.destroy("init-failed")
            raise

    async def _give_back(self, env: ExecutionEnvironment) -> None:
        key = env.spec.key
        if env.destroyed is None and self.templates is not None and self.templates.is_stale(env):
            await env.destroy("retired")
        if env.destroyed is not None:
            self._destroyed += 1
            self._provisioned.get(key, set()).discard(env)
        elif env in self._provisioned.get(key, ()):
            self._ready.setdefault(key, []).append(env)
        else:
            self._idle.setdefault(key, []).append((self.clock.monotonic(), env))
        await self._enforce_idle_cap()

    def _prestart(self, spec: EnvironmentSpec) -> None:
        """Start one more environment of ``spec`` in the background, to wait idle."""
        if spec.key in self._prestarting:
            return
        task = asyncio.create_task(self._start_spare(spec), name=f"prestart-{spec.key[:40]}")
        self._prestarting[spec.key] = task
        task.add_done_callback(lambda _: self._prestarting.pop(spec.key, None))

    async def _start_spare(self, spec: EnvironmentSpec) -> None:
        try:
            self._count_start(spec.function_name)
            env = self._factory(spec, "on-demand")
            await self._start(env)
        except Exception as exc:  # a spare is an optimisation: the next cold start tries again
            log.debug("%s: no pre-started environment (%s)", spec.function_name, exc)
            return
        self._created += 1
        if env.init_error is not None:
            await self._destroy(env, "init-failed")
            return
        self._idle.setdefault(spec.key, []).insert(0, (self.clock.monotonic(), env))
        await self._enforce_idle_cap()

    def _take_ready(self, key: str) -> ExecutionEnvironment | None:
        slot = self._ready.get(key)
        while slot:
            env = slot.pop()
            if env.destroyed is None:
                return env
            self._provisioned[key].discard(env)
        return None

    def _take_idle(self, key: str) -> ExecutionEnvironment | None:
        slot = self._idle.get(key)
        while slot:
            _, env = slot.pop()
            if env.destroyed is None:
                return env
        return None

    def _count_start(self, function_name: str) -> None:
        """AWS's scaling rate: refuse a start beyond ``scale_limit`` per window."""
        now = self.clock.monotonic()
        starts = self._starts.setdefault(function_name, deque())
        while starts and now - starts[0] >= self.scale_window_s:
            starts.popleft()
        if len(starts) >= self.scale_limit:
            wait = self.scale_window_s - (now - starts[0])
            raise ScalingLimitExceeded(max(1, round(wait)))
        starts.append(now)

    # -- provisioned concurrency ---------------------------------------------

    async def provision(self, spec: EnvironmentSpec, target: int,
                        on_started: Callable[[ExecutionEnvironment], None] = lambda env: None,
                        ) -> int:
        """Keep ``target`` initialised environments of ``spec`` ready; returns how many live.

        Starts the missing ones one after another (each may raise
        ``EnvironmentFailed``, or return with an init error, which destroys
        it); surplus idle ones go back to being on-demand environments.
        """
        key = spec.key
        self._targets[key] = target
        live = self._provisioned.setdefault(key, set())
        for env in [e for e in live if e.destroyed is not None]:
            live.discard(env)
        while len(live) < self._targets.get(key, 0):
            env = self._factory(spec, "provisioned-concurrency")
            await self._start(env)
            self._created += 1
            if env.init_error is not None:
                await self._destroy(env, "init-failed")
                raise EnvironmentFailed("the function's Init failed")
            on_started(env)
            live.add(env)
            self._ready.setdefault(key, []).append(env)
        ready = self._ready.get(key, [])
        while len(live) > target and ready:
            env = ready.pop(0)
            live.discard(env)
            self._idle.setdefault(key, []).append((self.clock.monotonic(), env))
        if not live:
            self._provisioned.pop(key, None)
            self._ready.pop(key, None)
            self._targets.pop(key, None)
        return len(live)

    async def release(self, key: str) -> None:
        """Stop provisioning ``key``: its environments become ordinary on-demand ones."""
        self._targets.pop(key, None)
        self._provisioned.pop(key, None)
        now = self.clock.monotonic()
        for env in self._ready.pop(key, []):
            self._idle.setdefault(key, []).append((now, env))
        await self._enforce_idle_cap()

    def provisioned_count(self, key: str) -> int:
        return sum(1 for e in self._provisioned.get(key, ()) if e.destroyed is None)

    # -- tear-down -----------------------------------------------------------

    async def reap(self) -> int:
        """Destroy idle environments past the keep-alive; returns how many."""
        now = self.clock.monotonic()
        expired: list[ExecutionEnvironment] = []
        for key, slot in list(self._idle.items()):
            keep = [(t, e) for t, e in slot if now - t < self.keep_alive_s]
            expired += [e for t, e in slot if now - t >= self.keep_alive_s]
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]
        for env in expired:
            await self._destroy(env, "idle-timeout")
        if self.templates is not None:
            await self.templates.reap(self.keep_alive_s)
        await self._relieve_memory()
        return len(expired)

    async def retire(self, function_name: str, keep_key: str | None = None,
                     before: float | None = None) -> None:
        """Destroy the function's idle environments and templates, but ``keep_key``'s
        and (with ``before``, a ``time.monotonic()`` reading taken when the function
        changed) those created after the change, which already serve the new state."""
        if self.templates is not None:
            await self.templates.retire(function_name, keep_key, before)
        for key in list(self._idle):
            slot = self._idle[key]
            if not slot or slot[0][1].spec.function_name != function_name or key == keep_key:
                continue
            stale = [(t, e) for t, e in slot if before is None or e.created < before]
            kept = [(t, e) for t, e in slot if (t, e) not in stale]
            if kept:
                self._idle[key] = kept
            else:
                del self._idle[key]
            for _, env in stale:
                await self._destroy(env, "retired")

    async def _enforce_idle_cap(self) -> None:
        excess = sum(len(s) for s in self._idle.values()) - self.max_idle
        if excess > 0:
            await self._evict(excess)

    async def _relieve_memory(self) -> None:
        """Under memory pressure, evict idle on-demand environments, LRU first."""
        if self.min_free_bytes <= 0:
            return
        while self._idle and self.memory() < self.min_free_bytes:
            await self._evict(1)

    async def _evict(self, count: int) -> None:
        idle = sorted((t, id(e), key) for key, slot in self._idle.items() for t, e in slot)
        for _, ident, key in idle[:count]:
            slot = self._idle[key]
            env = next(e for _, e in slot if id(e) == ident)
            self._idle[key] = [(t, e) for t, e in slot if e is not env]
            if not self._idle[key]:
                del self._idle[key]
            self._evictions += 1
            await self._destroy(env, "evicted")

    async def _destroy(self, env: ExecutionEnvironment, reason: str) -> None:
        self._destroyed += 1
        await env.destroy(reason)

    async def close(self) -> None:
        for task in list(self._prestarting.values()):
            task.cancel()
        await asyncio.gather(*self._prestarting.values(), return_exceptions=True)
        envs = [e for slot in self._idle.values() for _, e in slot] + list(self._busy)
        envs += [e for slot in self._ready.values() for e in slot]
        self._idle.clear()
        self._ready.clear()
        self._provisioned.clear()
        await asyncio.gather(*(e.destroy("shutdown") for e in envs), return_exceptions=True)
        if self.templates is not None:
            await self.templates.close()
        if self._owns_cgroups and self.host.cgroups is not None:
            remove_parent(self.host.cgroups)

    def statistics(self) -> PoolStatistics:
        idle = sum(len(s) for s in self._idle.values())
        ready = sum(len(s) for s in self._ready.values())
        return PoolStatistics(
            idle=idle + ready,
            busy=len(self._busy),
            created=self._created,
            destroyed=self._destroyed,
            evictions=self._evictions,
            provisioned=sum(len(s) for s in self._provisioned.values()),
            templates=self.templates.count() if self.templates is not None else 0,
        )


class Lease:
    """One invocation's loan of an environment (``EnvironmentPool.environment``): a
    class rather than a generator-based context manager, as it is on every
    invocation's path."""

    __slots__ = ("_env", "_pool", "_spec")

    def __init__(self, pool: EnvironmentPool, spec: EnvironmentSpec) -> None:
        self._pool = pool
        self._spec = spec
        self._env: ExecutionEnvironment | None = None

    async def __aenter__(self) -> ExecutionEnvironment:
        self._env = await self._pool._lend(self._spec)
        return self._env

    async def __aexit__(self, *exc_info: object) -> None:
        if self._env is not None:
            env, self._env = self._env, None
            await self._pool._take_back(env)
