"""Validate parsed input against a botocore shape, with AWS's messages.

AWS reports model constraint violations as a ``ValidationException`` whose
message lists each violation as
``Value '<v>' at '<path>' failed to satisfy constraint: Member must ...``;
member paths are lowerCamelCase and dotted (``environment.variables``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.model import Shape

__all__ = ["validate"]

_MAX_VIOLATIONS = 10

# The models' patterns are Java regular expressions; Python's ``re`` has no
# Unicode property classes, so each becomes a (slightly wider) Python class.
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return "[binary]"
    if isinstance(value, (dict, list)):
        return "[object]"
    return str(value)


def validate(shape: Shape, params: dict[str, Any],
             open_enums: frozenset[str] = frozenset()) -> list[str]:
    """Return AWS-style violation strings (empty when valid).

    ``open_enums`` names string shapes whose enum the service checks itself (with
    its own error), so any value passes here.
    """
    walk = _Walk(open_enums, [])
    _structure(shape, params, "", walk)
    return walk.out[:_MAX_VIOLATIONS]


@dataclass(frozen=True)
class _Walk:
    open_enums: frozenset[str]
    out: list[str]


def _structure(shape: Shape, value: dict[str, Any], prefix: str, walk: _Walk) -> None:
    out = walk.out
    required, members = _layout(shape)
    for name, camel in required:
        if value.get(name) is None:
            out.append(f"Value null at '{prefix}{camel}' failed to satisfy constraint: "
                       "Member must not be null")
    for name, camel, member in members:
        item = value.get(name)
        if item is not None:
            _value(member, item, prefix + camel, walk)


@cache  # once per shape (botocore shapes hash by identity): every request walks one
def _layout(shape: Shape) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str, Shape], ...]]:
    """A structure's required members and its members, with their lowerCamelCase paths."""
    members = shape.members  # type: ignore[attr-defined, unused-ignore]
    return (tuple((name, _camel(name)) for name in shape.required_members),  # type: ignore[attr-defined, unused-ignore]
            tuple((name, _camel(name), member) for name, member in members.items()))


def _head(value: Any, path: str) -> str:
    return f"Value '{_show(value)}' at '{path}' failed to satisfy constraint: Member must "


def _value(shape: Shape, value: Any, path: str, walk: _Walk) -> None:
    out = walk.out
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        _structure(shape, value, path + ".", walk)
    elif kind == "list" and isinstance(value, list):
        _length(len(value), meta, value, path, out)
        for i, item in enumerate(value):
            _value(shape.member, item, f"{path}.{i + 1}.member", walk)  # type: ignore[attr-defined, unused-ignore]
    elif kind == "map" and isinstance(value, dict):
        _length(len(value), meta, value, path, out)
        for k, v in value.items():
            _value(shape.key, k, f"{path}.{k}.key", walk)  # type: ignore[attr-defined, unused-ignore]
            _value(shape.value, v, f"{path}.{k}.value", walk)  # type: ignore[attr-defined, unused-ignore]
    elif kind == "string" and isinstance(value, str):
        if not meta:
            return
        if "enum" in meta and value not in meta["enum"] and shape.name not in walk.open_enums:
            out.append(_head(value, path) + "satisfy enum value set: ["
                       + ", ".join(meta["enum"]) + "]")
            return
        _length(len(value), meta, value, path, out)
        pattern = meta.get("pattern")
        if pattern and not _matches(pattern, value):
            out.append(_head(value, path) + f"satisfy regular expression pattern: {pattern}")
    elif kind in ("integer", "long", "double", "float") and isinstance(value, (int, float)):
        if "min" in meta and value < meta["min"]:
            out.append(_head(value, path) + f"have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            out.append(_head(value, path) + f"have value less than or equal to {meta['max']}")
    elif kind == "blob" and isinstance(value, bytes):
        _length(len(value), meta, value, path, out)


@cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    """The model's Java pattern as a Python one; ``None`` if it cannot be expressed."""
    translated = pattern
    for java, python in _JAVA_CLASSES.items():
        translated = translated.replace(java, python)
    try:
        return re.compile(translated, flags=re.DOTALL)
    except re.error:
        return None


def _matches(pattern: str, value: str) -> bool:
    compiled = _compile(pattern)
    return compiled is None or compiled.fullmatch(value) is not None


def _length(length: int, meta: dict[str, Any], value: Any, path: str, out: list[str]) -> None:
    if "min" in meta and length < meta["min"]:
        out.append(_head(value, path) + f"have length greater than or equal to {meta['min']}")
    if "max" in meta and length > meta["max"]:
        out.append(_head(value, path) + f"have length less than or equal to {meta['max']}")
