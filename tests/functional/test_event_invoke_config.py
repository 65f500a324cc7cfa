"""Asynchronous-invocation settings and the recursion config, through boto3, as AWS answers."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.support import deploy, function_arn, unique_name

QUEUE = "arn:aws:sqs:us-east-1:123456789012:failed"
TOPIC = "arn:aws:sns:us-east-1:123456789012:done"
BUS = "arn:aws:events:us-east-1:123456789012:event-bus/default"
NO_DESTINATIONS = {"OnSuccess": {}, "OnFailure": {}}


@pytest.fixture
def other(lam: Any) -> Iterator[str]:
    """A second function, to be a destination."""
    value = unique_name()
    deploy(lam, value)
    yield value
    lam.delete_function(FunctionName=value)


def error(exc: Any) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return err["Code"], err["Message"]


def not_configured(name: str, qualifier: str = "$LATEST") -> str:
    return f"The function {function_arn(name)}:{qualifier} doesn't have an EventInvokeConfig"


def test_put_replaces_update_merges_and_revision_stays(lam: Any, name: str) -> None:
    deploy(lam, name)
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert error(exc) == ("ResourceNotFoundException", not_configured(name))

    out = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0,
                                               MaximumEventAgeInSeconds=60)
    assert out["FunctionArn"] == function_arn(name) + ":$LATEST"
    assert out["DestinationConfig"] == NO_DESTINATIONS
    assert (out["MaximumRetryAttempts"], out["MaximumEventAgeInSeconds"]) == (0, 60)
    assert isinstance(out["LastModified"], datetime.datetime)
    age = datetime.datetime.now(datetime.UTC) - out["LastModified"]
    assert abs(age.total_seconds()) < 60

    # Put replaces everything: what it leaves out is unset again.
    out = lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert "MaximumEventAgeInSeconds" not in out
    got = lam.get_function_event_invoke_config(FunctionName=name, Qualifier="$LATEST")
    assert got["MaximumRetryAttempts"] == 1 and "MaximumEventAgeInSeconds" not in got

    # Update changes only what it names.
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=3600,
        DestinationConfig={"OnSuccess": {"Destination": TOPIC}})
    out = lam.update_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": QUEUE}})
    assert (out["MaximumRetryAttempts"], out["MaximumEventAgeInSeconds"]) == (0, 3600)
    assert out["DestinationConfig"] == {"OnSuccess": {"Destination": TOPIC},
                                        "OnFailure": {"Destination": QUEUE}}
    # A destination named without an ARN is cleared.
    out = lam.update_function_event_invoke_config(FunctionName=name,
                                                  DestinationConfig={"OnSuccess": {}})
    assert out["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {"Destination": QUEUE}}
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert {k: got[k] for k in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds",
                                "DestinationConfig")} == {
        "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnSuccess": {}, "OnFailure": {"Destination": QUEUE}}}

    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == revision

    out = lam.delete_function_event_invoke_config(FunctionName=name)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.delete_function_event_invoke_config(FunctionName=name)
    assert error(exc) == ("ResourceNotFoundException", not_configured(name))
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.update_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    assert error(exc) == ("ResourceNotFoundException", not_configured(name))


def test_each_qualifier_has_its_own_settings(lam: Any, name: str) -> None:
    deploy(lam, name)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    version = lam.publish_version(FunctionName=name)["Version"]
    alias_arn = lam.create_alias(FunctionName=name, Name="live",
                                 FunctionVersion=version)["AliasArn"]
    # A published version does not take $LATEST's settings with it.
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.get_function_event_invoke_config(FunctionName=name, Qualifier=version)
    assert error(exc)[1] == not_configured(name, version)

    out = lam.put_function_event_invoke_config(FunctionName=f"{name}:{version}",
                                               MaximumEventAgeInSeconds=120)
    assert out["FunctionArn"] == function_arn(name) + f":{version}"
    out = lam.put_function_event_invoke_config(FunctionName=alias_arn, Qualifier="live",
                                               MaximumRetryAttempts=1)
    assert out["FunctionArn"] == alias_arn
    assert lam.get_function_event_invoke_config(
        FunctionName=name, Qualifier="live")["MaximumRetryAttempts"] == 1
    assert lam.get_function_event_invoke_config(
        FunctionName=name)["MaximumRetryAttempts"] == 0

    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]] == [
        function_arn(name) + ":$LATEST", function_arn(name) + f":{version}", alias_arn]
    assert "NextMarker" not in listed
    first = lam.list_function_event_invoke_configs(FunctionName=name, MaxItems=2)
    rest = lam.list_function_event_invoke_configs(FunctionName=name,
                                                  Marker=first["NextMarker"], MaxItems=2)
    assert first["FunctionEventInvokeConfigs"] + rest["FunctionEventInvokeConfigs"] == \
        listed["FunctionEventInvokeConfigs"]
    assert "NextMarker" not in rest

    # Settings of a deleted alias go with it.
    lam.delete_alias(FunctionName=name, Name="live")
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert len(listed["FunctionEventInvokeConfigs"]) == 2
    for qualifier in ("$LATEST", version):
        lam.delete_function_event_invoke_config(FunctionName=name, Qualifier=qualifier)
    assert lam.list_function_event_invoke_configs(
        FunctionName=name)["FunctionEventInvokeConfigs"] == []


def test_destinations(lam: Any, name: str, other: str) -> None:
    deploy(lam, name)
    for success, failure in ((function_arn(other), QUEUE), (TOPIC, BUS),
                             (None, "arn:aws:s3:::failed-events")):
        dest = {"OnFailure": {"Destination": failure}}
        if success:
            dest["OnSuccess"] = {"Destination": success}
        out = lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=dest)
        assert out["DestinationConfig"] == {"OnSuccess": dest.get("OnSuccess", {}), **dest}
        assert "MaximumRetryAttempts" not in out

    out = lam.put_function_event_invoke_config(FunctionName=name,
                                               DestinationConfig={"OnSuccess": {}})
    assert out["DestinationConfig"] == NO_DESTINATIONS

    missing = function_arn("doesnotexist")
    cases = [
        ({"OnSuccess": {"Destination": missing}},
         f"The destination ARN {missing} is invalid."),
        ({"OnFailure": {"Destination": function_arn(name) + ":$LATEST"}},
         "You can't specify the function as a destination for itself."),
        ({"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}},
         "The provided destination config DestinationConfig(onSuccess=OnSuccess("
         "destination=arn:aws:s3:::bucket), onFailure=null) is invalid."),
        ({"OnFailure": {"Destination": "arn:aws:iam:us-east-1:123456789012:role/r"}},
         "The provided destination config DestinationConfig(onSuccess=null, onFailure="
         "OnFailure(destination=arn:aws:iam:us-east-1:123456789012:role/r)) is invalid."),
    ]
    for dest, message in cases:
        with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
            lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=dest)
        assert error(exc) == ("InvalidParameterValueException", message)


def test_bad_values_are_refused(lam: Any, unchecked: Any, name: str) -> None:
    deploy(lam, name)
    bad = function_arn(name).replace(":lambda:", ":_-/!lambda:")
    with pytest.raises(unchecked.exceptions.ClientError) as exc:
        unchecked.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnFailure": {"Destination": bad}})
    code, message = error(exc)
    assert code == "ValidationException"
    assert message.startswith(
        f"1 validation error detected: Value '{bad}' at 'destinationConfig.onFailure."
        "destination' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: ")
    for field, value, constraint in (
        ("MaximumRetryAttempts", 3, "less than or equal to 2"),
        ("MaximumRetryAttempts", -1, "greater than or equal to 0"),
        ("MaximumEventAgeInSeconds", 59, "greater than or equal to 60"),
        ("MaximumEventAgeInSeconds", 21601, "less than or equal to 21600"),
    ):
        with pytest.raises(unchecked.exceptions.ClientError) as exc:
            unchecked.update_function_event_invoke_config(FunctionName=name, **{field: value})
        path = field[0].lower() + field[1:]
        assert error(exc) == ("ValidationException",
                              f"1 validation error detected: Value '{value}' at '{path}' failed "
                              f"to satisfy constraint: Member must have value {constraint}")


def test_unknown_functions_qualifiers_and_empty_requests(lam: Any, name: str) -> None:
    deploy(lam, name)
    # Nothing to set is refused before the function is looked up.
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.put_function_event_invoke_config(FunctionName="doesnotexist")
    assert error(exc) == ("InvalidParameterValueException",
                          "You must specify at least one of error handling or destination "
                          "setting.")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_event_invoke_config(FunctionName=name)

    for fn, qualifier in (("doesnotexist", None), (function_arn("doesnotexist"), None),
                          (name, "nosuchalias"), (name, "7")):
        extra = {"Qualifier": qualifier} if qualifier else {}
        for call in (lam.put_function_event_invoke_config,
                     lam.update_function_event_invoke_config):
            with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
                call(FunctionName=fn, MaximumRetryAttempts=1, **extra)
            assert error(exc) == ("ResourceNotFoundException", "The function doesn't exist.")
        for call in (lam.get_function_event_invoke_config,
                     lam.delete_function_event_invoke_config):
            with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
                call(FunctionName=fn, **extra)
            target = "doesnotexist" if fn != name else name
            assert error(exc)[1] == not_configured(target, qualifier or "$LATEST")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.list_function_event_invoke_configs(FunctionName="doesnotexist")
    assert error(exc)[1] == "The function doesn't exist."

    with pytest.raises(lam.exceptions.InvalidParameterValueException) as exc:
        lam.put_function_event_invoke_config(FunctionName=f"{name}:$LATEST", Qualifier="1",
                                             MaximumRetryAttempts=1)
    assert error(exc)[1] == ("The derived qualifier from the function name does not match the "
                             "specified qualifier.")


def test_recursion_config(lam: Any, unchecked: Any, name: str) -> None:
    deploy(lam, name)
    revision = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    assert lam.get_function_recursion_config(FunctionName=name)["RecursiveLoop"] == "Terminate"
    out = lam.put_function_recursion_config(FunctionName=name, RecursiveLoop="Allow")
    assert out["RecursiveLoop"] == "Allow"
    assert lam.get_function_recursion_config(
        FunctionName=function_arn(name))["RecursiveLoop"] == "Allow"
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == revision

    with pytest.raises(lam.exceptions.ResourceNotFoundException) as exc:
        lam.put_function_recursion_config(FunctionName="doesnotexist", RecursiveLoop="Allow")
    assert error(exc)[1] == f"Function not found: {function_arn('doesnotexist')}"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_recursion_config(FunctionName="doesnotexist")
    with pytest.raises(unchecked.exceptions.ClientError) as exc:
        unchecked.put_function_recursion_config(FunctionName=name, RecursiveLoop="Sometimes")
    code, message = error(exc)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value 'Sometimes' at "
                              "'recursiveLoop' failed to satisfy constraint: Member must satisfy "
                              "enum value set: [")
