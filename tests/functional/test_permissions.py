"""AddPermission / GetPolicy / RemovePermission through boto3 against a real server:
AWS's shapes, errors and RevisionIds, per qualifier, kept across a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.support import deploy, function_arn, unique_name
from tests.helpers import client, running_server

RULE = "arn:aws:events:us-east-1:123456789012:rule/nightly"


def _error(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    error = failed.value.response
    return (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["Error"]["Message"])


def test_add_get_remove_as_aws_answers(lam: Any) -> None:
    name = unique_name()
    deploy(lam, name)
    added = lam.add_permission(FunctionName=name, StatementId="events",
                               Action="lambda:InvokeFunction", Principal="events.amazonaws.com",
                               SourceArn=RULE)
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "events", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": function_arn(name),
        "Condition": {"ArnLike": {"AWS:SourceArn": RULE}}}
    policy = lam.get_policy(FunctionName=name)
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17", "Id": "default", "Statement": [json.loads(added["Statement"])]}
    assert policy["RevisionId"] == lam.get_function_configuration(FunctionName=name)["RevisionId"]
    removed = lam.remove_permission(FunctionName=name, StatementId="events")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _error(lam.get_policy, FunctionName=name) == (
        "ResourceNotFoundException", 404, "The resource you requested does not exist.")


def test_aws_refusals(lam: Any) -> None:
    name = unique_name()
    deploy(lam, name)
    grant = {"FunctionName": name, "StatementId": "dup", "Action": "lambda:InvokeFunction",
             "Principal": "s3.amazonaws.com"}
    lam.add_permission(**grant)
    assert _error(lam.add_permission, **grant) == (
        "ResourceConflictException", 409,
        "The statement id (dup) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.")
    assert _error(lam.remove_permission, FunctionName=name, StatementId="other") == (
        "ResourceNotFoundException", 404, "Statement other is not found in resource policy.")
    assert _error(lam.add_permission, **{**grant, "StatementId": "x",
                                         "Qualifier": "$LATEST"})[:2] == (
        "InvalidParameterValueException", 400)
    assert _error(lam.add_permission, **{**grant, "StatementId": "x",
                                         "RevisionId": "stale"}) == ADD_STALE
    assert _error(lam.remove_permission, FunctionName=name, StatementId="dup",
                  RevisionId="stale") == REMOVE_STALE
    assert _error(lam.get_policy, FunctionName=unique_name())[:2] == (
        "ResourceNotFoundException", 404)


def test_a_version_has_its_own_policy(lam: Any) -> None:
    name = unique_name()
    deploy(lam, name)
    version = lam.publish_version(FunctionName=name)
    lam.add_permission(FunctionName=name, Qualifier=version["Version"], StatementId="v",
                       Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    policy = lam.get_policy(FunctionName=name, Qualifier=version["Version"])
    statement = json.loads(policy["Policy"])["Statement"][0]
    assert statement["Resource"] == version["FunctionArn"]
    assert statement["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    current = lam.get_function_configuration(FunctionName=name, Qualifier=version["Version"])
    assert policy["RevisionId"] == current["RevisionId"] != version["RevisionId"]
    assert _error(lam.get_policy, FunctionName=name)[0] == "ResourceNotFoundException"


ADD_STALE = ("PreconditionFailedException", 412,
             "The Revision Id provided does not match the latest Revision Id. Call the "
             "GetPolicy API to retrieve the latest Revision Id")
REMOVE_STALE = ("PreconditionFailedException", 412,
                "The Revision Id provided does not match the latest Revision Id. Call the "
                "GetFunction/GetAlias API to retrieve the latest Revision Id")


def _revision_of(lam: Any, name: str, qualifier: str) -> str:
    if qualifier.isdigit():
        config = lam.get_function_configuration(FunctionName=name, Qualifier=qualifier)
        return str(config["RevisionId"])
    return str(lam.get_alias(FunctionName=name, Name=qualifier)["RevisionId"])


@pytest.mark.parametrize("kind", ["version", "alias"])
def test_a_qualifiers_policy_changes_renew_its_revision(lam: Any, kind: str) -> None:
    name = unique_name()
    deploy(lam, name)
    number = lam.publish_version(FunctionName=name)["Version"]
    qualifier = number
    if kind == "alias":
        qualifier = "live"
        lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=number)
    unqualified = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    grant = {"FunctionName": name, "Qualifier": qualifier, "Action": "lambda:InvokeFunction",
             "Principal": "s3.amazonaws.com"}
    before = _revision_of(lam, name, qualifier)
    lam.add_permission(**grant, StatementId="one", RevisionId=before)
    after_add = _revision_of(lam, name, qualifier)
    assert after_add != before
    assert lam.get_policy(FunctionName=name, Qualifier=qualifier)["RevisionId"] == after_add
    assert _error(lam.add_permission, **grant, StatementId="two",
                  RevisionId=before) == ADD_STALE
    assert _revision_of(lam, name, qualifier) == after_add  # a refusal renews nothing
    assert _error(lam.add_permission, **grant, StatementId="one")[0] == \
        "ResourceConflictException"
    assert _revision_of(lam, name, qualifier) == after_add
    lam.add_permission(**grant, StatementId="two", RevisionId=after_add)
    after_second = _revision_of(lam, name, qualifier)
    assert after_second != after_add
    remove = {"FunctionName": name, "Qualifier": qualifier, "StatementId": "one"}
    assert _error(lam.remove_permission, **remove, RevisionId=after_add) == REMOVE_STALE
    lam.remove_permission(**remove, RevisionId=after_second)
    after_remove = _revision_of(lam, name, qualifier)
    assert after_remove != after_second
    policy = lam.get_policy(FunctionName=name, Qualifier=qualifier)
    assert [s["Sid"] for s in json.loads(policy["Policy"])["Statement"]] == ["two"]
    assert policy["RevisionId"] == after_remove
    # The unqualified function's RevisionId belongs to its own policy alone.
    assert lam.get_function_configuration(FunctionName=name)["RevisionId"] == unqualified


def test_the_policy_survives_updates_and_restarts(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as first:
        lam = client(first)
        name = unique_name()
        deploy(lam, name)
        lam.add_permission(FunctionName=name, StatementId="acct",
                           Action="lambda:InvokeFunction", Principal="210987654321")
        lam.update_function_configuration(FunctionName=name, Description="changed")
        port = first.port
    with running_server(tmp_path / "data", port=port) as second:
        policy = json.loads(client(second).get_policy(FunctionName=name)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
