"""Provisioned concurrency through boto3: the API as AWS answers it, and the engine behind it."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.functional.support import deploy, function_arn

HANDLER = (
    "import os, time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
)

pytestmark = pytest.mark.sandbox


def published(lam: Any, name: str, code: str = HANDLER) -> str:
    deploy(lam, name, {"index.py": code})
    return str(lam.publish_version(FunctionName=name)["Version"])


def wait_status(lam: Any, name: str, qualifier: str, status: str,
                timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier)
        if doc["Status"] == status or time.monotonic() > deadline:
            assert doc["Status"] == status, doc
            return doc
        time.sleep(0.1)


def invoke(lam: Any, name: str, qualifier: str, event: dict[str, Any] | None = None,
           tail: bool = False) -> tuple[Any, str]:
    out = lam.invoke(FunctionName=name, Qualifier=qualifier, Payload=json.dumps(event or {}),
                     LogType="Tail" if tail else "None")
    body = json.loads(out["Payload"].read())
    return body, base64.b64decode(out.get("LogResult", "")).decode()


def test_provisioned_environments_are_initialised_ahead_and_used_first(
        lam: Any, name: str) -> None:
    version = published(lam, name)
    before = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    out = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert out["Status"] == "IN_PROGRESS"
    assert out["RequestedProvisionedConcurrentExecutions"] == 2
    assert out["AllocatedProvisionedConcurrentExecutions"] == 0
    doc = wait_status(lam, name, version, "READY")
    assert doc["AllocatedProvisionedConcurrentExecutions"] == 2
    assert doc["AvailableProvisionedConcurrentExecutions"] == 2
    after = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert after == before - 2

    body, logs = invoke(lam, name, version, tail=True)
    assert body == "provisioned-concurrency"
    assert "Init Duration" not in logs  # Init ran ahead of the traffic

    # Two run on the provisioned environments; the third spills over to on-demand.
    with ThreadPoolExecutor(3) as pool:
        kinds = sorted(pool.map(lambda _: invoke(lam, name, version, {"sleep": 1})[0], range(3)))
    assert kinds.count("provisioned-concurrency") == 2
    # The spill-over environment is an ordinary one: fresh, or forked from the template.
    assert set(kinds) - {"provisioned-concurrency"} <= {"on-demand", "snap-start"}
    assert len(kinds) == 3

    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [
        function_arn(name) + f":{version}"]

    resp = lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException) as info:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
    assert info.value.response["Error"]["Message"] == (
        "No Provisioned Concurrency Config found for this function")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before


def test_an_alias_provisions_the_version_it_points_at(lam: Any, name: str) -> None:
    version = published(lam, name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1)
    wait_status(lam, name, "live", "READY")
    assert invoke(lam, name, "live")[0] == "provisioned-concurrency"
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    assert listed["ProvisionedConcurrencyConfigs"][0]["FunctionArn"] == (
        function_arn(name) + ":live")
    # A version and an alias pointing at it cannot both be provisioned.
    with pytest.raises(lam.exceptions.ResourceConflictException) as info:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    assert info.value.response["Error"]["Message"] == (
        "Version is pointed by a Provisioned Concurrency alias")
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="live")


def test_latest_and_unknown_targets_are_rejected_as_aws_does(lam: Any, name: str) -> None:
    published(lam, name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert info.value.response["Error"]["Message"] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")
    assert info.value.response["Error"]["Message"] == (
        "The function resource provided must be an alias or a published version.")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="42", ProvisionedConcurrentExecutions=1)
    assert info.value.response["Error"]["Message"] == (
        f"Function not found: {function_arn(name)}:42")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="nope")
    assert info.value.response["Error"]["Message"] == (
        f"Cannot find alias arn: {function_arn(name)}:nope")
    with pytest.raises(lam.exceptions.ProvisionedConcurrencyConfigNotFoundException):
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")


def test_limits_follow_reserved_and_account_concurrency(lam: Any, name: str) -> None:
    version = published(lam, name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=901)
    assert info.value.response["Error"]["Message"] == (
        "Specified ConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=2)
    assert info.value.response["Error"]["Message"] == (
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function")
    lam.delete_function_concurrency(FunctionName=name)


def test_an_init_failure_fails_the_allocation(lam: Any, name: str) -> None:
    version = published(lam, name, "raise RuntimeError('no')\ndef handler(e, c):\n    pass\n")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=version, ProvisionedConcurrentExecutions=1)
    doc = wait_status(lam, name, version, "FAILED")
    assert doc["StatusReason"] == "FUNCTION_ERROR_INIT_FAILURE"
    assert doc["AllocatedProvisionedConcurrentExecutions"] == 0
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=version)
