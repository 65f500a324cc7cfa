"""Match expressions of the event-pattern language: each ``{"<kind>": operand}``
object of a field's alternatives, validated with AWS's reasons and turned into
a leaf matcher (``exists`` into its boolean)."""

from __future__ import annotations

import ipaddress
import json
import math
from decimal import Decimal
from typing import Any, ClassVar

from loam.services.events.matchers import (
    AnythingBut,
    Cidr,
    EqualsIgnoreCase,
    Exact,
    Leaf,
    Matcher,
    Numeric,
    Prefix,
    Suffix,
    Wildcard,
    is_number,
    looks_like_ip,
    parse_ip,
    wildcard_regex,
)

__all__ = ["InvalidEventPatternError", "fail", "literal", "match_expression"]


class InvalidEventPatternError(ValueError):
    """AWS's ``InvalidEventPatternException`` (HTTP 400)."""

    code: ClassVar[str] = "InvalidEventPatternException"
    status: ClassVar[int] = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = f"Event pattern is not valid. Reason: {reason}"
        super().__init__(self.message)


def fail(reason: str) -> InvalidEventPatternError:
    return InvalidEventPatternError(reason)


def literal(value: Any) -> Leaf:
    if isinstance(value, Decimal):
        as_float = float(value)
        # A number a double cannot hold exactly still matches itself.
        return as_float if Decimal(repr(as_float)) == value else value
    assert value is None or isinstance(value, str | int | bool)
    return value


def _number(value: Any) -> float:
    """A pattern number as the double EventBridge compares; one a double
    cannot hold exactly is refused, as AWS does."""
    try:
        as_float = float(value)
    except OverflowError:
        as_float = math.inf
    if math.isinf(as_float) or Decimal(repr(as_float)) != Decimal(value):
        raise fail(f"Cannot compare number : {value}")
    return as_float


def _one_key(
    node: dict[str, Any], message: str = "Only one key allowed in match expression"
) -> None:
    if len(node) > 1:
        raise fail(message)


def match_expression(node: dict[str, Any]) -> Matcher | bool:
    """One ``{ "<kind>": … }`` alternative; ``exists`` returns its boolean."""
    if not node:
        raise fail("Match expression name not found")
    kind, value = next(iter(node.items()))
    if kind == "exists":
        if not isinstance(value, bool):
            raise fail("exists match pattern must be either true or false.")
        _one_key(node)
        return value
    matcher = _COMPILERS.get(kind)
    if matcher is None:
        raise fail(f"Unrecognized match type {kind}")
    result = matcher(value)
    _one_key(
        node,
        "Too many elements in numeric expression"
        if kind in ("numeric", "anything-but")
        else "Only one key allowed in match expression",
    )
    return result


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise fail(f"{what} match pattern must be a string")
    return value


def _exactly(value: Any) -> Matcher:
    return Exact(_string(value, "exact"))


def _prefix(value: Any) -> Matcher:
    if isinstance(value, dict):
        return Prefix(_ignore_case_operand(value, "Prefix", "prefix"), ignore_case=True)
    return Prefix(_string(value, "prefix"))


def _suffix(value: Any) -> Matcher:
    if isinstance(value, dict):
        return Suffix(_ignore_case_operand(value, "Suffix", "suffix"), ignore_case=True)
    return Suffix(_string(value, "suffix"))


def _ignore_case_operand(node: dict[str, Any], title: str, kind: str) -> str:
    """``{"prefix": {"equals-ignore-case": "x"}}`` and the suffix twin."""
    if not node:
        raise fail(f"{title} expression name not found")
    name, value = next(iter(node.items()))
    if name != "equals-ignore-case":
        raise fail(f"Unsupported {kind} pattern: {name}")
    text = _string(value, "equals-ignore-case")
    _one_key(node)
    return text


def _equals_ignore_case(value: Any) -> Matcher:
    return EqualsIgnoreCase(_string(value, "equals-ignore-case"))


def _wildcard(value: Any) -> Matcher:
    text = _string(value, "wildcard")
    _check_wildcard(text)
    return Wildcard(wildcard_regex(text))


def _check_wildcard(text: str) -> None:
    # Positions count UTF-8 bytes of the value in quotes, as AWS reports them.
    data = ('"' + text + '"').encode()
    i = 0
    while i < len(data):
        if data[i : i + 2] == b"**":
            raise fail(f"Consecutive wildcard characters at pos {i}")
        if data[i : i + 1] == b"\\":
            if data[i + 1 : i + 2] not in (b"*", b"\\"):
                raise fail(f"Invalid escape character at pos {i}")
            i += 1
        i += 1


