"""The warm pool's policy, with fake environments and a fake clock: no sandboxes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from loam.clock import FakeClock
from loam.errors import TooManyRequestsException
from loam.sandbox.environment import EnvironmentFailed, EnvironmentSpec, ExecutionEnvironment
from loam.sandbox.host import HostCapabilities
from loam.sandbox.pool import EnvironmentPool


class FakeEnvironment:
    def __init__(self, spec: EnvironmentSpec, init_type: str, fail: bool = False) -> None:
        self.spec = spec
        self.initialization_type = init_type
        self.destroyed: str | None = None
        self.init_error: bytes | None = b"{}" if fail else None
        self.started = False
        self.log_stream = "stream"

    async def start(self) -> None:
        self.started = True

    async def destroy(self, reason: str) -> None:
        if self.destroyed is None:
            self.destroyed = reason

    def take_init_logs(self) -> tuple[list[str], float | None]:
        return [], None


class Harness:
    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock()
        self.made: list[FakeEnvironment] = []
        self.free = 8 << 30
        self.fail_init = False
        defaults: dict[str, Any] = {"keep_alive_s": 300.0, "max_idle": 10}
        defaults.update(options)
        self.pool = EnvironmentPool(
            cast(HostCapabilities, None), Path("/nonexistent"), self.clock,
            defaults.pop("keep_alive_s"), defaults.pop("max_idle"), templates=False,
            factory=self._make, memory=lambda: self.free, **defaults,
        )

    def _make(self, spec: EnvironmentSpec, init_type: str) -> ExecutionEnvironment:
        env = FakeEnvironment(spec, init_type, self.fail_init)
        self.made.append(env)
        return cast(ExecutionEnvironment, env)

    async def borrow(self, key: str, function: str = "f") -> ExecutionEnvironment:
        async with self.pool.environment(spec(key, function)) as env:
            return env


def spec(key: str, function: str = "f", family: str = "python") -> EnvironmentSpec:
    return cast(EnvironmentSpec, SimpleNamespace(
        key=key, function_name=function, log_group="/aws/lambda/f",
        runtime=SimpleNamespace(family=family),
    ))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_reuses_the_most_recently_used_idle_environment() -> None:
    async def scenario() -> None:
        h = Harness()
        first, second = spec("k"), spec("k")
        async with h.pool.environment(first) as a, h.pool.environment(second) as b:
            assert a is not b
        # The inner borrow (b) went back first, a last: a is lent first.
        assert await h.borrow("k") is a
        assert h.pool.statistics().idle == 2
    run(scenario())


def test_keep_alive_reaper_destroys_only_expired_environments() -> None:
    async def scenario() -> None:
        h = Harness(keep_alive_s=60)
        old = await h.borrow("old")
        h.clock.advance(50)
        young = await h.borrow("young")
        h.clock.advance(20)  # old idle for 70 s, young for 20 s
        assert await h.pool.reap() == 1
        assert cast(FakeEnvironment, old).destroyed == "idle-timeout"
        assert cast(FakeEnvironment, young).destroyed is None
        h.clock.advance(60)
        assert await h.pool.reap() == 1
        assert h.pool.statistics().idle == 0
    run(scenario())


def test_idle_cap_evicts_the_least_recently_used() -> None:
    async def scenario() -> None:
        h = Harness(max_idle=2)
        envs = []
        for key in ("a", "b", "c"):
            envs.append(await h.borrow(key))
            h.clock.advance(1)
        assert [cast(FakeEnvironment, e).destroyed for e in envs] == ["evicted", None, None]
        assert h.pool.statistics().evictions == 1
    run(scenario())


def test_memory_pressure_evicts_idle_environments_lru_first() -> None:
    async def scenario() -> None:
        h = Harness(min_free_bytes=1 << 30)
        a = await h.borrow("a")
        h.clock.advance(1)
        b = await h.borrow("b")
        h.free = 512 << 20  # below the 1 GiB floor
        calls = 0

        def recovering() -> int:
            nonlocal calls
            calls += 1
            return (512 << 20) if calls == 1 else (2 << 30)

        h.pool.memory = recovering
        await h.pool.reap()
        assert cast(FakeEnvironment, a).destroyed == "evicted"
        assert cast(FakeEnvironment, b).destroyed is None
    run(scenario())


def test_scaling_rate_limits_new_environments_per_function_per_window() -> None:
    async def scenario() -> None:
        h = Harness(scale_limit=2, scale_window_s=10.0)
        async with h.pool.environment(spec("k")), h.pool.environment(spec("k")):
            with pytest.raises(TooManyRequestsException) as info:
                async with h.pool.environment(spec("k")):
                    pass
            assert info.value.extra["Reason"] == "FunctionInvocationRateLimitExceeded"
            # Another function has its own budget.
            async with h.pool.environment(spec("other", "g")):
                pass
        # Reuse is not scaling: the two warm environments serve.
        async with h.pool.environment(spec("k")), h.pool.environment(spec("k")):
            pass
        h.clock.advance(10)
        async with h.pool.environment(spec("k")), h.pool.environment(spec("k")), \
                h.pool.environment(spec("k")):
            pass
        assert len(h.made) == 4
    run(scenario())


def test_provisioned_environments_are_used_first_and_never_reaped() -> None:
    async def scenario() -> None:
        h = Harness(keep_alive_s=60, max_idle=0)
        assert await h.pool.provision(spec("k"), 2) == 2
        provisioned = list(h.made)
        assert {e.initialization_type for e in provisioned} == {"provisioned-concurrency"}
        async with h.pool.environment(spec("k")) as a, h.pool.environment(spec("k")) as b, \
                h.pool.environment(spec("k")) as c:
            assert {id(a), id(b)} == {id(e) for e in provisioned}
            assert cast(FakeEnvironment, c).initialization_type == "on-demand"
        h.clock.advance(3600)
        await h.pool.reap()
        await h.pool.retire("f")
        assert all(e.destroyed is None for e in provisioned)
        assert h.pool.statistics().provisioned == 2
        # Lowering the target hands the surplus back to ordinary keep-alive.
        assert await h.pool.provision(spec("k"), 1) == 1
        h.clock.advance(61)
        await h.pool.reap()
        assert sorted(str(e.destroyed) for e in provisioned) == ["None", "idle-timeout"]
    run(scenario())


def test_provisioning_a_function_whose_init_fails_reports_it() -> None:
    async def scenario() -> None:
        h = Harness()
        h.fail_init = True
        with pytest.raises(EnvironmentFailed):
            await h.pool.provision(spec("k"), 1)
        assert h.made[0].destroyed == "init-failed"
        assert h.pool.provisioned_count("k") == 0
    run(scenario())


def test_release_turns_provisioned_environments_into_on_demand_ones() -> None:
    async def scenario() -> None:
        h = Harness(keep_alive_s=60)
        await h.pool.provision(spec("k"), 1)
        await h.pool.release("k")
        h.clock.advance(61)
        assert await h.pool.reap() == 1
        assert h.made[0].destroyed == "idle-timeout"
    run(scenario())


def test_unforkable_runtimes_keep_one_environment_started_ahead() -> None:
    async def scenario() -> None:
        h = Harness()
        node = spec("n", family="nodejs")
        async with h.pool.environment(node) as first:
            pass
        await asyncio.sleep(0)  # let the spare start
        await asyncio.gather(*h.pool._prestarting.values())
        assert len(h.made) == 2 and h.pool.statistics().idle == 2
        # Sequential traffic reuses the warm one; the spare stays put.
        async with h.pool.environment(node) as again:
            assert again is first
        assert len(h.made) == 2
        # Two at once take both; one more is started ahead for the next.
        async with h.pool.environment(node), h.pool.environment(node):
            await asyncio.gather(*h.pool._prestarting.values())
        assert len(h.made) == 3
        # Python forks from templates instead: no spare.
        async with h.pool.environment(spec("p")):
            pass
        assert not h.pool._prestarting and len(h.made) == 4
        await h.pool.close()
    run(scenario())
