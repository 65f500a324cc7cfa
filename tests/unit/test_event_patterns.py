from __future__ import annotations

import json
from typing import Any

import pytest

from loam.services.events.patterns import InvalidEventPatternError, compile

# The EC2 state-change event of the EventBridge user guide, with the extra
# detail fields its content-filtering examples use.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FileName": "Image.PNG",
        "location": "us-east-1/eu-west-3",
        "empty": "",
        "nothing": None,
        "enabled": True,
        "tags": ["prod", "web"],
        "nested": {"level": {"name": "deep"}},
    },
}


def matches(pattern: Any, event: dict[str, Any] | None = None) -> bool:
    return compile(json.dumps(pattern)).matches(EVENT if event is None else event)


def detail(**fields: Any) -> dict[str, Any]:
    return {"detail": fields}


# --- exact values and structure --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"source": ["aws.ec2"]}, True),
        ({"source": ["aws.s3"]}, False),
        ({"source": ["aws.s3", "aws.ec2"]}, True),  # an array is an OR
        ({"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]}, True),
        ({"source": ["aws.ec2"], "detail-type": ["Other"]}, False),  # fields are ANDed
        ({"source": ["AWS.EC2"]}, False),  # case-sensitive
        ({"missing": ["x"]}, False),
        (detail(state=["terminated"]), True),
        (detail(**{"c-count": [5]}), True),
        (detail(**{"c-count": [5.0]}), True),  # numbers compare as numbers
        (detail(**{"c-count": ["5"]}), False),  # a string is not a number
        (detail(**{"x-limit": [301.8]}), True),
        (detail(**{"x-limit": [3.018e2]}), True),
        (detail(enabled=[True]), True),
        (detail(enabled=[1]), False),  # true is not 1
        (detail(enabled=["true"]), False),
        (detail(nothing=[None]), True),  # null matches null
        (detail(empty=[None]), False),
        (detail(empty=[""]), True),  # the empty string matches itself only
        (detail(nothing=[""]), False),
        (detail(nested={"level": {"name": ["deep"]}}), True),
        (detail(nested={"level": {"name": ["shallow"]}}), False),
        (detail(nested=["deep"]), False),  # an object is not a value
    ],
)
def test_exact_matching(pattern: Any, expected: bool) -> None:
    assert matches(pattern) is expected


def test_event_arrays_match_when_any_element_matches() -> None:
    assert matches(
        {"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}
    )
    assert matches(detail(tags=["web"]))
    assert matches(detail(tags=["db", "prod"]))
    assert not matches(detail(tags=["db"]))
    # The user guide's arrays example: any pattern value in any event value.
    pattern = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "b", "c"]}
    event = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "x"]}
    assert matches(pattern, event)
    assert not matches(pattern, {"resources": ["x", "y"]})
    assert not matches(pattern, {"resources": []})


def test_arrays_of_objects_match_within_one_element() -> None:
    event = {"detail": {"items": [{"kind": "a", "size": 1}, {"kind": "b", "size": 2}]}}
    assert matches(detail(items={"kind": ["a"], "size": [1]}), event)
    assert matches(detail(items={"kind": ["b"], "size": [2]}), event)
    assert not matches(detail(items={"kind": ["a"], "size": [2]}), event)
    assert matches(detail(items={"kind": ["b"]}), event)


def test_nested_arrays_are_flattened() -> None:
    event = {"detail": {"grid": [[1, 2], [3, [4]]]}}
    assert matches(detail(grid=[4]), event)
    assert not matches(detail(grid=[5]), event)


def test_dotted_names_and_nesting_are_the_same_path() -> None:
    # "Considerations when creating event patterns": names are joined with dots.
    nested = {"detail": {"state": {"status": "running"}}}
    dotted = {"detail": {"state.status": "running"}}
    assert matches({"detail": {"state.status": ["running"]}}, nested)
    assert matches({"detail": {"state": {"status": ["running"]}}}, dotted)
    assert not matches({"detail": {"state.status": ["stopped"]}}, nested)


