"""EventBridge event patterns: ``compile`` validates a pattern as ``PutRule``
does and returns a ``Pattern`` whose ``matches`` tests one event.

The language: a pattern is a JSON object whose fields mirror the event's;
a field holds either a nested object or a non-empty array of alternatives
(literals and match expressions, any of which may match). Fields are ANDed,
``$or`` ORs whole sub-objects. An event field holding an array matches when
any element does; sub-patterns under an array of objects must match within
one element.

Invalid patterns raise ``InvalidEventPatternError`` whose message is AWS's
``Event pattern is not valid. Reason: …`` with AWS's reason text. Not
reproduced: the ``at [Source: …; line: …, column: …]`` suffix AWS's JSON
parser appends, and the "Rule is too complex" limit on wildcard patterns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from loam.services.events.expressions import (
    InvalidEventPatternError,
    fail,
    literal,
    match_expression,
)
from loam.services.events.matchers import Exact, Leaf, Matcher

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
        raise fail(_syntax_reason(exc)) from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if not isinstance(document, dict):
        raise fail("Filter is not an object")
    branches: _Branches = []
    _object(document, "", branches, in_or=False)
    return Pattern(tuple(tuple(branch.items()) for branch in branches))


_EXPECTED_VALUE = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


def _syntax_reason(exc: json.JSONDecodeError) -> str:
    """The parser's complaint in the words AWS uses for the common cases."""
    if exc.pos >= len(exc.doc):
        return "Unexpected end-of-input"
    char = exc.doc[exc.pos]
    unexpected = f"Unexpected character ('{char}' (code {ord(char)}))"
    if exc.msg.startswith("Expecting property name"):
        return f"{unexpected}: was expecting double-quote to start field name"
    if exc.msg == "Expecting value" and char.isalpha():
        end = exc.pos
        while end < len(exc.doc) and (exc.doc[end].isalnum() or exc.doc[end] == "_"):
            end += 1
        return f"Unrecognized token '{exc.doc[exc.pos : end]}': was expecting {_EXPECTED_VALUE}"
    if exc.msg == "Expecting value":
        return f"{unexpected}: expected a valid value {_EXPECTED_VALUE}"
    return f"{exc.msg} at line: {exc.lineno}, column: {exc.colno}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"Non-standard token '{name}'")


def _object(node: dict[str, Any], prefix: str, branches: _Branches, *, in_or: bool) -> None:
    """Add the fields of ``node`` (under ``prefix``) to every branch; a
    ``$or`` replaces the branches by one copy per alternative."""
    if not node:
        raise fail("Empty objects are not allowed")
    for name, value in node.items():
        if name == _OR:
            _or_group(value, prefix, branches)
            continue
        if in_or and name in _RESERVED_IN_OR:
            raise fail(f"{name} is Ruler reserved fieldName which cannot be used inside $or.")
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
            raise fail(f'"{name}" must be an object or an array')


def _or_group(value: Any, prefix: str, branches: _Branches) -> None:
    if not isinstance(value, list):
        raise fail("It must be an Array followed with $or.")
    before = [dict(branch) for branch in branches] or [{}]
    branches.clear()
    for item in value:
        if not isinstance(item, dict):
            raise fail("Only JSON object is allowed in array of $or relationship.")
        alternative = [dict(branch) for branch in before]
        _object(item, prefix, alternative, in_or=True)
        branches.extend(alternative)
    if len(value) < 2:
        raise fail("There must have at least 2 Objects in $or relationship.")


def _field_rule(values: list[Any]) -> FieldRule:
    matchers: list[Matcher] = []
    absent = False
    for value in values:
        if isinstance(value, dict):
            expression = match_expression(value)
            if expression is False:
                absent = True
            elif expression is True:
                matchers.append(_AnyLeaf())
            else:
                assert not isinstance(expression, bool)
                matchers.append(expression)
        elif isinstance(value, list):
            raise fail("Match value must be String, number, true, false, or null")
        else:
            matchers.append(Exact(literal(value)))
    if not values:
        raise fail("Empty arrays are not allowed")
    return FieldRule(tuple(matchers), absent)
