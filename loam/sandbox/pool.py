"""Warm execution environments, per function version.

Invariants:
- an environment is either idle in exactly one pool slot, or busy with
  exactly one invocation, or destroyed;
- acquire reuses the most recently used idle environment of the same key
  (function version + configuration revision), else creates one;
- idle environments past the keep-alive, or beyond the node's idle cap
  (least recently used first), are destroyed by ``reap``;
- ``retire(function)`` destroys idle environments of every stale key of a
  function as soon as its code or configuration changes;
- with templates on (``LOAM_TEMPLATES=1``), a new environment is forked from
  its key's template when it can be (``template.py``), else started fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

from loam.clock import Clock
from loam.config import templates_enabled
from loam.sandbox.cgroups import remove_parent
from loam.sandbox.environment import (
    EnvironmentFailed,
    EnvironmentSpec,
    ExecutionEnvironment,
    sweep_leftovers,
)
from loam.sandbox.host import HostCapabilities
from loam.sandbox.template import TemplateManager

__all__ = ["EnvironmentFailed", "EnvironmentPool", "PoolStatistics"]

log = logging.getLogger("loam.sandbox")


@dataclass(frozen=True)
class PoolStatistics:
    idle: int
    busy: int
    created: int
    destroyed: int
    evictions: int


class EnvironmentPool:
    def __init__(
        self,
        host: HostCapabilities,
        data_dir: Path,
        clock: Clock,
        keep_alive_s: float,
        max_idle: int,
        templates: bool | None = None,
    ) -> None:
        host.require()
        assert host.cgroups is not None
        tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
        self.host = replace(host, cgroups=replace(host.cgroups, parent=f"loam-{tag}"))
        self.work_root = data_dir / "environments"
        self.clock = clock
        self.keep_alive_s = keep_alive_s
        self.max_idle = max_idle
        self._idle: dict[str, list[tuple[float, ExecutionEnvironment]]] = {}
        self._busy: set[ExecutionEnvironment] = set()
        self._created = self._destroyed = self._evictions = 0
        if templates is None:
            templates = templates_enabled()
        # Fork new environments of an initialised version from its template (template.py).
        self.templates = TemplateManager(self.host, self.work_root) if templates else None
        swept = sweep_leftovers(self.host, self.work_root)
        if swept:
            log.info("removed %d environments left by an earlier run", swept)

    @contextlib.asynccontextmanager
    async def environment(self, spec: EnvironmentSpec) -> AsyncIterator[ExecutionEnvironment]:
        """Lend an environment for one invocation. The borrower destroys it on failure."""
        env = self._take_idle(spec.key)
        if env is None and self.templates is not None:
            env = await self.templates.fork(spec)
            if env is not None:
                self._created += 1
                self._busy.add(env)
        if env is None:
            env = ExecutionEnvironment(spec, self.host, self.work_root)
            self._created += 1
            self._busy.add(env)
            try:
                await env.start()
            except BaseException:
                self._busy.discard(env)
                self._destroyed += 1
                await env.destroy("init-failed")
                raise
        else:
            self._busy.add(env)
        try:
            yield env
        finally:
            self._busy.discard(env)
            if env.destroyed is None and self.templates is not None \
                    and self.templates.is_stale(env):
                await env.destroy("retired")
            if env.destroyed is None:
                self._idle.setdefault(spec.key, []).append((self.clock.monotonic(), env))
            else:
                self._destroyed += 1
            await self._enforce_idle_cap()

    def _take_idle(self, key: str) -> ExecutionEnvironment | None:
        slot = self._idle.get(key)
        while slot:
            _, env = slot.pop()
            if env.destroyed is None:
                return env
        return None

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
        return len(expired)

    async def retire(self, function_name: str, keep_key: str | None = None) -> None:
        if self.templates is not None:
            await self.templates.retire(function_name, keep_key)
        for key in list(self._idle):
            slot = self._idle[key]
            if slot and slot[0][1].spec.function_name == function_name and key != keep_key:
                del self._idle[key]
                for _, env in slot:
                    await self._destroy(env, "retired")

    async def _enforce_idle_cap(self) -> None:
        idle = sorted((t, id(e), e) for slot in self._idle.values() for t, e in slot)
        excess = len(idle) - self.max_idle
        for _, _, env in idle[: max(0, excess)]:
            for key, slot in list(self._idle.items()):
                self._idle[key] = [(t, e) for t, e in slot if e is not env]
                if not self._idle[key]:
                    del self._idle[key]
            self._evictions += 1
            await self._destroy(env, "evicted")

    async def _destroy(self, env: ExecutionEnvironment, reason: str) -> None:
        self._destroyed += 1
        await env.destroy(reason)

    async def close(self) -> None:
        envs = [e for slot in self._idle.values() for _, e in slot] + list(self._busy)
        self._idle.clear()
        await asyncio.gather(*(e.destroy("shutdown") for e in envs), return_exceptions=True)
        if self.templates is not None:
            await self.templates.close()
        assert self.host.cgroups is not None
        remove_parent(self.host.cgroups)

    def statistics(self) -> PoolStatistics:
        idle = sum(len(s) for s in self._idle.values())
        return PoolStatistics(idle, len(self._busy), self._created, self._destroyed,
                              self._evictions)