def test_a_later_duplicate_field_replaces_the_earlier_one() -> None:
    pattern = compile('{"source": ["aws.s3"], "source": ["aws.ec2"]}')
    assert pattern.matches(EVENT)


# --- content filters: prefix, suffix, equals-ignore-case, wildcard -----------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"time": [{"prefix": "2017-12-22"}]}, True),
        ({"time": [{"prefix": "2017-10-02"}]}, False),
        ({"time": [{"prefix": ""}]}, True),
        (detail(**{"c-count": [{"prefix": "5"}]}), False),  # numbers are not strings
        (detail(FileName=[{"prefix": {"equals-ignore-case": "image"}}]), True),
        (detail(FileName=[{"prefix": "image"}]), False),
        (detail(FileName=[{"suffix": ".PNG"}]), True),
        (detail(FileName=[{"suffix": ".png"}]), False),
        (detail(FileName=[{"suffix": {"equals-ignore-case": ".png"}}]), True),
        (detail(FileName=[{"suffix": {"equals-ignore-case": ".jpg"}}]), False),
        ({"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}, True),
        ({"detail-type": [{"equals-ignore-case": "ec2 instance"}]}, False),
        (detail(state=[{"exactly": "terminated"}]), True),
        (detail(state=[{"exactly": "Terminated"}]), False),
        (detail(location=[{"wildcard": "us-*/eu-*"}]), True),
        (detail(location=[{"wildcard": "*-west-3"}]), True),
        (detail(location=[{"wildcard": "us-east-1/*-east-*"}]), False),
        (detail(location=[{"wildcard": "us-east-1"}]), False),  # whole value, not a search
        (detail(location=[{"wildcard": "*"}]), True),
        (detail(empty=[{"wildcard": "*"}]), True),
        (detail(empty=[{"wildcard": ""}]), True),
        (detail(**{"c-count": [{"wildcard": "*"}]}), False),
    ],
)
def test_string_filters(pattern: Any, expected: bool) -> None:
    assert matches(pattern) is expected


def test_user_guide_wildcard_on_an_event_bus_arn() -> None:
    pattern = {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/myEventBus"
    assert matches(pattern, {"EventBusArn": arn})
    assert not matches(pattern, {"EventBusArn": arn.replace("us-east-1", "eu-west-1")})


def test_wildcard_escapes() -> None:
    literal_star = compile(json.dumps({"v": [{"wildcard": "a\\*b"}]}))
    assert literal_star.matches({"v": "a*b"})
    assert not literal_star.matches({"v": "axxb"})
    backslash = compile(json.dumps({"v": [{"wildcard": "a\\\\*"}]}))
    assert backslash.matches({"v": "a\\anything"})
    assert not backslash.matches({"v": "a"})
    assert compile(json.dumps({"v": [{"wildcard": "a.c*"}]})).matches({"v": "a.cx\nz"})
    assert not compile(json.dumps({"v": [{"wildcard": "a.c"}]})).matches({"v": "abc"})


# --- anything-but ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (detail(state=[{"anything-but": "initializing"}]), True),
        (detail(state=[{"anything-but": "terminated"}]), False),
        (detail(state=[{"anything-but": ["stopped", "overloaded"]}]), True),
        (detail(state=[{"anything-but": ["stopped", "terminated"]}]), False),
        (detail(**{"c-count": [{"anything-but": 123}]}), True),
        (detail(**{"c-count": [{"anything-but": [100, 200, 5]}]}), False),
        (detail(**{"c-count": [{"anything-but": 5.0}]}), False),
        (detail(**{"c-count": [{"anything-but": "5"}]}), True),  # other types differ
        (detail(nothing=[{"anything-but": "initializing"}]), True),  # null is not the value
        (detail(missing=[{"anything-but": "initializing"}]), False),  # absent never matches
        (detail(state=[{"anything-but": {"prefix": "init"}}]), True),
        (detail(state=[{"anything-but": {"prefix": "term"}}]), False),
        (detail(state=[{"anything-but": {"prefix": ["init", "term"]}}]), False),
        (detail(**{"c-count": [{"anything-but": {"prefix": "5"}}]}), True),
        (detail(FileName=[{"anything-but": {"suffix": ".txt"}}]), True),
        (detail(FileName=[{"anything-but": {"suffix": ".PNG"}}]), False),
        (detail(location=[{"anything-but": {"wildcard": "*/lib/*"}}]), True),
        (detail(location=[{"anything-but": {"wildcard": ["*/lib/*", "us-*"]}}]), False),
        (detail(state=[{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]), True),
        (detail(state=[{"anything-but": {"equals-ignore-case": "TERMINATED"}}]), False),
        # an array value matches when any element is not excluded
        (detail(tags=[{"anything-but": "prod"}]), True),
        (detail(tags=[{"anything-but": ["prod", "web"]}]), False),
    ],
)
def test_anything_but(pattern: Any, expected: bool) -> None:
    assert matches(pattern) is expected


