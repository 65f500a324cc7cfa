"""CloudWatch Logs filter patterns: ``compile_pattern(text)`` → a predicate on messages.

Two of CloudWatch's three pattern kinds are understood:

- **terms** (unstructured logs): ``ERROR Exception`` matches messages containing
  every term (case-sensitive); ``"Exception occurred"`` is one quoted term;
  ``?ERROR ?WARN`` matches messages containing any of the ``?`` terms;
  ``-Exiting`` excludes messages containing the term; ``%regex%`` matches a
  regular expression; an empty pattern matches everything;
- **JSON** (``{ … }``): selectors ``$.a.b[0]`` compared with ``=`` / ``!=``
  (strings, ``*`` wildcards, numbers, ``%regex%``) and ``<``, ``>``, ``<=``,
  ``>=`` (numbers); ``IS NULL``, ``NOT EXISTS``, ``IS TRUE`` / ``IS FALSE``;
  ``&&``, ``||`` and parentheses. Messages that are not JSON objects never match.

Space-delimited patterns (``[ip, user, …]``) are refused with
InvalidParameterException, as is anything that does not parse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from loam.services.logs.errors import InvalidParameter

__all__ = ["compile_pattern"]

Predicate = Callable[[str], bool]
_MISSING = object()
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<regex>%(?:[^%\\]|\\.)*%)
    | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
    | (?P<word>[^\s&|!=<>()"]+)
    )""", re.VERBOSE)
_SELECTOR = re.compile(r"^\$((?:\.[A-Za-z0-9_\-@$]+|\[\d+\])*)$")
_PART = re.compile(r"\.([A-Za-z0-9_\-@$]+)|\[(\d+)\]")


def compile_pattern(pattern: str | None) -> Predicate:
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise _invalid()
        return _JsonParser(text[1:-1]).parse()
    if text.startswith("["):
        raise InvalidParameter("Space-delimited filter patterns are not supported by loam.")
    return _terms(text)


def _invalid() -> InvalidParameter:
    return InvalidParameter("Invalid filter pattern")


# -- terms ---------------------------------------------------------------------------

_TERM = re.compile(r'\s*([?-]?)("(?:[^"\\]|\\.)*"|%(?:[^%\\]|\\.)*%|[^\s]+)')


def _terms(text: str) -> Predicate:
    required: list[Predicate] = []
    optional: list[Predicate] = []
    excluded: list[Predicate] = []
    for prefix, body in _TERM.findall(text):
        test = _term_test(body)
        {"": required, "?": optional, "-": excluded}[prefix].append(test)

    def matches(message: str) -> bool:
        return (all(t(message) for t in required)
                and (not optional or any(t(message) for t in optional))
                and not any(t(message) for t in excluded))
    return matches


def _term_test(body: str) -> Predicate:
    if len(body) >= 2 and body[0] == body[-1] == '"':
        phrase = _unquote(body)
        return lambda message: phrase in message
    if len(body) >= 2 and body[0] == body[-1] == "%":
        regex = _regex(body)
        return lambda message: regex.search(message) is not None
    return lambda message: body in message


def _unquote(body: str) -> str:
    return re.sub(r"\\(.)", r"\1", body[1:-1])


def _regex(body: str) -> re.Pattern[str]:
    try:
        return re.compile(body[1:-1])
    except re.error as exc:
        raise _invalid() from exc


# -- JSON ------------------------------------------------------------------------------

Test = Callable[[Any], bool]


class _JsonParser:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise _invalid()
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def parse(self) -> Predicate:
        test = self._or()
        if self.pos != len(self.tokens):
            raise _invalid()

        def matches(message: str) -> bool:
            try:
                document = json.loads(message)
            except ValueError:
                return False
            return isinstance(document, dict) and test(document)
        return matches

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise _invalid()
        self.pos += 1
        return token

    def _or(self) -> Test:
        tests = [self._and()]
        while self._peek() == ("op", "||"):
            self.pos += 1
            tests.append(self._and())
        return tests[0] if len(tests) == 1 else (lambda doc: any(t(doc) for t in tests))

    def _and(self) -> Test:
        tests = [self._primary()]
        while self._peek() == ("op", "&&"):
            self.pos += 1
            tests.append(self._primary())
        return tests[0] if len(tests) == 1 else (lambda doc: all(t(doc) for t in tests))

    def _primary(self) -> Test:
        if self._peek() == ("op", "("):
            self.pos += 1
            test = self._or()
            if self._take() != ("op", ")"):
                raise _invalid()
            return test
        kind, text = self._take()
        selector = _SELECTOR.match(text) if kind == "word" else None
        if selector is None:
            raise _invalid()
        path = [name if name else int(index) for name, index in _PART.findall(selector.group(1))]
        return self._condition(path)

    def _condition(self, path: list[str | int]) -> Test:
        kind, text = self._take()
        if kind == "word" and text in ("IS", "NOT"):
            return self._predicate(path, text)
        if kind != "op" or text in ("&&", "||", "(", ")"):
            raise _invalid()
        expected = _value_test(text, self._take())
        return lambda doc: expected(_select(doc, path))

    def _predicate(self, path: list[str | int], first: str) -> Test:
        _, second = self._take()
        if first == "NOT" and second == "EXISTS":
            return lambda doc: _select(doc, path) is _MISSING
        if first == "IS" and second in ("NULL", "TRUE", "FALSE"):
            want = {"NULL": None, "TRUE": True, "FALSE": False}[second]
            return lambda doc: _select(doc, path) is want
        raise _invalid()


def _select(doc: Any, path: list[str | int]) -> Any:
    node = doc
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return _MISSING
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
    return node


def _value_test(op: str, token: tuple[str, str]) -> Test:
    kind, text = token
    if kind == "regex":
        regex = _regex(text)
        if op not in ("=", "!="):
            raise _invalid()
        found: Test = lambda v: isinstance(v, str) and regex.search(v) is not None  # noqa: E731
        return found if op == "=" else (lambda v: v is not _MISSING and not found(v))
    if kind not in ("string", "word"):
        raise _invalid()
    number = _number(text) if kind == "word" else None
    if number is not None:
        return _numeric(op, number)
    if op not in ("=", "!="):
        raise _invalid()
    value = _unquote(text) if kind == "string" else text
    glob = re.compile(".*".join(re.escape(part) for part in value.split("*")) + r"\Z", re.S)
    equal: Test = lambda v: isinstance(v, str) and glob.match(v) is not None  # noqa: E731
    return equal if op == "=" else (lambda v: v is not _MISSING and not equal(v))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}


def _numeric(op: str, number: float) -> Test:
    compare = _COMPARE[op]

    def test(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return compare(float(value), number)
    return test
