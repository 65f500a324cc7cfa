"""The engine side of provisioned concurrency: keep configured environments initialised.

A reconcile pass reads every configuration (``provisioned_targets``), asks
the pool to hold that many environments of each version, and records what
it achieved: the ``Status`` that Get/ListProvisionedConcurrencyConfig(s)
report — IN_PROGRESS while environments start, READY once all are up,
FAILED (with AWS's StatusReason) when the function's Init fails. Versions
no longer configured are released back to ordinary keep-alive.

Passes run in one task owned by the node (``run``): on every change
(``request``), and every ``interval_s`` while anything is provisioned (which
replaces provisioned environments that died).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from loam.control.functions import FunctionService
from loam.control.provisioned import ProvisionedStatus, provisioned_targets
from loam.invoke.admission import Admission
from loam.invoke.service import InvokeService
from loam.sandbox.environment import EnvironmentFailed, ExecutionEnvironment
from loam.sandbox.pool import EnvironmentPool
from loam.telemetry.logs import LogSink

__all__ = ["Provisioner"]

log = logging.getLogger("loam.invoke")

INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"


class Provisioner:
    def __init__(self, functions: FunctionService, invoker: InvokeService,
                 pool: EnvironmentPool, admission: Admission, logs: LogSink,
                 interval_s: float = 5.0) -> None:
        self.functions = functions
        self.invoker = invoker
        self.pool = pool
        self.admission = admission
        self.logs = logs
        self.interval_s = interval_s
        self._status: dict[tuple[str, str], ProvisionedStatus] = {}
        # (function, version) → the pool key its environments were provisioned under.
        self._keys: dict[tuple[str, str], str] = {}
        # (function, version) → (target, pool key) whose allocation failed.
        self._failed: dict[tuple[str, str], tuple[int, str]] = {}
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def status(self, name: str, version: str) -> ProvisionedStatus | None:
        return self._status.get((name, version))

    def request(self) -> None:
        """Ask for a pass soon; safe from any thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        while True:
            failed = False
            try:
                await self.reconcile()
            except Exception:  # supervisor loop: record and try again on the next pass
                log.exception("provisioning environments failed")
                failed = True
            if self._keys or failed:  # something to watch or retry: again every interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.interval_s)
            else:  # nothing provisioned: no store scan until a change asks for one
                await self._wake.wait()
            self._wake.clear()

    async def reconcile(self) -> None:
        targets = await asyncio.to_thread(provisioned_targets, self.functions)
        for key in [k for k in self._keys if k not in targets]:
            await self._release(key)
        for key, target in targets.items():
            await self._provision(key, target)
        self._status = {k: v for k, v in self._status.items() if k in targets}

    async def _provision(self, key: tuple[str, str], target: int) -> None:
        name, version = key
        fn = await asyncio.to_thread(self.functions.resolve, name, version)
        if fn.state != "Active":
            self._status[key] = ProvisionedStatus(0)
            return
        spec = await self.invoker.spec_for(fn)
        previous = self._keys.get(key)
        if previous is not None and previous != spec.key:
            await self.pool.release(previous)
        self._keys[key] = spec.key
        if self._failed.get(key) == (target, spec.key):
            return  # as AWS: a failed allocation stays failed until it is reconfigured
        self._failed.pop(key, None)
        self._status[key] = ProvisionedStatus(self.pool.provisioned_count(spec.key))
        try:
            live = await self.pool.provision(spec, target, self._started)
        except EnvironmentFailed as exc:
            log.warning("provisioned concurrency for %s:%s failed: %s", name, version, exc)
            self._failed[key] = (target, spec.key)
            self._status[key] = ProvisionedStatus(
                self.pool.provisioned_count(spec.key), "FAILED", INIT_FAILURE
            )
            return
        self._status[key] = ProvisionedStatus(live, "READY" if live >= target else "IN_PROGRESS")

    async def _release(self, key: tuple[str, str]) -> None:
        await self.pool.release(self._keys.pop(key))
        self._failed.pop(key, None)

    def _started(self, env: ExecutionEnvironment) -> None:
        """Init ran ahead of traffic: its log goes out now, and no REPORT claims it."""
        lines, _ = env.take_init_logs()
        if lines:
            self.logs.emit(env.spec.log_group, env.log_stream, "".join(lines))