# --- numeric, cidr, exists ---------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (detail(**{"c-count": [{"numeric": [">", 0, "<=", 5]}]}), True),
        (detail(**{"c-count": [{"numeric": [">", 0, "<", 5]}]}), False),
        (detail(**{"c-count": [{"numeric": [">=", 5]}]}), True),
        (detail(**{"c-count": [{"numeric": [">", 5]}]}), False),
        (detail(**{"c-count": [{"numeric": ["<", 5.000001]}]}), True),
        (detail(**{"c-count": [{"numeric": ["<=", 4.99]}]}), False),
        (detail(**{"c-count": [{"numeric": ["=", 5]}]}), True),
        (detail(**{"x-limit": [{"numeric": ["=", 3.018e2]}]}), True),
        (detail(**{"x-limit": [{"numeric": [">=", 301.8, "<", 302]}]}), True),
        (detail(**{"x-limit": [{"numeric": [">", -1e9]}]}), True),
        (detail(state=[{"numeric": [">", 0]}]), False),  # strings are never numbers
        (detail(enabled=[{"numeric": ["=", 1]}]), False),
        (detail(missing=[{"numeric": [">", 0]}]), False),
    ],
)
def test_numeric(pattern: Any, expected: bool) -> None:
    assert matches(pattern) is expected


def test_user_guide_numeric_example() -> None:
    pattern = detail(
        **{
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"numeric": ["=", 3.018e2]}],
        }
    )
    assert matches(pattern)
    assert not matches(pattern, {"detail": {**EVENT["detail"], "d-count": 10}})


@pytest.mark.parametrize(
    ("cidr", "address", "expected"),
    [
        ("10.0.0.0/24", "10.0.0.123", True),
        ("10.0.0.0/24", "10.0.1.1", False),
        ("10.0.0.0/8", "10.255.255.255", True),
        ("10.0.0.5/24", "10.0.0.200", True),  # host bits are ignored
        ("2001:db8:1234:1a00::/64", "2001:db8:1234:1a00::1", True),
        ("2001:db8:1234:1a00::/64", "2001:db8:1234:1a01::1", False),
        ("10.0.0.0/24", "not an ip", False),
        ("10.0.0.0/24", "::ffff:10.0.0.1", False),
    ],
)
def test_cidr(cidr: str, address: str, expected: bool) -> None:
    assert matches({"ip": [{"cidr": cidr}]}, {"ip": address}) is expected


def test_cidr_never_matches_numbers() -> None:
    assert not matches({"ip": [{"cidr": "0.0.0.0/0"}]}, {"ip": 10})


