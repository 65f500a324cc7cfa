"""The EventBridge-compatible service: schedule expressions and event patterns."""

from loam.services.events.patterns import InvalidEventPatternError, Pattern
from loam.services.events.patterns import compile as compile_pattern
from loam.services.events.schedule import (
    CronSchedule,
    RateSchedule,
    Schedule,
    ScheduleError,
)
from loam.services.events.schedule import parse as parse_schedule

__all__ = [
    "CronSchedule",
    "InvalidEventPatternError",
    "Pattern",
    "RateSchedule",
    "Schedule",
    "ScheduleError",
    "compile_pattern",
    "parse_schedule",
]
