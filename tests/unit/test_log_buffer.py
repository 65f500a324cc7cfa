"""An environment's per-invocation output buffer: bounded, with the overflow handed on
(oldest first) or, without a receiver, dropped with a notice."""

from __future__ import annotations

from loam.sandbox.environment import LogBuffer


def test_overflow_goes_to_the_spill_in_order_and_the_tail_stays() -> None:
    spilled: list[str] = []
    buffer = LogBuffer(10)
    buffer.spill = spilled.append
    for line in ("aaaa\n", "bbbb\n", "cccc\n", "dddd\n"):
        buffer.append(line)
    assert "".join(spilled) == "aaaa\nbbbb\n"
    assert buffer.take() == ["cccc\n", "dddd\n"]  # no notice: nothing was lost


def test_without_a_spill_the_oldest_are_dropped_with_a_notice() -> None:
    buffer = LogBuffer(10)
    for line in ("aaaa\n", "bbbb\n", "cccc\n"):
        buffer.append(line)
    assert buffer.take() == ["[loam] 5 characters of log output were dropped\n",
                             "bbbb\n", "cccc\n"]
    assert buffer.take() == []