def test_exact_ip_addresses_match_other_spellings() -> None:
    assert matches({"ip": ["2001:db8::1"]}, {"ip": "2001:0db8:0000::0001"})
    assert not matches({"ip": ["2001:db8::1"]}, {"ip": "2001:db8::2"})


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (detail(state=[{"exists": True}]), True),
        (detail(state=[{"exists": False}]), False),
        (detail(missing=[{"exists": True}]), False),
        (detail(missing=[{"exists": False}]), True),
        (detail(nothing=[{"exists": True}]), True),  # null is a value
        (detail(empty=[{"exists": True}]), True),
        (detail(nested=[{"exists": True}]), False),  # only leaves exist
        (detail(nested=[{"exists": False}]), True),
        (detail(tags=[{"exists": True}]), True),
        (detail(state={"deeper": [{"exists": False}]}), True),
        ({"detail": {"level1": {"level2:": {"level3": [{"exists": False}]}}}}, True),
        (detail(missing=[{"exists": False}], state=["terminated"]), True),
        (detail(missing=[{"exists": False}], state=["running"]), False),
        (detail(missing=["x", {"exists": False}]), True),
    ],
)
def test_exists(pattern: Any, expected: bool) -> None:
    assert matches(pattern) is expected


def test_exists_on_empty_arrays() -> None:
    assert not matches({"resources": [{"exists": True}]}, {"resources": []})
    assert matches({"resources": [{"exists": False}]}, {"resources": []})
    assert not matches({"resources": [None]}, {"resources": []})


# --- $or --------------------------------------------------------------------------------


def test_user_guide_or_examples() -> None:
    numeric_or = detail(
        **{
            "$or": [
                {"c-count": [{"numeric": [">", 10]}]},
                {"d-count": [{"numeric": ["<", 10]}]},
                {"x-limit": [{"numeric": ["=", 3.018e2]}]},
            ]
        }
    )
    assert matches(numeric_or)
    top_level_or = {
        "source": ["aws.ec2"],
        "$or": [
            {"detail-type": ["Nope"]},
            {"detail": {"state": ["terminated"]}},
        ],
    }
    assert matches(top_level_or)
    assert not matches({**top_level_or, "source": ["aws.s3"]})


def test_or_branches_all_failing() -> None:
    pattern = {"$or": [{"source": ["a"]}, {"detail": {"state": ["running"]}}]}
    assert not matches(pattern)


def test_nested_or_groups() -> None:
    pattern = {
        "$or": [
            {"source": ["aws.s3"]},
            {"$or": [{"region": ["eu-west-1"]}, {"detail": {"state": ["terminated"]}}]},
        ],
        "account": ["111122223333"],
    }
    assert matches(pattern)
    assert not matches({**pattern, "account": ["999"]})


def test_the_user_guide_complex_example() -> None:
    pattern = {
        "time": [{"prefix": "2017-12-22"}],
        "detail": {
            "state": [{"anything-but": "initializing"}],
            "c-count": [{"numeric": [">", 0, "<=", 5]}],
            "d-count": [{"numeric": ["<", 10]}],
            "x-limit": [{"anything-but": [100, 200, 300]}],
        },
    }
    assert matches(pattern)
    changed = {**EVENT, "detail": {**EVENT["detail"], "state": "initializing"}}
    assert not matches(pattern, changed)


# --- invalid patterns: AWS's reasons --------------------------------------------------------

