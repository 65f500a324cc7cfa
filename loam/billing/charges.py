"""``EstimatedCharges``: the month-to-date bill, as AWS/Billing publishes it.

AWS/Billing's ``EstimatedCharges`` is a running total: at any moment, what
the current calendar month (UTC) has cost so far, in USD. Here it is worked
out by ``estimate`` (the code ``loam cost`` uses) over the stored hourly
usage of the month up to that moment, with the free tier applied to the
account's total. A function's series is its share of that bill: account-wide
charges (requests beyond the free million, a duration tier, the free
GB-seconds used up) are split between functions in proportion to what each
used, so the function series add up to the ``Currency``-only series.

Each period's datapoint is the total as of the period's end (or now); a
period before the month's first usage has none.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

from loam.billing.estimate import Usage, estimate, month_of
from loam.billing.prices import PriceTable
from loam.billing.usage import UsageRow

__all__ = ["month_start", "month_to_date", "usage_lines"]


def usage_lines(rows: Iterable[UsageRow]) -> list[Usage]:
    """Stored hourly rows as the estimate's usage lines (merged per month there)."""
    return [Usage(r.function, r.architecture, month_of(r.hour), r.requests, r.gb_seconds,
                  r.ephemeral_gb_seconds, r.provisioned_gb_seconds,
                  r.provisioned_duration_gb_seconds)
            for r in rows]


def month_start(epoch: float) -> int:
    """The first second (UTC) of the calendar month ``epoch`` falls in."""
    t = time.gmtime(epoch)
    return calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0))


def month_to_date(rows: Sequence[UsageRow], prices: PriceTable, slots: Sequence[int],
                  period: int, now: float, function: str | None) -> dict[int, Decimal]:
    """Slot start → the month-to-date charge as of min(slot end, now), for ``function``
    (None: the account). ``rows`` sorted by hour."""
    values: dict[int, Decimal] = {}
    included: list[UsageRow] = []
    index = 0
    month = ""
    last: Decimal | None = None
    for slot in slots:
        as_of = min(slot + period, now)
        if as_of <= slot:
            break
        slot_month = month_of(as_of - 1)
        if slot_month != month:
            month, included, last = slot_month, [], None
        added = False
        while index < len(rows) and rows[index].hour < as_of:
            row = rows[index]
            index += 1
            if month_of(row.hour) == month:
                included.append(row)
                added = True
        if added or last is None:
            last = _charge(included, prices, function)
        if last is not None:
            values[slot] = last
    return values


def _charge(rows: list[UsageRow], prices: PriceTable, function: str | None) -> Decimal | None:
    costs = estimate(usage_lines(rows), prices)
    mine = [c.total for c in costs if function is None or c.usage.function == function]
    return sum(mine, Decimal(0)) if mine else None
