"""The price table: the shipped one is AWS's us-east-1 prices; a user's is checked."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from loam.billing.prices import DEFAULT_PRICES, InvalidPriceTable, Tier, load_prices


def test_shipped_table_is_us_east_1() -> None:
    prices = load_prices()
    assert (prices.region, prices.currency) == ("us-east-1", "USD")
    assert prices.per_million_requests == D("0.20")
    assert prices.duration["x86_64"] == (Tier(D(6_000_000_000), D("0.0000166667")),
                                         Tier(D(15_000_000_000), D("0.0000150000")),
                                         Tier(None, D("0.0000133334")))
    assert [t.per_gb_second for t in prices.duration["arm64"]] == [
        D("0.0000133334"), D("0.0000120001"), D("0.0000106667")]
    assert prices.ephemeral_per_gb_second == D("0.0000000309")
    assert prices.provisioned_per_gb_second == {"x86_64": D("0.0000041667"),
                                                "arm64": D("0.0000033334")}
    assert prices.provisioned_duration_per_gb_second == {
        "x86_64": D("0.0000097222"), "arm64": D("0.0000077778")}
    assert (prices.free_requests, prices.free_gb_seconds) == (D(1_000_000), D(400_000))


def _table(tmp_path: Path, change: Any) -> Path:
    document = json.loads(DEFAULT_PRICES.read_text())
    change(document)
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(document))
    return path


def test_a_user_table_replaces_prices(tmp_path: Path) -> None:
    path = _table(tmp_path, lambda d: d["Requests"].update(PerMillion=0.25))
    assert load_prices(path).per_million_requests == D("0.25")


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d["Requests"].update(PerMillion=-1),
     "Requests.PerMillion: expected a non-negative number, not -1"),
    (lambda d: d["Requests"].update(PerMillion="cheap"),
     "Requests.PerMillion: expected a non-negative number, not 'cheap'"),
    (lambda d: d.pop("EphemeralStorage"), "EphemeralStorage: expected a JSON object"),
    (lambda d: d["Duration"].update(arm64=[]),
     "Duration.arm64: expected a non-empty list of tiers"),
    (lambda d: d["Duration"]["x86_64"][2].update(UpToGBSeconds=1),
     "Duration.x86_64[2].UpToGBSeconds: the last tier must be null"),
    (lambda d: d["Duration"]["x86_64"][1].update(UpToGBSeconds=6000000000),
     "Duration.x86_64[1].UpToGBSeconds: expected more than the tier before"),
    (lambda d: d["FreeTier"].update(Requests=True),
     "FreeTier.Requests: expected a non-negative number"),
])
def test_invalid_tables_say_where(tmp_path: Path, change: Any, message: str) -> None:
    path = _table(tmp_path, change)
    with pytest.raises(InvalidPriceTable) as err:
        load_prices(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_unreadable_and_non_json_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidPriceTable, match="cannot read it"):
        load_prices(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(InvalidPriceTable, match="not JSON"):
        load_prices(bad)
