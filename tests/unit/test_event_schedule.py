from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from loam.services.events.schedule import CronSchedule, RateSchedule, ScheduleError, parse


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fires(expression: str, start: datetime, count: int) -> list[datetime]:
    schedule = parse(expression)
    out: list[datetime] = []
    t: datetime | None = start
    for _ in range(count):
        assert t is not None
        t = schedule.next_after(t)
        if t is None:
            break
        out.append(t)
    return out


# Tuesday 2024-01-02 09:30 UTC; 2024 is a leap year.
START = at(2024, 1, 2, 9, 30)


# --- the EventBridge user guide's cron examples ----------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # 10:00 am every day
        ("cron(0 10 * * ? *)", [at(2024, 1, 2, 10), at(2024, 1, 3, 10), at(2024, 1, 4, 10)]),
        # 12:15 pm every day
        ("cron(15 12 * * ? *)", [at(2024, 1, 2, 12, 15), at(2024, 1, 3, 12, 15)]),
        # 6:00 pm Monday to Friday: Tue..Fri then the next Monday
        (
            "cron(0 18 ? * MON-FRI *)",
            [
                at(2024, 1, 2, 18),
                at(2024, 1, 3, 18),
                at(2024, 1, 4, 18),
                at(2024, 1, 5, 18),
                at(2024, 1, 8, 18),
            ],
        ),
        # 8:00 am on the first day of every month
        ("cron(0 8 1 * ? *)", [at(2024, 2, 1, 8), at(2024, 3, 1, 8), at(2024, 4, 1, 8)]),
        # every 15 minutes
        (
            "cron(0/15 * * * ? *)",
            [at(2024, 1, 2, 9, 45), at(2024, 1, 2, 10), at(2024, 1, 2, 10, 15)],
        ),
        # every 10 minutes Monday to Friday
        ("cron(0/10 * ? * MON-FRI *)", [at(2024, 1, 2, 9, 40), at(2024, 1, 2, 9, 50)]),
        # every 5 minutes Monday to Friday between 8:00 am and 5:55 pm
        ("cron(0/5 8-17 ? * MON-FRI *)", [at(2024, 1, 2, 9, 35), at(2024, 1, 2, 9, 40)]),
        # 9:00 am on the first Monday of each month
        ("cron(0 9 ? * 2#1 *)", [at(2024, 2, 5, 9), at(2024, 3, 4, 9), at(2024, 4, 1, 9)]),
        # midnight on the last day of each month (leap February)
        ("cron(0 0 L * ? *)", [at(2024, 1, 31), at(2024, 2, 29), at(2024, 3, 31), at(2024, 4, 30)]),
        # midnight on the last weekday of each month (March 31 2024 is a Sunday)
        ("cron(0 0 LW * ? *)", [at(2024, 1, 31), at(2024, 2, 29), at(2024, 3, 29)]),
        # midnight on the weekday nearest the 15th (June 15 2024 is a Saturday)
        ("cron(0 0 15W * ? *)", [at(2024, 1, 15), at(2024, 2, 15), at(2024, 3, 15)]),
        # 2:05 pm and 2:35 pm every day
        ("cron(5,35 14 * * ? *)", [at(2024, 1, 2, 14, 5), at(2024, 1, 2, 14, 35)]),
        # 2:00 am on the third Saturday of every month
        ("cron(0 2 ? * SAT#3 *)", [at(2024, 1, 20, 2), at(2024, 2, 17, 2)]),
        # every 30 minutes between 8:00 pm and 11:59 pm Monday to Friday
        ("cron(0/30 20-23 ? * MON-FRI *)", [at(2024, 1, 2, 20), at(2024, 1, 2, 20, 30)]),
    ],
)
def test_documented_examples(expression: str, expected: list[datetime]) -> None:
    assert fires(expression, START, len(expected)) == expected


def test_last_friday_in_a_bounded_range_of_years() -> None:
    # "10:15 am on the last Friday of every month during 2002-2005"
    schedule = parse("cron(15 10 ? * 6L 2002-2005)")
    assert schedule.next_after(at(2001, 6, 1)) == at(2002, 1, 25, 10, 15)
    assert schedule.next_after(at(2005, 12, 30, 10, 15)) is None
    assert schedule.next_after(at(2005, 12, 1)) == at(2005, 12, 30, 10, 15)


def test_first_five_days_of_january_2022() -> None:
    schedule = parse("cron(0/5 5 ? JAN 1-5 2022)")
    # 1-5 is SUN-THU in the day-of-week field: Jan 2 2022 is the first Sunday.
    assert schedule.next_after(at(2021, 12, 31)) == at(2022, 1, 2, 5)
    assert schedule.next_after(at(2022, 1, 31, 5, 55)) is None
    assert schedule.next_after(at(2022, 1, 31, 5, 50)) == at(2022, 1, 31, 5, 55)


