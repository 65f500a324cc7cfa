"""Leaf matchers of the event-pattern language: one test of one JSON value.

A leaf value is what an event holds at a pattern's field once arrays are
flattened: a string, a number, a boolean or null (objects are never leaves).
Every matcher is type-aware as EventBridge is: the string ``"5"`` never equals
the number ``5``, ``true`` never equals ``1``, and string matchers (prefix,
suffix, wildcard, equals-ignore-case, cidr) never match a number.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

__all__ = [
    "AnythingBut",
    "Cidr",
    "EqualsIgnoreCase",
    "Exact",
    "Leaf",
    "Matcher",
    "Numeric",
    "Prefix",
    "Suffix",
    "Wildcard",
    "is_number",
    "looks_like_ip",
    "parse_ip",
    "wildcard_regex",
]

Leaf = str | int | float | Decimal | bool | None

_IPV4 = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Matcher(Protocol):
    def matches(self, value: Leaf) -> bool:
        """Whether one leaf value satisfies this matcher."""


def is_number(value: Leaf) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def looks_like_ip(text: str) -> bool:
    """Whether ``text`` is spelt like an IPv4 or IPv6 literal."""
    return bool(_IPV4.fullmatch(text) or _IPV6.fullmatch(text))


def parse_ip(text: str) -> IPAddress | None:
    """An IPv4 or IPv6 literal as an address, or ``None`` for anything else."""
    if not looks_like_ip(text):
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Exact:
    """A literal: string, number, boolean or null. A string that is an IP
    literal also matches other spellings of the same address."""

    value: Leaf

    def matches(self, value: Leaf) -> bool:
        expected = self.value
        if expected is None or isinstance(expected, bool):
            return value is expected
        if isinstance(expected, str):
            if not isinstance(value, str):
                return False
            if value == expected:
                return True
            ip = parse_ip(expected)
            return ip is not None and parse_ip(value) == ip
        return is_number(value) and value == expected


@dataclass(frozen=True, slots=True)
class Prefix:
    text: str
    ignore_case: bool = False

    def matches(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        if self.ignore_case:
            return value.lower().startswith(self.text.lower())
        return value.startswith(self.text)


@dataclass(frozen=True, slots=True)
class Suffix:
    text: str
    ignore_case: bool = False

    def matches(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        if self.ignore_case:
            return value.lower().endswith(self.text.lower())
        return value.endswith(self.text)


@dataclass(frozen=True, slots=True)
class EqualsIgnoreCase:
    text: str

    def matches(self, value: Leaf) -> bool:
        return isinstance(value, str) and value.lower() == self.text.lower()


def wildcard_regex(text: str) -> re.Pattern[str]:
    """``*`` matches any run of characters; ``\\*`` is a literal star and
    ``\\\\`` a literal backslash (the pattern was validated beforehand)."""
    parts: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            parts.append(re.escape(text[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        i += 1
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True, slots=True)
class Wildcard:
    regex: re.Pattern[str]

    def matches(self, value: Leaf) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Numeric:
    """A range over numbers, compared as doubles as EventBridge does; a bound
    of ``None`` is unbounded. ``=`` is the closed range ``[v, v]``."""

    low: float | None
    low_open: bool
    high: float | None
    high_open: bool

    def matches(self, value: Leaf) -> bool:
        if not is_number(value):
            return False
        assert isinstance(value, int | float | Decimal)
        try:
            number = float(value)
        except OverflowError:
            return False
        if self.low is not None and (number < self.low or (self.low_open and number == self.low)):
            return False
        return not (
            self.high is not None
            and (number > self.high or (self.high_open and number == self.high))
        )


@dataclass(frozen=True, slots=True)
class Cidr:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network

    def matches(self, value: Leaf) -> bool:
        if not isinstance(value, str):
            return False
        ip = parse_ip(value)
        return ip is not None and ip.version == self.network.version and ip in self.network


@dataclass(frozen=True, slots=True)
class AnythingBut:
    """Matches every leaf value that none of ``excluded`` matches (including
    values of another type, and null); a missing field never matches."""

    excluded: tuple[Matcher, ...]

    def matches(self, value: Leaf) -> bool:
        return not any(m.matches(value) for m in self.excluded)
