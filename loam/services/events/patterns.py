"""EventBridge event patterns: ``compile`` validates a pattern as ``PutRule``
does and returns a ``Pattern`` whose ``matches`` tests one event.

The language: a pattern is a JSON object whose fields mirror the event's;
a field holds either a nested object or a non-empty array of alternatives
(literals and match expressions, any of which may match). Fields are ANDed,
``$or`` ORs whole sub-objects. An event field holding an array matches when
any element does; sub-patterns under an array of objects must match within
one element.

Invalid patterns raise ``InvalidEventPatternError`` whose message is AWS's
``Event pattern is not valid. Reason: …`` with AWS's reason text (the JSON
location AWS appends after the reason is not reproduced).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass
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

__all__ = ["InvalidEventPatternError", "Pattern", "compile"]

_OR = "$or"
_RESERVED_IN_OR = frozenset(
    {
        "exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
        "wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex",
        "not-wildcard", "not-equals-ignore-case", "date-after", "date-on-or-after",
        "date-before", "date-on-or-before", "in-date-range", "ip-address-in-range",
        "ip-address-not-in-range",
    }
)  # fmt: skip


class InvalidEventPatternError(ValueError):
    """AWS's ``InvalidEventPatternException`` (HTTP 400)."""

    code: ClassVar[str] = "InvalidEventPatternException"
    status: ClassVar[int] = 400

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.message = f"Event pattern is not valid. Reason: {reason}"
        super().__init__(self.message)


def _fail(reason: str) -> InvalidEventPatternError:
    return InvalidEventPatternError(reason)


# --- the compiled pattern --------------------------------------------------------

Trail = tuple[tuple[int, int], ...]
"""The arrays a leaf sits in, outermost first: (array number, index)."""


@dataclass(frozen=True, slots=True)
class FieldRule:
    """The alternatives of one field path: the matchers test leaf values
    (``exists: true`` is a matcher of any leaf); ``absent`` says
    ``exists: false`` is among them, satisfied when the path has no leaf."""

    matchers: tuple[Matcher, ...]
    absent: bool