# --- month ends, leap years, W, L, # -----------------------------------------------


def test_february_29_fires_only_in_leap_years() -> None:
    assert fires("cron(0 0 29 2 ? *)", at(2024, 3, 1), 3) == [
        at(2028, 2, 29),
        at(2032, 2, 29),
        at(2036, 2, 29),
    ]
    # 2100 is not a leap year.
    assert parse("cron(0 0 29 2 ? 2097-2104)").next_after(at(2096, 3, 1)) == at(2104, 2, 29)


def test_day_31_skips_shorter_months() -> None:
    assert fires("cron(0 0 31 * ? *)", at(2024, 1, 31), 3) == [
        at(2024, 3, 31),
        at(2024, 5, 31),
        at(2024, 7, 31),
    ]


def test_last_day_of_february_in_a_common_year() -> None:
    assert parse("cron(0 0 L 2 ? *)").next_after(at(2023, 1, 1)) == at(2023, 2, 28)


@pytest.mark.parametrize(
    ("expression", "month", "expected_day"),
    [
        ("cron(0 0 1W * ? *)", (2024, 6), 3),  # 1st is Saturday -> Monday 3rd, not May 31
        ("cron(0 0 1W * ? *)", (2024, 9), 2),  # 1st is Sunday -> Monday 2nd
        ("cron(0 0 15W * ? *)", (2024, 6), 14),  # Saturday -> Friday
        ("cron(0 0 15W * ? *)", (2024, 9), 16),  # Sunday -> Monday
        ("cron(0 0 30W * ? *)", (2024, 6), 28),  # Sunday the 30th is the last day -> Friday
        ("cron(0 0 31W * ? *)", (2024, 8), 30),  # Saturday -> Friday
        ("cron(0 0 LW * ? *)", (2024, 6), 28),  # last day Sunday -> Friday
        ("cron(0 0 LW * ? *)", (2024, 8), 30),  # last day Saturday -> Friday
        ("cron(0 0 LW * ? *)", (2024, 7), 31),  # last day Wednesday
    ],
)
def test_nearest_weekday(expression: str, month: tuple[int, int], expected_day: int) -> None:
    year, number = month
    before = at(year, number, 1) - timedelta(minutes=1)
    assert parse(expression).next_after(before) == at(year, number, expected_day)


def test_nth_weekday_skips_months_without_it() -> None:
    # Fifth Friday: 2024 has them in March, May, August, November.
    assert [t.month for t in fires("cron(0 0 ? * FRI#5 2024)", at(2024, 1, 1), 5)] == [
        3,
        5,
        8,
        11,
    ]


def test_last_day_of_week_forms() -> None:
    assert parse("cron(0 0 ? * 2L *)").next_after(at(2024, 1, 1)) == at(2024, 1, 29)
    assert parse("cron(0 0 ? * MONL *)").next_after(at(2024, 1, 1)) == at(2024, 1, 29)
    # A lone L in day-of-week is the last day of the week: Saturday.
    assert parse("cron(0 0 ? * L *)").next_after(at(2024, 1, 1)) == at(2024, 1, 6)


def test_names_lists_wrapping_ranges_and_steps() -> None:
    assert [t.month for t in fires("cron(0 0 1 JAN,JUL ? *)", at(2024, 1, 2), 2)] == [7, 1]
    assert [t.weekday() for t in fires("cron(0 0 ? * FRI-MON *)", START, 4)] == [4, 5, 6, 0]
    assert [t.hour for t in fires("cron(0 22-2 * * ? *)", at(2024, 1, 2, 12), 5)] == [
        22,
        23,
        0,
        1,
        2,
    ]
    assert [t.minute for t in fires("cron(10-30/10 * * * ? *)", at(2024, 1, 1), 4)] == [
        10,
        20,
        30,
        10,
    ]
    assert [t.minute for t in fires("cron(50/5 * * * ? *)", at(2024, 1, 1), 3)] == [50, 55, 50]
    assert [t.year for t in fires("cron(0 0 1 1 ? 2030/10)", at(2024, 1, 1), 3)] == [
        2030,
        2040,
        2050,
    ]


def test_day_of_month_step() -> None:
    assert [t.day for t in fires("cron(0 0 1/10 * ? *)", at(2024, 1, 1), 4)] == [11, 21, 31, 1]


def test_the_last_year_is_2199() -> None:
    schedule = parse("cron(0 0 31 12 ? *)")
    assert schedule.next_after(at(2199, 12, 30)) == at(2199, 12, 31)
    assert schedule.next_after(at(2199, 12, 31)) is None


