"""The invocation deadline (``environment._Deadline``): asyncio.timeout's answer, cheaper."""

from __future__ import annotations

import asyncio

import pytest

from loam.sandbox.environment import _Deadline


async def _wait(delay: float, hold: float) -> str:
    deadline = _Deadline(delay)
    try:
        await asyncio.sleep(hold)
    except asyncio.CancelledError:
        if deadline.close(cancelled=True):
            return "timeout"
        raise
    finally:
        deadline.close()
    return "done"


def test_a_deadline_that_passes_is_a_timeout_and_leaves_the_task_uncancelled() -> None:
    async def main() -> tuple[str, int]:
        outcome = await _wait(0.01, 5)
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0)  # no cancellation left pending on the task
        return outcome, task.cancelling()

    assert asyncio.run(main()) == ("timeout", 0)


def test_a_block_done_in_time_is_not_a_timeout() -> None:
    assert asyncio.run(_wait(5, 0.01)) == "done"


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def main() -> None:
        task = asyncio.create_task(_wait(5, 5))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
