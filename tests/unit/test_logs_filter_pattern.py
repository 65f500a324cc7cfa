"""CloudWatch Logs filter patterns, with the examples AWS documents."""

from __future__ import annotations

import json

import pytest

from loam.services.logs.errors import InvalidParameter
from loam.services.logs.filter_pattern import compile_pattern

LINES = [
    "[ERROR] 2024-01-01 Exception occurred in handler",
    "[WARN] retrying after a timeout",
    "[INFO] Exiting cleanly",
    "[ERROR] Exiting after an error",
    "plain text without levels",
]

# AWS's example document for JSON filter patterns (CloudWatch Logs User Guide).
DOCUMENT = {
    "eventType": "UpdateTrail",
    "sourceIPAddress": "123.123.123.123",
    "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
    "SomeObject": None,
    "cluster.name": "c1",
    "ThisFlag": True,
    "user": {"id": 1, "email": "John.Doe@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}],
    "actions": ["GET", "PUT", "DELETE"],
    "numbers": [1, 2, 3],
    "latency": 6.5,
    "level": "ERROR",
}
MESSAGE = json.dumps(DOCUMENT)


def matching(pattern: str) -> list[str]:
    test = compile_pattern(pattern)
    return [line for line in LINES if test(line)]


def matches(pattern: str) -> bool:
    return compile_pattern(pattern)(MESSAGE)


def test_empty_pattern_matches_everything() -> None:
    assert matching("") == LINES
    assert matching("   ") == LINES


def test_terms_must_all_appear_case_sensitively() -> None:
    assert matching("ERROR") == [LINES[0], LINES[3]]
    assert matching("ERROR Exiting") == [LINES[3]]
    assert matching("error") == [LINES[3]]  # "an error"; "ERROR" is another word


def test_quoted_phrase_is_one_term() -> None:
    assert matching('"Exception occurred"') == [LINES[0]]
    assert matching('"occurred Exception"') == []


def test_optional_terms_match_any() -> None:
    assert matching("?WARN ?Exiting") == [LINES[1], LINES[2], LINES[3]]


def test_excluded_terms() -> None:
    assert matching("ERROR -Exiting") == [LINES[0]]
    assert matching("-ERROR") == [LINES[1], LINES[2], LINES[4]]


def test_regex_terms() -> None:
    assert matching(r"%\[(WARN|INFO)\]%") == [LINES[1], LINES[2]]


@pytest.mark.parametrize(("pattern", "expected"), [
    ('{ $.eventType = "UpdateTrail" }', True),
    ('{ $.eventType = "CreateTrail" }', False),
    ("{ $.sourceIPAddress != 123.123.* }", False),
    ("{ $.sourceIPAddress = 123.123.* }", True),
    ('{ $.arrayKey[0] = "value" }', True),
    ('{ $.arrayKey[1] = "value" }', False),
    ("{ $.objectList[1].id = 2 }", True),
    ("{ $.SomeObject IS NULL }", True),
    ("{ $.SomeOtherObject NOT EXISTS }", True),
    ("{ $.ThisFlag IS TRUE }", True),
    ("{ $.ThisFlag IS FALSE }", False),
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', True),
    ("{ $.user.id = 2 && $.users[0].email NOT EXISTS }", False),
    ('{ ($.user.id = 2 && $.users[0].email = "John.Doe@example.com") || $.actions[2] = "GET" }',
     False),
    ('{ ($.user.id = 1 && $.users[0].email = "John.Doe@example.com") || $.actions[2] = "GET" }',
     True),
    ("{ $.numbers[0] < 10 }", True),
    ("{ $.numbers[2] >= 4 }", False),
    ("{ $.latency > 5 }", True),
    ("{ $.latency <= 5 }", False),
    ('{ $.level = "ERROR" }', True),
    ("{ $.eventType = %Update% }", True),
    ("{ $.eventType = %^Trail% }", False),
    ('{ $.level != "INFO" }', True),
    ("{ $.missing != 3 }", False),
    ('{ $.level > 5 }', False),  # a string is no number
])
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert matches(pattern) is expected


def test_json_patterns_never_match_text_or_non_objects() -> None:
    assert not compile_pattern('{ $.level = "ERROR" }')("[ERROR] level=ERROR")
    assert not compile_pattern("{ $.n > 1 }")("[5, 6]")


@pytest.mark.parametrize("pattern", [
    "{ $.level = }", "{ level = 1 }", "{ $.level = 1", "{ ($.a = 1 }", "{ $.a IS MAYBE }",
    "{ $.a > \"text\" }", "{ $.a = 1 && }", "[ip, user]", "%[unclosed%",
])
def test_invalid_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        compile_pattern(pattern)
    assert err.value.code == "InvalidParameterException"
    assert err.value.status == 400