def test_next_after_is_strictly_later_and_ignores_seconds() -> None:
    schedule = parse("cron(* * * * ? *)")
    assert schedule.next_after(at(2024, 1, 1, 0, 0)) == at(2024, 1, 1, 0, 1)
    assert schedule.next_after(at(2024, 1, 1) + timedelta(seconds=59)) == at(2024, 1, 1, 0, 1)


def test_other_time_zones_are_converted_to_utc() -> None:
    from datetime import timezone

    paris = timezone(timedelta(hours=1))
    schedule = parse("cron(0 10 * * ? *)")
    assert schedule.next_after(datetime(2024, 1, 2, 10, 30, tzinfo=paris)) == at(2024, 1, 2, 10)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError):
        parse("cron(0 10 * * ? *)").next_after(datetime(2024, 1, 1))


def test_a_month_with_no_fire_is_searched_quickly() -> None:
    schedule = parse("cron(0 0 30 2 ? *)")
    begin = time.perf_counter()
    assert schedule.next_after(at(1970, 1, 1)) is None
    typical = parse("cron(0/5 8-17 ? * MON-FRI *)")
    for _ in range(1000):
        typical.next_after(START)
    assert time.perf_counter() - begin < 2.0  # ~0.05 s on a laptop


# --- rate ------------------------------------------------------------------------


def test_rate_fires_from_the_rules_creation_minute() -> None:
    created = at(2024, 1, 2, 9, 30) + timedelta(seconds=42)
    schedule = parse("rate(5 minutes)", created)
    assert isinstance(schedule, RateSchedule)
    assert schedule.next_after(created) == at(2024, 1, 2, 9, 35)
    assert schedule.next_after(at(2024, 1, 2, 9, 35)) == at(2024, 1, 2, 9, 40)
    assert schedule.next_after(at(2024, 1, 2, 9, 37)) == at(2024, 1, 2, 9, 40)
    assert schedule.next_after(at(2020, 1, 1)) == at(2024, 1, 2, 9, 35)


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(2 minutes)", timedelta(minutes=2)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_rate_units(expression: str, period: timedelta) -> None:
    schedule = parse(expression, START)
    assert schedule.fires_between(START, START + 3 * period) == [
        START + period,
        START + 2 * period,
        START + 3 * period,
    ]


def test_fires_between_excludes_the_start_includes_the_end_and_is_capped() -> None:
    schedule = parse("cron(0 * * * ? *)")
    window = schedule.fires_between(at(2024, 1, 1, 0), at(2024, 1, 1, 3))
    assert window == [at(2024, 1, 1, 1), at(2024, 1, 1, 2), at(2024, 1, 1, 3)]
    assert schedule.fires_between(at(2024, 1, 1), at(2025, 1, 1), limit=5) == [
        at(2024, 1, 1, h) for h in range(1, 6)
    ]
    assert schedule.fires_between(at(2024, 1, 1, 3), at(2024, 1, 1, 2)) == []


