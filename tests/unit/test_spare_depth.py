"""How many forks a template keeps prepared (``SpareDepth``), on a fake clock."""

from __future__ import annotations

from loam.clock import FakeClock
from loam.sandbox.template import MAX_SPARES, SPARE_DECAY_S, SpareDepth


def test_a_new_template_keeps_the_most_spares() -> None:
    depth = SpareDepth(FakeClock())
    assert depth.current() == MAX_SPARES == 4


def test_one_fewer_per_quiet_spell_down_to_one() -> None:
    clock = FakeClock()
    depth = SpareDepth(clock)
    clock.advance(SPARE_DECAY_S - 1)
    assert depth.current() == 4  # not quiet long enough yet
    seen = []
    for _ in range(5):
        clock.advance(SPARE_DECAY_S + 1)
        seen += [depth.current(), depth.current()]  # asking twice changes nothing
    assert seen == [3, 3, 2, 2, 1, 1, 1, 1, 1, 1]


def test_a_miss_keeps_one_more_and_restarts_the_quiet_spell() -> None:
    clock = FakeClock()
    depth = SpareDepth(clock)
    for _ in range(3):
        clock.advance(SPARE_DECAY_S + 1)
        depth.current()
    assert depth.current() == 1
    clock.advance(SPARE_DECAY_S - 1)
    depth.missed()
    assert depth.current() == 2
    clock.advance(SPARE_DECAY_S - 1)  # quiet again, but not since the miss
    assert depth.current() == 2
    for _ in range(5):
        depth.missed()
    assert depth.current() == MAX_SPARES
