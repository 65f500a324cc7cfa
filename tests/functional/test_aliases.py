"""Aliases: CRUD with AWS's validation, invoking through them, weighted routing."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from tests.functional.support import deploy, wait_updated

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
CODE = "def handler(event, context):\n    return context.function_version\n"

pytestmark = pytest.mark.sandbox


@pytest.fixture
def versions(lam: Any, name: str) -> str:
    """A function with published versions 1 and 2."""
    deploy(lam, name, {"index.py": CODE})
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name,
                                      Environment={"Variables": {"VER": "2"}})
    wait_updated(lam, name)
    lam.publish_version(FunctionName=name)
    return name


def test_alias_crud(lam: Any, versions: str) -> None:
    name = versions
    created = lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1",
                               Description="production")
    assert created["AliasArn"] == f"{ARN}:{name}:prod"
    assert created["FunctionVersion"] == "1"
    got = lam.get_alias(FunctionName=name, Name="prod")
    assert got["RevisionId"] == created["RevisionId"]
    with pytest.raises(lam.exceptions.ResourceConflictException) as info:
        lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    assert info.value.response["Error"]["Message"] == f"Alias already exists: {ARN}:{name}:prod"
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2", RevisionId="x")
    updated = lam.update_alias(FunctionName=name, Name="prod", FunctionVersion="2",
                               RevisionId=created["RevisionId"])
    assert updated["FunctionVersion"] == "2"
    assert updated["Description"] == "production"
    assert updated["RevisionId"] != created["RevisionId"]
    lam.create_alias(FunctionName=name, Name="beta", FunctionVersion="$LATEST")
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name)["Aliases"]] == ["beta", "prod"]
    assert [a["Name"] for a in lam.list_aliases(FunctionName=name, FunctionVersion="2")[
        "Aliases"]] == ["prod"]
    resp = lam.delete_alias(FunctionName=name, Name="beta")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_alias(FunctionName=name, Name="beta")
    assert info.value.response["Error"]["Message"] == f"Alias not found: {ARN}:{name}:beta"


def test_alias_validation(lam: Any, versions: str) -> None:
    name = versions
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.create_alias(FunctionName=name, Name="ghost", FunctionVersion="9")
    assert info.value.response["Error"]["Message"] == f"Function not found: {ARN}:{name}:9"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.create_alias(FunctionName=name, Name="w", FunctionVersion="$LATEST",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    assert "$LATEST is not supported" in info.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_alias(FunctionName=name, Name="w", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}})
    with pytest.raises(lam.exceptions.ClientError) as err:
        lam.create_alias(FunctionName=name, Name="w", FunctionVersion="1",
                         RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}})
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_versions_referenced_by_an_alias_cannot_be_deleted(lam: Any, versions: str) -> None:
    name = versions
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}})
    for version in ("1", "2"):
        with pytest.raises(lam.exceptions.ResourceConflictException) as info:
            lam.delete_function(FunctionName=name, Qualifier=version)
        assert info.value.response["Error"]["Message"] == (
            "Unable to delete version because the following aliases reference it: [live]")


def test_invoke_and_get_through_an_alias(lam: Any, versions: str) -> None:
    name = versions
    lam.create_alias(FunctionName=name, Name="prod", FunctionVersion="1")
    resp = lam.invoke(FunctionName=name, Qualifier="prod", Payload=b"{}")
    assert json.loads(resp["Payload"].read()) == "1"
    assert resp["ExecutedVersion"] == "1"
    resp = lam.invoke(FunctionName=f"{ARN}:{name}:prod", Payload=b"{}")
    assert resp["ExecutedVersion"] == "1"
    assert json.loads(resp["Payload"].read()) == "1"
    config = lam.get_function_configuration(FunctionName=name, Qualifier="prod")
    assert config["Version"] == "1"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="nope", Payload=b"{}")


def test_weighted_routing_splits_traffic(lam: Any, versions: str) -> None:
    name = versions
    lam.create_alias(FunctionName=name, Name="canary", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.3}})
    counts: Counter[str] = Counter()
    for _ in range(300):
        resp = lam.invoke(FunctionName=name, Qualifier="canary", Payload=b"{}")
        executed = resp["ExecutedVersion"]
        assert json.loads(resp["Payload"].read()) == executed
        counts[executed] += 1
    # 300 draws at p = 0.3: mean 90, sd ~7.9; ±5 sd bounds never flake in practice.
    assert 50 <= counts["2"] <= 130
    assert counts["1"] + counts["2"] == 300