# --- invalid expressions -------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        # rate: AWS accepts the singular only for 1 and the plural only otherwise
        "rate(10 seconds)",
        "rate(10 years)",
        "rate(1 minutes)",
        "rate(1 hours)",
        "rate(1 days)",
        "rate(10 minute)",
        "rate(10 hour)",
        "rate(10 day)",
        "rate()",
        "rate(10)",
        "rate(10 minutess)",
        "rate(foo minutes)",
        "rate(0 minutes)",
        "rate(0 minute)",
        "rate(-10 minutes)",
        "rate(10 MINUTES)",
        "rate( 10 minutes )",
        " rate(10 minutes)",
        "rate(10  minutes)",
        # cron
        "cron(0 1 * * * *)",  # day-of-month and day-of-week both given
        "cron(0 1 ? * ? *)",  # neither given
        "cron(7 20 * * NOT *)",
        "cron(INVALID)",
        "cron(0 dummy ? * MON-FRI *)",
        "cron(71 8 1 * ? *)",
        "cron(*/60 * * * ? *)",  # step larger than the field
        "cron(15 12 ? * -1 *)",
        "cron(15 12 * * 0)",  # five fields
        "cron(0 0 * * ? * *)",  # seven fields
        "cron(0 24 * * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 * 13 ? *)",
        "cron(0 0 ? * 0 *)",
        "cron(0 0 ? * 8 *)",
        "cron(0 0 ? * MON#6 *)",
        "cron(0 0 ? * MON#0 *)",
        "cron(0 0 * * ? 1969)",
        "cron(0 0 * * ? 2200)",
        "cron(0 0 * * ? 2030-2020)",
        "cron(0/0 * * * ? *)",
        "cron(0 0 ? JANUARY * *)",
        "cron(0 0 32W * ? *)",
        "cron(0 0 ? * 8L *)",
        "cron(0 0 ? * ? *)",
        "cron(0 0 ? * * ?)",  # '?' only in the day fields
        "cron( 0 0 * * ? *)",
        "cron(0 0 * * ? *",
        "CRON(0 0 * * ? *)",
        "at(2024-01-01T00:00:00)",
        "",
    ],
)
def test_invalid_expressions_raise_aws_message(expression: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse(expression)
    assert str(info.value) == "Parameter ScheduleExpression is not valid."
    assert info.value.code == "ValidationException"


# --- properties against an independent day-by-day reference ---------------------------

_DAY_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _aws_weekday(d: date) -> int:
    return (d.isoweekday() % 7) + 1  # SUN=1 … SAT=7


def _weekdays_of_month(d: date) -> list[date]:
    first = d.replace(day=1)
    days = [first + timedelta(days=i) for i in range(31)]
    return [x for x in days if x.month == d.month and x.isoweekday() <= 5]


def _reference_day(field_dom: str, field_dow: str, d: date) -> bool:
    """Day matching written from the user guide's wording, independently."""
    if field_dom != "?":
        for item in field_dom.split(","):
            if item == "*":
                return True
            if item == "L" and (d + timedelta(days=1)).month != d.month:
                return True
            if item == "LW" and d == _weekdays_of_month(d)[-1]:
                return True
            if item.endswith("W") and item != "LW":
                try:
                    target = d.replace(day=int(item[:-1]))
                except ValueError:
                    continue  # no such day this month: never fires
                nearest = min(_weekdays_of_month(d), key=lambda x: abs((x - target).days))
                if nearest == d:
                    return True
            if item.isdigit() and int(item) == d.day:
                return True
        return False
    weekday = _aws_weekday(d)
    for item in field_dow.split(","):
        if item == "*":
            return True
        if "#" in item:
            name, nth = item.split("#")
            if _DAY_NAMES.index(name) + 1 == weekday and (d.day - 1) // 7 + 1 == int(nth):
                return True
        elif item.endswith("L"):
            if (
                _DAY_NAMES.index(item[:-1]) + 1 == weekday
                and (d + timedelta(days=7)).month != d.month
            ):
                return True
        elif "-" in item:
            low, high = (_DAY_NAMES.index(x) + 1 for x in item.split("-"))
            if low <= weekday <= high:
                return True
        elif _DAY_NAMES.index(item) + 1 == weekday:
            return True
    return False


def _random_expression(rng: random.Random) -> tuple[str, str, str, str, str]:
    minute = rng.choice(["0", "*/15", "5,35", "0-10/5", "59", "30/7"])
    hour = rng.choice(["*", "0", "9-17", "23", "0/6", "3,15"])
    month = rng.choice(["*", "2", "FEB,MAR", "1-6", "*/4", "DEC"])
    if rng.random() < 0.5:
        dom = rng.choice(["*", "L", "LW", "1", "15W", "31", "29", "1W", "30W", "31W", "1,15,L"])
        dow = "?"
    else:
        dom = "?"
        dow = rng.choice(["MON", "SUN-SAT", "MON-FRI", "FRI#5", "MON#1", "FRIL", "SAT,SUN"])
    return minute, hour, dom, month, dow


def _reference_next(fields: tuple[str, str, str, str, str], after: datetime) -> datetime | None:
    minute, hour, dom, month, dow = fields
    schedule = parse(f"cron({minute} {hour} {dom} {month} {dow} *)")
    assert isinstance(schedule, CronSchedule)
    d = after.date()
    while d < after.date() + timedelta(days=29 * 366):  # the calendar repeats every 28 years
        if d.month in schedule.months and _reference_day(dom, dow, d):
            for h in schedule.hours:
                for m in schedule.minutes:
                    t = datetime(d.year, d.month, d.day, h, m, tzinfo=UTC)
                    if t > after:
                        return t
        d += timedelta(days=1)
    return None


def test_next_after_agrees_with_a_day_by_day_reference() -> None:
    rng = random.Random(20240229)
    for _ in range(300):
        fields = _random_expression(rng)
        expression = "cron({} {} {} {} {} *)".format(*fields)
        schedule = parse(expression)
        assert isinstance(schedule, CronSchedule)
        t = at(2023, 1, 1) + timedelta(minutes=rng.randrange(4 * 366 * 24 * 60))
        for _ in range(3):
            following = schedule.next_after(t)
            assert following == _reference_next(fields, t), (expression, t)
            if following is None:
                break  # e.g. the 30th of February: never
            assert following > t, expression
            assert schedule.matches(following), expression
            t = following
