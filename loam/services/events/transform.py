"""What a rule's target receives: the event, ``Input``, ``InputPath`` or an
``InputTransformer``, as AWS builds it.

- no input member: the whole event document;
- ``Input``: that JSON text, verbatim;
- ``InputPath``: the part of the event the JSONPath selects (``null`` when
  the path selects nothing);
- ``InputTransformer``: ``InputPathsMap`` names values of the event (JSONPath:
  dot notation, ``['name']``, array indices, ``*``), which replace ``<name>``
  placeholders in ``InputTemplate``, as do the predefined
  ``aws.events.rule-arn``, ``aws.events.rule-name``,
  ``aws.events.event.ingestion-time``, ``aws.events.event`` (the event
  without ``detail``) and ``aws.events.event.json`` (the whole event).

AWS's quoting rules for a template that is JSON (starts with ``{`` or ``[``):
a placeholder outside quotes becomes the value as JSON (a string gains its
quotes); inside quotes a string goes in as it is (AWS does not escape it), a
number or boolean as its JSON text, an object or array as its JSON text with
its quotes removed. A template that is not JSON (``"<a> is in <b>"`` or
plain text) takes strings as they are and other values as JSON text. A path
that selects nothing gives ``null`` outside quotes and nothing inside them.
A JSON result is minified.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from loam.services.events.errors import ValidationException

__all__ = ["JsonPath", "RenderContext", "render", "validate_target"]

PREDEFINED = frozenset({
    "aws.events.rule-arn", "aws.events.rule-name", "aws.events.event",
    "aws.events.event.json", "aws.events.event.ingestion-time",
})
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_\-.]+)>")
_STEP = re.compile(r"\.([^.\[\]\s]+)|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_MISSING = object()


@dataclass(frozen=True, slots=True)
class JsonPath:
    """A JSONPath in EventBridge's subset; ``None`` steps are wildcards."""

    text: str
    steps: tuple[str | int | None, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        if not text.startswith("$"):
            raise ValueError(text)
        steps: list[str | int | None] = []
        at = 1
        while at < len(text):
            match = _STEP.match(text, at)
            if match is None:
                raise ValueError(text)
            name, index, quoted, double = match.groups()
            if index is not None:
                steps.append(int(index))
            elif name == "*" or match.group(0) == "[*]":
                steps.append(None)
            else:
                steps.append(name if name is not None else quoted if quoted is not None
                             else double)
            at = match.end()
        return cls(text, tuple(steps))

    def select(self, document: Any) -> Any:
        """The selected value, a list of them for a path with ``*``, or ``_MISSING``."""
        values = [document]
        for step in self.steps:
            values = [v for value in values for v in _step(value, step)]
        if None in self.steps:
            return values
        return values[0] if values else _MISSING


def _step(value: Any, step: str | int | None) -> list[Any]:
    if step is None:
        if isinstance(value, dict):
            return list(value.values())
        return list(value) if isinstance(value, list) else []
    if isinstance(step, int):
        return [value[step]] if isinstance(value, list) and step < len(value) else []
    return [value[step]] if isinstance(value, dict) and step in value else []


# --- validation (PutTargets) -------------------------------------------------------


def validate_target(target: Mapping[str, Any]) -> None:
    """Refuse what ``PutTargets`` refuses about a target's input members."""
    target_id = target["Id"]
    given = [m for m in ("Input", "InputPath", "InputTransformer") if m in target]
    if len(given) > 1:
        raise ValidationException(
            f"Only one of Input, InputPath, or InputTransformer must be provided for target "
            f"{target_id}.")
    if "Input" in target:
        try:
            json.loads(target["Input"])
        except ValueError:
            raise ValidationException(
                f"Input for target {target_id} is not valid JSON text.") from None
    if "InputPath" in target:
        _path(target["InputPath"], target_id)
    transformer = target.get("InputTransformer")
    if transformer is not None:
        _validate_transformer(transformer, target_id)


def _path(text: str, target_id: str) -> JsonPath:
    try:
        return JsonPath.parse(text)
    except ValueError:
        raise ValidationException(
            f"Parameter {text} for target {target_id} is not a valid JSONPath.") from None


def _validate_transformer(transformer: Mapping[str, Any], target_id: str) -> None:
    paths: Mapping[str, str] = transformer.get("InputPathsMap") or {}
    for path in paths.values():
        _path(path, target_id)
    template: str = transformer["InputTemplate"]
    for match in _PLACEHOLDER.finditer(template):
        name = match.group(1)
        if name not in paths and name not in PREDEFINED:
            raise ValidationException(
                f"InputTemplate for target {target_id} contains invalid placeholder {name}.")
    if _is_json(template):
        probe = _fill(template, lambda name, quoted: "" if quoted else "null")
        try:
            json.loads(probe)
        except ValueError:
            raise ValidationException(
                f"InputTemplate for target {target_id} is not valid JSON text.") from None


# --- rendering (delivery) ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RenderContext:
    event: Mapping[str, Any]
    rule_arn: str
    rule_name: str
    ingestion_time: str


def render(target: Mapping[str, Any], context: RenderContext) -> bytes:
    """The bytes the target receives for this event."""
    if "Input" in target:
        return str(target["Input"]).encode()
    if "InputPath" in target:
        value = JsonPath.parse(target["InputPath"]).select(context.event)
        return _compact(None if value is _MISSING else value).encode()
    transformer = target.get("InputTransformer")
    if transformer is None:
        return _compact(context.event).encode()
    return _transform(transformer, context).encode()


def _transform(transformer: Mapping[str, Any], context: RenderContext) -> str:
    paths: Mapping[str, str] = transformer.get("InputPathsMap") or {}
    values: dict[str, Any] = {
        name: JsonPath.parse(path).select(context.event) for name, path in paths.items()
    }
    raw = {
        "aws.events.event": _compact({k: v for k, v in context.event.items() if k != "detail"}),
        "aws.events.event.json": _compact(context.event),
    }
    values["aws.events.rule-arn"] = context.rule_arn
    values["aws.events.rule-name"] = context.rule_name
    values["aws.events.event.ingestion-time"] = context.ingestion_time
    template: str = transformer["InputTemplate"]
    json_template = _is_json(template)

    def value_text(name: str, quoted: bool) -> str:
        if name in raw:
            return raw[name]
        value = values.get(name, _MISSING)
        if value is _MISSING:
            return "" if quoted or not json_template else "null"
        if isinstance(value, str) and (quoted or not json_template):
            return value
        if isinstance(value, dict | list) and quoted:
            return _compact(value).replace('"', "")
        return _compact(value)

    out = _fill(template, value_text)
    if json_template:
        try:
            return _compact(json.loads(out))
        except ValueError:
            return out  # AWS does not escape values: a quote in one may break the JSON
    return out


def _fill(template: str, text_for: Callable[[str, bool], str]) -> str:
    """Replace each ``<name>`` with ``text_for(name, inside_quotes)``."""
    out: list[str] = []
    at = 0
    quoted = False
    for match in _PLACEHOLDER.finditer(template):
        quoted = _quoted_after(template, at, match.start(), quoted)
        out.append(template[at:match.start()])
        out.append(text_for(match.group(1), quoted))
        at = match.end()
    out.append(template[at:])
    return "".join(out)


def _quoted_after(text: str, start: int, end: int, quoted: bool) -> bool:
    """Whether position ``end`` is inside a JSON string, given the state at ``start``."""
    escaped = False
    for ch in text[start:end]:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = quoted
        elif ch == '"':
            quoted = not quoted
    return quoted


def _is_json(template: str) -> bool:
    return template.lstrip().startswith(("{", "["))


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
