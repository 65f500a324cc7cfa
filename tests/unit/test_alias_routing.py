from __future__ import annotations

import random
from collections import Counter

from loam.control.models import Alias


def test_weighted_split_is_within_three_percent_over_10000_draws() -> None:
    alias = Alias("fn", "canary", "1", weights={"2": 0.25})
    rng = random.Random(20261122)
    counts = Counter(alias.pick_version(rng) for _ in range(10_000))
    assert abs(counts["2"] / 10_000 - 0.25) <= 0.03
    assert counts["1"] + counts["2"] == 10_000


def test_unweighted_alias_always_picks_its_version() -> None:
    alias = Alias("fn", "prod", "7")
    rng = random.Random(1)
    assert {alias.pick_version(rng) for _ in range(100)} == {"7"}


def test_alias_round_trips_through_its_record() -> None:
    alias = Alias("fn", "prod", "3", "desc", {"4": 0.5}, "rev")
    assert Alias.from_record(alias.to_record()) == alias
