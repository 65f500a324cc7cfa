"""EventBridge schedule expressions: ``rate(...)`` and AWS's six-field ``cron(...)``.

``parse`` turns an expression into a ``Schedule`` or raises ``ScheduleError``
with the message ``PutRule`` answers for every invalid expression. All times
are UTC and every fire time falls on a whole minute.

Invariants:
- ``next_after(t)`` is strictly later than ``t`` and the earliest fire time
  that is; ``None`` once the schedule can never fire again (cron years end at
  2199).
- ``fires_between(a, b)`` is every fire time in ``(a, b]``, oldest first, at
  most ``limit`` of them.

A cron schedule is searched field by field (year, month, day, hour, minute),
so finding the next fire time costs a few loop steps per field, never a walk
minute by minute.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

__all__ = [
    "CronSchedule",
    "DayOfMonth",
    "DayOfWeek",
    "RateSchedule",
    "Schedule",
    "ScheduleError",
    "parse",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_YEAR = 1970
LAST_YEAR = 2199


class ScheduleError(ValueError):
    """An invalid schedule expression; the message is the one AWS sends."""

    code: ClassVar[str] = "ValidationException"
    status: ClassVar[int] = 400

    def __init__(self) -> None:
        super().__init__("Parameter ScheduleExpression is not valid.")
        self.message = "Parameter ScheduleExpression is not valid."


def parse(expression: str, created: datetime = EPOCH) -> Schedule:
    """Parse a ``ScheduleExpression``; ``created`` (the rule's creation time)
    sets the phase of a ``rate`` schedule and is ignored by ``cron``."""
    if expression.startswith("rate("):
        return _parse_rate(expression, created)
    if expression.startswith("cron("):
        return _parse_cron(expression)
    raise ScheduleError()


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("schedule times must be timezone-aware")
    return t.astimezone(UTC)


def _collect(
    schedule: RateSchedule | CronSchedule, a: datetime, b: datetime, limit: int
) -> list[datetime]:
    out: list[datetime] = []
    t = schedule.next_after(a)
    end = _utc(b)
    while t is not None and t <= end and len(out) < limit:
        out.append(t)
        t = schedule.next_after(t)
    return out


# --- rate ---------------------------------------------------------------------

_RATE = re.compile(r"rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)")
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
_MAX_RATE_MINUTES = 100 * 366 * 24 * 60  # a century: beyond it nothing would ever fire


@dataclass(frozen=True, slots=True)
class RateSchedule:
    """Fires every ``period`` from ``anchor`` (the rule's creation minute):
    at ``anchor + k * period`` for k >= 1."""

    expression: str
    period: timedelta
    anchor: datetime

    def next_after(self, t: datetime) -> datetime | None:
        t = _utc(t)
        if t < self.anchor + self.period:
            return self.anchor + self.period
        periods = (t - self.anchor) // self.period
        return self.anchor + (periods + 1) * self.period

    def fires_between(self, a: datetime, b: datetime, limit: int = 1000) -> list[datetime]:
        return _collect(self, a, b, limit)


def _parse_rate(expression: str, created: datetime) -> RateSchedule:
    match = _RATE.fullmatch(expression)
    if match is None:
        raise ScheduleError()
    amount = int(match.group(1))
    unit = match.group(2)
    # AWS: singular unit for exactly 1, plural for anything else, never 0.
    if amount < 1 or (amount == 1) != (not unit.endswith("s")):
        raise ScheduleError()
    period = amount * _UNIT[unit.rstrip("s")]
    if period > timedelta(minutes=_MAX_RATE_MINUTES):
        raise ScheduleError()
    anchor = _utc(created).replace(second=0, microsecond=0)
    return RateSchedule(expression, period, anchor)


# --- cron ---------------------------------------------------------------------

_MONTHS = {
    name: i + 1
    for i, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_CRON = re.compile(r"cron\((\S+(?: +\S+){5})\)")


@dataclass(frozen=True, slots=True)
class _Field:
    """Bounds of one cron field: values, the largest step and names."""

    low: int
    high: int
    max_step: int
    names: dict[str, int]
    cyclic: bool = True


_MINUTE = _Field(0, 59, 59, {})
_HOUR = _Field(0, 23, 23, {})
_DAY_OF_MONTH = _Field(1, 31, 31, {})
_MONTH = _Field(1, 12, 12, _MONTHS)
_DAY_OF_WEEK = _Field(1, 7, 7, _DAYS)
_YEAR = _Field(FIRST_YEAR, LAST_YEAR, LAST_YEAR - FIRST_YEAR, {}, cyclic=False)


@dataclass(frozen=True, slots=True)
class DayOfMonth:
    """The day-of-month field: plain days, ``L`` (last day), ``LW`` (last
    weekday) and ``nW`` (the weekday nearest day n, inside the month)."""

    days: frozenset[int]
    last: bool
    last_weekday: bool
    nearest_weekday: frozenset[int]

    def days_in(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        out = {d for d in self.days if d <= length}
        if self.last:
            out.add(length)
        if self.last_weekday:
            out.add(_nearest_weekday(year, month, length, length))
        for n in self.nearest_weekday:
            if n <= length:
                out.add(_nearest_weekday(year, month, n, length))
        return sorted(out)


@dataclass(frozen=True, slots=True)
class DayOfWeek:
    """The day-of-week field (1 = SUN … 7 = SAT): plain days, ``dL`` (the last
    such day of the month) and ``d#n`` (the n-th such day of the month)."""

    days: frozenset[int]
    last_of_month: frozenset[int]
    nth: frozenset[tuple[int, int]]

    def days_in(self, year: int, month: int) -> list[int]:
        length = calendar.monthrange(year, month)[1]
        first = _aws_weekday(year, month, 1)
        out: list[int] = []
        for day in range(1, length + 1):
            weekday = (first - 1 + day - 1) % 7 + 1
            if (
                weekday in self.days
                or (weekday in self.last_of_month and day + 7 > length)
                or (weekday, (day - 1) // 7 + 1) in self.nth
            ):
                out.append(day)
        return out


def _aws_weekday(year: int, month: int, day: int) -> int:
    return (calendar.weekday(year, month, day) + 1) % 7 + 1


def _nearest_weekday(year: int, month: int, day: int, length: int) -> int:
    """The Monday-to-Friday day nearest ``day`` without leaving the month."""
    weekday = _aws_weekday(year, month, day)
    if weekday == 7:  # Saturday: the Friday before, or the Monday after the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 1:  # Sunday: the Monday after, or the Friday before the last
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """AWS's ``cron(Minutes Hours Day-of-month Month Day-of-week Year)``;
    exactly one of the day fields is ``None`` (written ``?``)."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayOfMonth | None
    months: tuple[int, ...]
    day_of_week: DayOfWeek | None
    years: tuple[int, ...]

    def days_in(self, year: int, month: int) -> list[int]:
        if self.day_of_month is not None:
            return self.day_of_month.days_in(year, month)
        assert self.day_of_week is not None
        return self.day_of_week.days_in(year, month)

    def matches(self, t: datetime) -> bool:
        """Whether ``t`` (to the minute) is a fire time."""
        t = _utc(t)
        return (
            t.year in self.years
            and t.month in self.months
            and t.day in self.days_in(t.year, t.month)
            and t.hour in self.hours
            and t.minute in self.minutes
        )

    def next_after(self, t: datetime) -> datetime | None:
        start = _utc(t).replace(second=0, microsecond=0) + timedelta(minutes=1)
        for year in self.years:
            if year < start.year:
                continue
            same_year = year == start.year
            for month in self.months:
                if same_year and month < start.month:
                    continue
                same_month = same_year and month == start.month
                found = self._first_in_month(year, month, start if same_month else None)
                if found is not None:
                    return found
        return None

    def _first_in_month(self, year: int, month: int, start: datetime | None) -> datetime | None:
        """The first fire time in the month at or after ``start`` (or the
        month's first fire time when ``start`` is ``None``)."""
        for day in self.days_in(year, month):
            if start is not None and day < start.day:
                continue
            same_day = start is not None and day == start.day
            for hour in self.hours:
                if same_day and start is not None and hour < start.hour:
                    continue
                same_hour = same_day and start is not None and hour == start.hour
                for minute in self.minutes:
                    if same_hour and start is not None and minute < start.minute:
                        continue
                    return datetime(year, month, day, hour, minute, tzinfo=UTC)
        return None

    def fires_between(self, a: datetime, b: datetime, limit: int = 1000) -> list[datetime]:
        return _collect(self, a, b, limit)


def _parse_cron(expression: str) -> CronSchedule:
    match = _CRON.fullmatch(expression)
    if match is None:
        raise ScheduleError()
    minute, hour, dom, month, dow, year = match.group(1).split()
    if (dom == "?") == (dow == "?"):
        raise ScheduleError()  # exactly one of the day fields must be '?'
    return CronSchedule(
        expression=expression,
        minutes=_values(minute, _MINUTE),
        hours=_values(hour, _HOUR),
        day_of_month=None if dom == "?" else _parse_day_of_month(dom),
        months=_values(month, _MONTH),
        day_of_week=None if dow == "?" else _parse_day_of_week(dow),
        years=_values(year, _YEAR),
    )


def _values(text: str, field: _Field) -> tuple[int, ...]:
    out: set[int] = set()
    for item in text.split(","):
        out.update(_item(item, field))
    return tuple(sorted(out))


_ITEM = re.compile(r"(\*|[0-9A-Za-z]+)(?:-([0-9A-Za-z]+))?(?:/([0-9]+))?")


def _item(text: str, field: _Field) -> set[int]:
    """``*``, ``v``, ``a-b``, ``*/n``, ``a/n`` or ``a-b/n``; ranges may wrap
    round a cyclic field (``FRI-MON``, ``22-2``)."""
    match = _ITEM.fullmatch(text)
    if match is None:
        raise ScheduleError()
    first, last, step_text = match.groups()
    step = 1
    if step_text is not None:
        step = int(step_text)
        if not 1 <= step <= field.max_step:
            raise ScheduleError()
    if first == "*":
        if last is not None:
            raise ScheduleError()
        low, high = field.low, field.high
    else:
        low = _value(first, field)
        if last is not None:
            high = _value(last, field)
        elif step_text is not None:
            high = field.high
        else:
            return {low}
    if low <= high:
        return set(range(low, high + 1, step))
    if not field.cyclic:
        raise ScheduleError()
    span = high + (field.high - field.low + 1)
    return {
        (v - field.low) % (field.high - field.low + 1) + field.low
        for v in range(low, span + 1, step)
    }


def _value(text: str, field: _Field) -> int:
    if text.isdigit():
        value = int(text)
    elif text.upper() in field.names:
        value = field.names[text.upper()]
    else:
        raise ScheduleError()
    if not field.low <= value <= field.high:
        raise ScheduleError()
    return value


def _parse_day_of_month(text: str) -> DayOfMonth:
    days: set[int] = set()
    last = last_weekday = False
    nearest: set[int] = set()
    for item in text.split(","):
        if item == "L":
            last = True
        elif item == "LW":
            last_weekday = True
        elif item.endswith("W"):
            nearest.add(_value(item[:-1], _DAY_OF_MONTH))
        else:
            days.update(_item(item, _DAY_OF_MONTH))
    return DayOfMonth(frozenset(days), last, last_weekday, frozenset(nearest))


_NTH = re.compile(r"([0-9A-Za-z]+)#([1-5])")


def _parse_day_of_week(text: str) -> DayOfWeek:
    days: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in text.split(","):
        nth_match = _NTH.fullmatch(item)
        if nth_match is not None:
            nth.add((_value(nth_match.group(1), _DAY_OF_WEEK), int(nth_match.group(2))))
        elif item == "L":
            days.add(7)  # the last day of the week: Saturday
        elif item.endswith("L"):
            last.add(_value(item[:-1], _DAY_OF_WEEK))
        else:
            days.update(_item(item, _DAY_OF_WEEK))
    return DayOfWeek(frozenset(days), frozenset(last), frozenset(nth))


Schedule = RateSchedule | CronSchedule
"""A parsed ``ScheduleExpression``."""