@dataclass(frozen=True, slots=True)
class _AnyLeaf:
    def matches(self, value: Leaf) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: ``$or`` unfolded into branches, each a set of
    dotted field paths (``{"a": {"b": …}}`` and ``{"a.b": …}`` are one path,
    as in AWS) that must all match."""

    branches: tuple[tuple[tuple[str, FieldRule], ...], ...]

    def matches(self, event: Mapping[str, Any]) -> bool:
        leaves: dict[str, list[tuple[Leaf, Trail]]] = {}
        _flatten(event, "", (), leaves, [0])
        return any(_match_branch(branch, 0, leaves, {}) for branch in self.branches)


def _flatten(
    value: Any, path: str, trail: Trail, out: dict[str, list[tuple[Leaf, Trail]]], arrays: list[int]
) -> None:
    if isinstance(value, Mapping):
        for name, item in value.items():
            _flatten(item, f"{path}.{name}" if path else name, trail, out, arrays)
    elif isinstance(value, list):
        arrays[0] += 1
        number = arrays[0]
        for index, item in enumerate(value):
            _flatten(item, path, (*trail, (number, index)), out, arrays)
    else:
        out.setdefault(path, []).append((value, trail))


def _match_branch(
    branch: tuple[tuple[str, FieldRule], ...],
    position: int,
    leaves: dict[str, list[tuple[Leaf, Trail]]],
    chosen: dict[int, int],
) -> bool:
    """Whether fields ``position…`` match with leaves taken from the same
    element of every array that more than one of them passes through."""
    if position == len(branch):
        return True
    path, rule = branch[position]
    candidates = leaves.get(path, [])
    if rule.absent and not candidates:
        return _match_branch(branch, position + 1, leaves, chosen)
    for value, trail in candidates:
        if any(chosen.get(number, index) != index for number, index in trail):
            continue
        if any(m.matches(value) for m in rule.matchers):
            deeper = chosen | dict(trail)
            if _match_branch(branch, position + 1, leaves, deeper):
                return True
    return False


# --- compiling -----------------------------------------------------------------

_Branches = list[dict[str, FieldRule]]


def compile(pattern_json: str) -> Pattern:
    """Parse and validate an ``EventPattern`` document."""
    try:
        document = json.loads(pattern_json, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _fail(f"{exc.msg} at line: {exc.lineno}, column: {exc.colno}") from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if not isinstance(document, dict):
        raise _fail("Filter is not an object")
    branches: _Branches = []
    _object(document, "", branches, in_or=False)
    return Pattern(tuple(tuple(branch.items()) for branch in branches))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def _object(node: dict[str, Any], prefix: str, branches: _Branches, *, in_or: bool) -> None:
    """Add the fields of ``node`` (under ``prefix``) to every branch; a
    ``$or`` replaces the branches by one copy per alternative."""
    if not node:
        raise _fail("Empty objects are not allowed")
    for name, value in node.items():
        if name == _OR:
            _or_group(value, prefix, branches)
            continue
        if in_or and name in _RESERVED_IN_OR:
            raise _fail(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            _object(value, path, branches, in_or=in_or)
        elif isinstance(value, list):
            rule = _field_rule(value)
            if not branches:
                branches.append({})
            for branch in branches:
                branch[path] = rule
        else:
            raise _fail(f'"{name}" must be an object or an array')


def _or_group(value: Any, prefix: str, branches: _Branches) -> None:
    if not isinstance(value, list):
        raise _fail("It must be an Array followed with $or.")
    before = [dict(branch) for branch in branches] or [{}]
    branches.clear()
    for item in value:
        if not isinstance(item, dict):
            raise _fail("Only JSON object is allowed in array of $or relationship.")
        alternative = [dict(branch) for branch in before]
        _object(item, prefix, alternative, in_or=True)
        branches.extend(alternative)
    if len(value) < 2:
        raise _fail("There must have at least 2 Objects in $or relationship.")


def _field_rule(values: list[Any]) -> FieldRule:
    matchers: list[Matcher] = []
    absent = False
    for value in values:
        if isinstance(value, dict):
            expression = _match_expression(value)
            if expression is False:
                absent = True
            elif expression is True:
                matchers.append(_AnyLeaf())
            else:
                assert not isinstance(expression, bool)
                matchers.append(expression)
        elif isinstance(value, list):
            raise _fail("Match value must be String, number, true, false, or null")
        else:
            matchers.append(Exact(_literal(value)))
    if not values:
        raise _fail("Empty arrays are not allowed")
    return FieldRule(tuple(matchers), absent)


def _literal(value: Any) -> Leaf:
    if isinstance(value, Decimal):
        as_float = float(value)
        # A number a double cannot hold exactly still matches itself.
        return as_float if Decimal(repr(as_float)) == value else value
    assert value is None or isinstance(value, str | int | bool)
    return value


def _number(value: Any) -> float:
    """A pattern number as the double EventBridge compares."""
    as_float = float(value)
    if (isinstance(value, Decimal) and Decimal(repr(as_float)) != value) or abs(as_float) == float(
        "inf"
    ):
        raise _fail(f"Cannot compare number : {value}")
    if isinstance(value, int) and int(as_float) != value:
        raise _fail(f"Cannot compare number : {value}")
    return as_float


def _one_key(
    node: dict[str, Any], message: str = "Only one key allowed in match expression"
) -> None:
    if len(node) > 1:
        raise _fail(message)


def _match_expression(node: dict[str, Any]) -> Matcher | bool:
    """One ``{ "<kind>": … }`` alternative; ``exists`` returns its boolean."""
    if not node:
        raise _fail("Match expression name not found")
    kind, value = next(iter(node.items()))
    if kind == "exists":
        if not isinstance(value, bool):
            raise _fail("exists match pattern must be either true or false.")
        _one_key(node)
        return value
    matcher = _COMPILERS.get(kind)
    if matcher is None:
        raise _fail(f"Unrecognized match type {kind}")
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
        raise _fail(f"{what} match pattern must be a string")
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
        raise _fail(f"{title} expression name not found")
    name, value = next(iter(node.items()))
    if name != "equals-ignore-case":
        raise _fail(f"Unsupported {kind} pattern: {name}")
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
            raise _fail(f"Consecutive wildcard characters at pos {i}")
        if data[i : i + 1] == b"\\":
            if data[i + 1 : i + 2] not in (b"*", b"\\"):
                raise _fail(f"Invalid escape character at pos {i}")
            i += 1
        i += 1


def _cidr(value: Any) -> Matcher:
    text = _string(value, "prefix")  # sic: AWS's message for a non-string cidr
    parts = text.split("/")
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()  # as Java's String.split drops trailing empty parts
    if len(parts) != 2:
        raise _fail("Malformed CIDR, one '/' required")
    try:
        bits = int(parts[1])
    except ValueError:
        raise _fail("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise _fail("Malformed CIDR, mask bits must not be negative")
    ip = parse_ip(parts[0])
    if ip is None:
        problem = "Invalid" if looks_like_ip(parts[0]) else "Nonstandard"
        raise _fail(f"{problem} IP address: {parts[0]}")
    if ip.version == 4 and bits > 31:
        raise _fail("IPv4 mask bits must be < 32")
    if ip.version == 6 and bits > 127:
        raise _fail("IPv6 mask bits must be < 128")
    return Cidr(ipaddress.ip_network(f"{ip}/{bits}", strict=False))


_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")


def _numeric(value: Any) -> Matcher:
    """``[op, v]`` for op in = < <= > >=, or ``[> or >=, low, < or <=, high]``."""
    if not isinstance(value, list):
        raise _fail("Value of numeric must be an array.")
    terms = list(value)
    if not terms or not isinstance(terms[0], str):
        raise _fail(f"Invalid member in numeric match: {_text(terms[0]) if terms else ']'}")
    operator = terms[0]
    if operator not in _NUMERIC_OPERATORS:
        raise _fail(f"Unrecognized numeric range operator: {operator}")
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
        raise _fail(f"Bad value in numeric range: {_text(upper_operator)}")
    if upper_operator not in ("<", "<="):
        raise _fail(f"Bad numeric range operator: {upper_operator}")
    upper = _operand(terms, 3, upper_operator)
    _end(terms, 4, "Too many terms in numeric range expression")
    if bound >= upper:
        raise _fail("Bottom must be less than top")
    return Numeric(bound, operator == ">", upper, upper_operator == "<")


def _operand(terms: list[Any], index: int, operator: str) -> float:
    if index >= len(terms) or not is_number(terms[index]):
        raise _fail(f"Value of {operator} must be numeric")
    return _number(terms[index])


def _end(terms: list[Any], length: int, message: str) -> None:
    if len(terms) > length:
        raise _fail(message)


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
            raise _fail("Anything-But expression name not found")
        kind, value_in = next(iter(value.items()))
        if kind not in _ANYTHING_BUT_KINDS:
            raise _fail(f"Unsupported anything-but pattern: {kind}")
        outer, value = value, value_in
    if not (isinstance(value, list | str) or is_number(value)):
        raise _fail("Value of anything-but must be an array or single string/number value.")
    excluded = _anything_but_plain(value) if kind is None else _anything_but_of(kind, value)
    if kind is not None:
        _one_key(outer, "Too many elements in numeric expression")
    return AnythingBut(excluded)


def _anything_but_plain(value: Any) -> tuple[Matcher, ...]:
    values = value if isinstance(value, list) else [value]
    if any(not (isinstance(v, str) or is_number(v)) for v in values):
        raise _fail("Inside anything but list, start|null|boolean is not supported.")
    strings = sum(isinstance(v, str) for v in values)
    if (isinstance(value, list) and strings not in (0, len(values))) or not values:
        raise _fail(
            "Inside anything but list, either all values are number or string, "
            "mixed type is not supported"
        )
    return tuple(Exact(v if isinstance(v, str) else _number(v)) for v in values)


def _anything_but_of(kind: str, value: Any) -> tuple[Matcher, ...]:
    values = value if isinstance(value, list) else [value]
    excluded: list[Matcher] = []
    for item in values:
        if not isinstance(item, str):
            raise _fail(_ANYTHING_BUT_NOT_STRING[kind])
        if kind in ("prefix", "suffix") and not item:
            raise _fail("Null prefix/suffix not allowed")
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
