"""The price table: what AWS Lambda charges, as data (``prices.json``).

The shipped table is us-east-1's on-demand prices. A user's own table
(``loam cost --prices FILE``) has the same format, checked member by member:
every price a non-negative number (a JSON number or a decimal string, read
as ``Decimal`` so no binary rounding creeps in), duration tiers per
architecture with increasing ``UpToGBSeconds`` and the last one open
(``null``), provisioned concurrency's ``PerGBSecond`` (configured time) and
``DurationPerGBSecond`` (invocations it served) each per architecture. A
table that does not fit is an ``InvalidPriceTable`` naming the member and
what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["ARCHITECTURES", "DEFAULT_PRICES", "InvalidPriceTable", "PriceTable", "Tier",
           "load_prices", "parse_prices"]

DEFAULT_PRICES = Path(__file__).with_name("prices.json")
ARCHITECTURES = ("x86_64", "arm64")


class InvalidPriceTable(ValueError):
    """The price table does not have the documented format."""


@dataclass(frozen=True)
class Tier:
    """GB-seconds of one month, on one architecture, up to ``up_to`` (None: no end)."""

    up_to: Decimal | None
    per_gb_second: Decimal


@dataclass(frozen=True)
class PriceTable:
    region: str
    currency: str
    per_million_requests: Decimal
    duration: dict[str, tuple[Tier, ...]]  # architecture → tiers, cheapest last
    ephemeral_per_gb_second: Decimal
    # Provisioned concurrency: configured time, and the duration of invocations it
    # served, per architecture (GB-seconds; no free tier).
    provisioned_per_gb_second: dict[str, Decimal]
    provisioned_duration_per_gb_second: dict[str, Decimal]
    free_requests: Decimal
    free_gb_seconds: Decimal


def load_prices(path: Path | None = None) -> PriceTable:
    """The table in ``path`` (default: the one loam ships)."""
    source = path or DEFAULT_PRICES
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidPriceTable(f"{source}: cannot read it: {exc.strerror or exc}") from None
    try:
        document = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise InvalidPriceTable(f"{source}: not JSON: {exc}") from None
    try:
        return parse_prices(document)
    except InvalidPriceTable as exc:
        raise InvalidPriceTable(f"{source}: {exc}") from None


def parse_prices(document: Any) -> PriceTable:
    root = _object(document, "the table")
    duration = _object(root.get("Duration"), "Duration")
    provisioned = _object(root.get("ProvisionedConcurrency"), "ProvisionedConcurrency")
    free = _object(root.get("FreeTier"), "FreeTier")
    return PriceTable(
        region=_text(root.get("Region"), "Region"),
        currency=_text(root.get("Currency"), "Currency"),
        per_million_requests=_amount(_object(root.get("Requests"), "Requests")
                                     .get("PerMillion"), "Requests.PerMillion"),
        duration={arch: _tiers(duration.get(arch), f"Duration.{arch}")
                  for arch in ARCHITECTURES},
        ephemeral_per_gb_second=_amount(
            _object(root.get("EphemeralStorage"), "EphemeralStorage").get("PerGBSecond"),
            "EphemeralStorage.PerGBSecond"),
        provisioned_per_gb_second=_per_architecture(provisioned.get("PerGBSecond"),
                                                    "ProvisionedConcurrency.PerGBSecond"),
        provisioned_duration_per_gb_second=_per_architecture(
            provisioned.get("DurationPerGBSecond"), "ProvisionedConcurrency.DurationPerGBSecond"),
        free_requests=_amount(free.get("Requests"), "FreeTier.Requests"),
        free_gb_seconds=_amount(free.get("GBSeconds"), "FreeTier.GBSeconds"),
    )


def _tiers(raw: Any, where: str) -> tuple[Tier, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidPriceTable(f"{where}: expected a non-empty list of tiers")
    tiers: list[Tier] = []
    for index, item in enumerate(raw):
        at = f"{where}[{index}]"
        tier = _object(item, at)
        last = index == len(raw) - 1
        up_to = tier.get("UpToGBSeconds")
        if last and up_to is not None:
            raise InvalidPriceTable(f"{at}.UpToGBSeconds: the last tier must be null "
                                    "(it has no end)")
        limit = None if last else _amount(up_to, f"{at}.UpToGBSeconds")
        if limit is not None and tiers and tiers[-1].up_to is not None \
                and limit <= tiers[-1].up_to:
            raise InvalidPriceTable(f"{at}.UpToGBSeconds: expected more than the tier "
                                    f"before ({tiers[-1].up_to})")
        tiers.append(Tier(limit, _amount(tier.get("PerGBSecond"), f"{at}.PerGBSecond")))
    return tuple(tiers)


def _per_architecture(raw: Any, where: str) -> dict[str, Decimal]:
    prices = _object(raw, where)
    return {arch: _amount(prices.get(arch), f"{where}.{arch}") for arch in ARCHITECTURES}


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidPriceTable(f"{where}: expected a JSON object")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidPriceTable(f"{where}: expected a non-empty string")
    return raw


def _amount(raw: Any, where: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
        raise InvalidPriceTable(f"{where}: expected a non-negative number")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise InvalidPriceTable(f"{where}: expected a non-negative number, "
                                f"not {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise InvalidPriceTable(f"{where}: expected a non-negative number, not {raw!r}")
    return value
