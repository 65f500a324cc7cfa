"""Target input: Input, InputPath and InputTransformer, with the examples of
AWS's user guide ("Amazon EventBridge input transformation")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from loam.services.events.errors import ValidationException
from loam.services.events.transform import JsonPath, RenderContext, render, validate_target

# The user guide's example Amazon EC2 event.
EVENT: dict[str, Any] = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2015-11-11T21:29:54Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "detail": {"instance-id": "i-0123456789", "state": "RUNNING"},
}
RULE_ARN = "arn:aws:events:us-east-2:123456789012:rule/example"
CONTEXT = RenderContext(EVENT, RULE_ARN, "example", "2015-11-11T21:29:55Z")
PATHS = {"timestamp": "$.time", "instance": "$.detail.instance-id", "state": "$.detail.state"}


def transform(template: str, paths: dict[str, str] = PATHS,
              context: RenderContext = CONTEXT) -> str:
    target = {"Id": "t", "Arn": "arn:aws:lambda:us-east-1:123456789012:function:f",
              "InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
    validate_target(target)
    return render(target, context).decode()


# --- the user guide's table ------------------------------------------------------------


def test_simple_string() -> None:
    assert transform('"instance <instance> is in <state>"') == \
        '"instance i-0123456789 is in RUNNING"'


def test_string_with_escaped_quotes() -> None:
    assert transform('"instance \\"<instance>\\" is in <state>"') == \
        '"instance \\"i-0123456789\\" is in RUNNING"'


def test_simple_json_quotes_strings_outside_quotes() -> None:
    out = transform('{\n  "instance" : <instance>,\n  "state": <state>\n}')
    assert out == '{"instance":"i-0123456789","state":"RUNNING"}'


def test_json_with_strings_and_variables() -> None:
    out = transform('{"instance" : <instance>, "state": "<state>",'
                    ' "instanceStatus": "instance \\"<instance>\\" is in <state>"}')
    assert json.loads(out) == {"instance": "i-0123456789", "state": "RUNNING",
                               "instanceStatus": 'instance "i-0123456789" is in RUNNING'}


def test_json_with_a_mix_of_variables_and_static_information() -> None:
    out = transform('{"instance" : <instance>, "state": [ 9, <state>, true ],'
                    ' "Transformed" : "Yes"}')
    assert json.loads(out) == {"instance": "i-0123456789", "state": [9, "RUNNING", True],
                               "Transformed": "Yes"}


def test_reserved_variables_in_json() -> None:
    out = json.loads(transform(
        '{"instance" : <instance>, "state": <state>, "ruleArn" : <aws.events.rule-arn>,'
        ' "ruleName" : <aws.events.rule-name>, "originalEvent" : <aws.events.event>,'
        ' "whole": <aws.events.event.json>, "at": <aws.events.event.ingestion-time>}'))
    assert out["ruleArn"] == RULE_ARN
    assert out["ruleName"] == "example"
    assert out["at"] == "2015-11-11T21:29:55Z"
    assert out["whole"] == EVENT
    assert out["originalEvent"] == {k: v for k, v in EVENT.items() if k != "detail"}


def test_reserved_variables_in_a_string() -> None:
    assert transform('"<aws.events.rule-name> triggered"') == '"example triggered"'


def test_plain_text_template() -> None:
    assert transform("<instance> is in state <state>") == "i-0123456789 is in state RUNNING"


# --- the quoting rules beyond the table -------------------------------------------------


def test_objects_numbers_and_missing_values() -> None:
    event = {**EVENT, "detail": {"n": 3, "ok": False, "obj": {"a": "b"}, "list": [1, "x"]}}
    context = RenderContext(event, RULE_ARN, "example", "t")
    paths = {"n": "$.detail.n", "ok": "$.detail.ok", "obj": "$.detail.obj",
             "list": "$.detail.list", "gone": "$.detail.nothing"}
    out = transform('{"n": <n>, "ok": <ok>, "obj": <obj>, "list": <list>, "gone": <gone>,'
                    ' "text": "n=<n> obj=<obj> gone=<gone>."}', paths, context)
    assert json.loads(out) == {"n": 3, "ok": False, "obj": {"a": "b"}, "list": [1, "x"],
                               "gone": None, "text": "n=3 obj={a:b} gone=."}


def test_a_template_that_is_not_json_takes_values_as_they_are() -> None:
    paths = {"detail": "$.detail"}
    assert transform("Detail: <detail>", paths) == \
        'Detail: {"instance-id":"i-0123456789","state":"RUNNING"}'


def test_input_and_input_path() -> None:
    base = {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q"}
    assert render({**base, "Input": '{"fixed": true}'}, CONTEXT) == b'{"fixed": true}'
    assert json.loads(render({**base, "InputPath": "$.detail"}, CONTEXT)) == EVENT["detail"]
    assert json.loads(render({**base, "InputPath": "$.resources[0]"}, CONTEXT)) == \
        EVENT["resources"][0]
    assert render({**base, "InputPath": "$.detail.none"}, CONTEXT) == b"null"
    assert json.loads(render(base, CONTEXT)) == EVENT


@pytest.mark.parametrize(("path", "expected"), [
    ("$", EVENT),
    ("$.detail.state", "RUNNING"),
    ("$['detail']['instance-id']", "i-0123456789"),
    ("$.resources[*]", EVENT["resources"]),
    ("$.detail.*", ["i-0123456789", "RUNNING"]),
])
def test_json_path_subset(path: str, expected: Any) -> None:
    assert JsonPath.parse(path).select(EVENT) == expected


@pytest.mark.parametrize("path", ["detail", "$..detail", "$.a[", "$[x]"])
def test_json_path_refuses_what_it_cannot_evaluate(path: str) -> None:
    with pytest.raises(ValueError):
        JsonPath.parse(path)


def test_a_json_template_that_is_not_json_is_refused() -> None:
    target = {"Id": "t", "Arn": "arn:aws:sqs:us-east-1:123456789012:q",
              "InputTransformer": {"InputPathsMap": {"a": "$.a"},
                                   "InputTemplate": '{"a": <a>,}'}}
    with pytest.raises(ValidationException) as info:
        validate_target(target)
    assert info.value.message == "InputTemplate for target t is not valid JSON text."