MIXED_TYPES = (
    "Inside anything but list, either all values are number or string, mixed type is not supported"
)
IGNORE_CASE_NOT_STRING = (
    "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."
)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ('["not", "a", "dict"]', "Filter is not an object"),
        ('"a string"', "Filter is not an object"),
        ("{}", "Empty objects are not allowed"),
        ('{"detail": {}}', "Empty objects are not allowed"),
        ('{"int": 42}', '"int" must be an object or an array'),
        ('{"string": "my-value"}', '"string" must be an object or an array'),
        ('{"resources": []}', "Empty arrays are not allowed"),
        ('{"a": [["x"]]}', "Match value must be String, number, true, false, or null"),
        ('{"a": [{}]}', "Match expression name not found"),
        ('{"a": [{"EXISTS": true}]}', "Unrecognized match type EXISTS"),
        (
            '{"a": [{"numeric": [">", 0], "prefix": "x"}]}',
            "Too many elements in numeric expression",
        ),
        ('{"a": [{"prefix": "x", "suffix": "y"}]}', "Only one key allowed in match expression"),
        ('{"a": [{"prefix": 1}]}', "prefix match pattern must be a string"),
        ('{"a": [{"prefix": null}]}', "prefix match pattern must be a string"),
        ('{"a": [{"prefix": {}}]}', "Prefix expression name not found"),
        ('{"a": [{"prefix": {"x": "y"}}]}', "Unsupported prefix pattern: x"),
        (
            '{"a": [{"prefix": {"equals-ignore-case": 1}}]}',
            "equals-ignore-case match pattern must be a string",
        ),
        ('{"a": [{"suffix": ["x"]}]}', "suffix match pattern must be a string"),
        ('{"a": [{"suffix": {"x": "y"}}]}', "Unsupported suffix pattern: x"),
        ('{"a": [{"exactly": 1}]}', "exact match pattern must be a string"),
        (
            '{"a": [{"equals-ignore-case": ["x"]}]}',
            "equals-ignore-case match pattern must be a string",
        ),
        ('{"a": [{"wildcard": 1}]}', "wildcard match pattern must be a string"),
        ('{"a": [{"wildcard": "arn:**:x"}]}', "Consecutive wildcard characters at pos 5"),
        ('{"a": [{"wildcard": "a\\\\b"}]}', "Invalid escape character at pos 2"),
        ('{"a": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
        ('{"a": [{"numeric": 5}]}', "Value of numeric must be an array."),
        ('{"a": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
        ('{"a": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
        ('{"a": [{"numeric": ["~", 5]}]}', "Unrecognized numeric range operator: ~"),
        ('{"a": [{"numeric": ["<", "5"]}]}', "Value of < must be numeric"),
        ('{"a": [{"numeric": ["=", true]}]}', "Value of equals must be numeric"),
        ('{"a": [{"numeric": ["=", 5, 6]}]}', "Too many elements in numeric expression"),
        ('{"a": [{"numeric": ["<", 5, "<", 6]}]}', "Too many elements in numeric expression"),
        ('{"a": [{"numeric": [">", 0, ">", 0]}]}', "Bad numeric range operator: >"),
        ('{"a": [{"numeric": [">", 0, 5]}]}', "Bad value in numeric range: 5"),
        ('{"a": [{"numeric": [">", 0, "<"]}]}', "Value of < must be numeric"),
        ('{"a": [{"numeric": [">", 0, "<", 5, 6]}]}', "Too many terms in numeric range expression"),
        ('{"a": [{"numeric": [">", 5, "<", 5]}]}', "Bottom must be less than top"),
        (
            '{"a": [{"numeric": [">", 0.1000000000000000001]}]}',
            "Cannot compare number : 0.1000000000000000001",
        ),
        (
            '{"a": [{"anything-but": null}]}',
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            '{"a": [{"anything-but": true}]}',
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            '{"a": [{"anything-but": [null]}]}',
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (
            '{"a": [{"anything-but": ["x", 1]}]}',
            MIXED_TYPES,
        ),
        (
            '{"a": [{"anything-but": []}]}',
            MIXED_TYPES,
        ),
        ('{"a": [{"anything-but": {}}]}', "Anything-But expression name not found"),
        (
            '{"a": [{"anything-but": {"numeric": [">", 1]}}]}',
            "Unsupported anything-but pattern: numeric",
        ),
        ('{"a": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
        ('{"a": [{"anything-but": {"suffix": ["x", ""]}}]}', "Null prefix/suffix not allowed"),
        (
            '{"a": [{"anything-but": {"prefix": 1}}]}',
            "prefix/suffix match pattern must be a string",
        ),
        (
            '{"a": [{"anything-but": {"suffix": [1]}}]}',
            "prefix/suffix match pattern must be a string",
        ),
        ('{"a": [{"anything-but": {"wildcard": [1]}}]}', "wildcard match pattern must be a string"),
        (
            '{"a": [{"anything-but": {"equals-ignore-case": 1}}]}',
            IGNORE_CASE_NOT_STRING,
        ),
        (
            '{"a": [{"anything-but": {"prefix": "x", "suffix": "y"}}]}',
            "Too many elements in numeric expression",
        ),
        ('{"a": [{"cidr": 10}]}', "prefix match pattern must be a string"),
        ('{"a": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
        ('{"a": [{"cidr": "10.0.0.0/"}]}', "Malformed CIDR, one '/' required"),
        ('{"a": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer"),
        ('{"a": [{"cidr": "10.0.0.0/-1"}]}', "Malformed CIDR, mask bits must not be negative"),
        ('{"a": [{"cidr": "xx.11.xx/24"}]}', "Nonstandard IP address: xx.11.xx"),
        ('{"a": [{"cidr": "300.0.0.0/24"}]}', "Invalid IP address: 300.0.0.0"),
        ('{"a": [{"cidr": "10.0.0.0/32"}]}', "IPv4 mask bits must be < 32"),
        ('{"a": [{"cidr": "2001:db8::/128"}]}', "IPv6 mask bits must be < 128"),
        ('{"$or": {"a": ["x"]}}', "It must be an Array followed with $or."),
        (
            '{"$or": [{"a": ["x"]}, "b"]}',
            "Only JSON object is allowed in array of $or relationship.",
        ),
        ('{"$or": [{"a": ["x"]}]}', "There must have at least 2 Objects in $or relationship."),
        ('{"$or": []}', "There must have at least 2 Objects in $or relationship."),
        ('{"$or": [{"a": ["x"]}, {}]}', "Empty objects are not allowed"),
        (
            '{"$or": [{"a": ["x"]}, {"numeric": ["x"]}]}',
            "numeric is Ruler reserved fieldName which cannot be used inside $or.",
        ),
        (
            '{"$or": [{"a": ["x"]}, {"b": {"prefix": ["x"]}}]}',
            "prefix is Ruler reserved fieldName which cannot be used inside $or.",
        ),
    ],
)
def test_invalid_patterns_carry_aws_reason(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidEventPatternError) as info:
        compile(pattern)
    assert info.value.reason == reason
    assert str(info.value) == f"Event pattern is not valid. Reason: {reason}"
    assert info.value.code == "InvalidEventPatternException"


EXPECTED_VALUE = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "{'bad': 'quotation'}",
            "Unexpected character (''' (code 39)): was expecting double-quote to start field name",
        ),
        ('{"not": closed mark"', f"Unrecognized token 'closed': was expecting {EXPECTED_VALUE}"),
        (
            "this is valid json but not a dict",
            f"Unrecognized token 'this': was expecting {EXPECTED_VALUE}",
        ),
        ("", "Unexpected end-of-input"),
        ('{"a": ["x"]', "Unexpected end-of-input"),
    ],
)
def test_malformed_json_gives_the_parsers_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidEventPatternError) as info:
        compile(text)
    assert info.value.reason == reason


@pytest.mark.parametrize("text", ["{} x", "NaN", '{"a": [Infinity]}', '{"a": [1,]}'])
def test_malformed_json_is_an_invalid_pattern(text: str) -> None:
    with pytest.raises(InvalidEventPatternError) as info:
        compile(text)
    assert str(info.value).startswith("Event pattern is not valid. Reason: ")


def test_reserved_names_are_plain_fields_outside_or() -> None:
    assert matches({"detail": {"numeric": ["x"]}}, {"detail": {"numeric": "x"}})


def test_pattern_numbers_a_double_cannot_hold_still_match_exactly() -> None:
    big = 12345678901234567891
    assert matches({"n": [big]}, {"n": big})
    assert not matches({"n": [big]}, {"n": big + 1})


@pytest.mark.parametrize("number", ["9007199254740993", "1e400", "-1" + "0" * 400])
def test_numeric_bounds_a_double_cannot_hold_are_refused(number: str) -> None:
    with pytest.raises(InvalidEventPatternError) as info:
        compile('{"a": [{"numeric": [">", ' + number + "]}]}")
    assert info.value.reason.startswith("Cannot compare number : ")