def _cidr(value: Any) -> Matcher:
    text = _string(value, "prefix")  # sic: AWS's message for a non-string cidr
    parts = text.split("/")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # as Java's String.split drops trailing empty parts
    if len(parts) != 2:
        raise fail("Malformed CIDR, one '/' required")
    try:
        bits = int(parts[1])
    except ValueError:
        raise fail("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise fail("Malformed CIDR, mask bits must not be negative")
    ip = parse_ip(parts[0])
    if ip is None:
        problem = "Invalid" if looks_like_ip(parts[0]) else "Nonstandard"
        raise fail(f"{problem} IP address: {parts[0]}")
    if ip.version == 4 and bits > 31:
        raise fail("IPv4 mask bits must be < 32")
    if ip.version == 6 and bits > 127:
        raise fail("IPv6 mask bits must be < 128")
    return Cidr(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")


def _numeric(value: Any) -> Matcher:
    """``[op, v]`` for op in = < <= > >=, or ``[> or >=, low, < or <=, high]``."""
    if not isinstance(value, list):
        raise fail("Value of numeric must be an array.")
    terms = list(value)
    if not terms or not isinstance(terms[0], str):
        raise fail(f"Invalid member in numeric match: {_text(terms[0]) if terms else ']'}")
    operator = terms[0]
    if operator not in _NUMERIC_OPERATORS:
        raise fail(f"Unrecognized numeric range operator: {operator}")
    bound = _operand(terms, 1, "equals" if operator == "=" else operator)
    if operator == "=":
        _end(terms, 2, "Too many elements in numeric expression")
        return Numeric(bound, False, bound, False)
    if operator in ("<", "<="):
        _end(terms, 2, "Too many elements in numeric expression")
        return Numeric(None, False, bound, operator == "<")
    if len(terms) == 2:
        return Numeric(bound, operator == ">", None, False)
    upper_operator = terms[2]
    if not isinstance(upper_operator, str):
        raise fail(f"Bad value in numeric range: {_text(upper_operator)}")
    if upper_operator not in ("<", "<="):
        raise fail(f"Bad numeric range operator: {upper_operator}")
    upper = _operand(terms, 3, upper_operator)
    _end(terms, 4, "Too many terms in numeric range expression")
    if bound >= upper:
        raise fail("Bottom must be less than top")
    return Numeric(bound, operator == ">", upper, upper_operator == "<")


def _operand(terms: list[Any], index: int, operator: str) -> float:
    if index >= len(terms) or not is_number(terms[index]):
        raise fail(f"Value of {operator} must be numeric")
    return _number(terms[index])


def _end(terms: list[Any], length: int, message: str) -> None:
    if len(terms) > length:
        raise fail(message)


def _text(value: Any) -> str:
    """A JSON value as AWS quotes it in a message: strings bare."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "["
    if isinstance(value, dict):
        return "{"
    return json.dumps(value, default=str)


_ANYTHING_BUT_KINDS = ("equals-ignore-case", "prefix", "suffix", "wildcard")


def _anything_but(value: Any) -> Matcher:
    kind = None
    if isinstance(value, dict):
        if not value:
            raise fail("Anything-But expression name not found")
        kind, value_in = next(iter(value.items()))
        if kind not in _ANYTHING_BUT_KINDS:
            raise fail(f"Unsupported anything-but pattern: {kind}")
        outer, value = value, value_in
    if not (isinstance(value, list | str) or is_number(value)):
        raise fail("Value of anything-but must be an array or single string/number value.")
    excluded = _anything_but_plain(value) if kind is None else _anything_but_of(kind, value)
    if kind is not None:
        _one_key(outer, "Too many elements in numeric expression")
    return AnythingBut(excluded)


def _anything_but_plain(value: Any) -> tuple[Matcher, ...]:
    values = value if isinstance(value, list) else [value]
    if any(not (isinstance(v, str) or is_number(v)) for v in values):
        raise fail("Inside anything but list, start|null|boolean is not supported.")
    strings = sum(isinstance(v, str) for v in values)
    if (isinstance(value, list) and strings not in (0, len(values))) or not values:
        raise fail(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )
    return tuple(Exact(v if isinstance(v, str) else _number(v)) for v in values)


def _anything_but_of(kind: str, value: Any) -> tuple[Matcher, ...]:
    values = value if isinstance(value, list) else [value]
    excluded: list[Matcher] = []
    for item in values:
        if not isinstance(item, str):
            raise fail(_ANYTHING_BUT_NOT_STRING[kind])
        if kind in ("prefix", "suffix") and not item:
            raise fail("Null prefix/suffix not allowed")
        if kind == "equals-ignore-case":
            excluded.append(EqualsIgnoreCase(item))
        elif kind == "prefix":
            excluded.append(Prefix(item))
        elif kind == "suffix":
            excluded.append(Suffix(item))
        else:
            _check_wildcard(item)
            excluded.append(Wildcard(wildcard_regex(item)))
    return tuple(excluded)


_ANYTHING_BUT_NOT_STRING = {
    "equals-ignore-case": (
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
    ),
    "prefix": "prefix/suffix match pattern must be a string",
    "suffix": "prefix/suffix match pattern must be a string",
    "wildcard": "wildcard match pattern must be a string",
}

_COMPILERS = {
    "exactly": _exactly,
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "cidr": _cidr,
    "numeric": _numeric,
    "anything-but": _anything_but,
}
