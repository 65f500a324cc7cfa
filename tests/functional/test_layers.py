"""Layers: publish, read, list, delete, permissions, and functions referencing them."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.functional.support import unique_name
from tests.helpers import ROLE, make_zip

ACCOUNT = "123456789012"


@pytest.fixture
def layer(lam: Any) -> str:
    return unique_name("layer")


def _publish(lam: Any, layer: str, files: dict[str, str | bytes] | None = None,
             **kwargs: Any) -> dict[str, Any]:
    content = make_zip(files or {"python/helper.py": "VALUE = 42\n"})
    result: dict[str, Any] = lam.publish_layer_version(LayerName=layer,
                                                       Content={"ZipFile": content}, **kwargs)
    return result


def test_publish_get_list_delete(lam: Any, layer: str) -> None:
    first = _publish(lam, layer, Description="v1", CompatibleRuntimes=["python3.12"],
                     CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert first["Version"] == 1
    assert first["LayerArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{layer}"
    assert first["LayerVersionArn"] == f"{first['LayerArn']}:1"
    assert first["CompatibleRuntimes"] == ["python3.12"]
    with urllib.request.urlopen(first["Content"]["Location"]) as r:
        assert r.read() == make_zip({"python/helper.py": "VALUE = 42\n"})
    second = _publish(lam, layer, Description="v2")
    assert second["Version"] == 2
    got = lam.get_layer_version(LayerName=layer, VersionNumber=1)
    assert got["Description"] == "v1"
    by_arn = lam.get_layer_version_by_arn(Arn=second["LayerVersionArn"])
    assert by_arn["Version"] == 2
    versions = lam.list_layer_versions(LayerName=layer)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    assert [v["Version"] for v in lam.list_layer_versions(
        LayerName=layer, CompatibleRuntime="python3.12")["LayerVersions"]] == [1]
    listed = [item for item in lam.list_layers()["Layers"] if item["LayerName"] == layer]
    assert listed[0]["LatestMatchingVersion"]["Version"] == 2
    lam.delete_layer_version(LayerName=layer, VersionNumber=2)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version(LayerName=layer, VersionNumber=2)
    assert _publish(lam, layer)["Version"] == 3


def test_layer_permissions(lam: Any, layer: str) -> None:
    _publish(lam, layer)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    added = lam.add_layer_version_permission(
        LayerName=layer, VersionNumber=1, StatementId="everyone",
        Action="lambda:GetLayerVersion", Principal="*")
    statement = json.loads(added["Statement"])
    assert statement["Sid"] == "everyone"
    assert statement["Resource"].endswith(f"layer:{layer}:1")
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.add_layer_version_permission(
            LayerName=layer, VersionNumber=1, StatementId="everyone",
            Action="lambda:GetLayerVersion", Principal="*")
    policy = lam.get_layer_version_policy(LayerName=layer, VersionNumber=1)
    assert json.loads(policy["Policy"])["Statement"][0]["Sid"] == "everyone"
    assert policy["RevisionId"] == added["RevisionId"]
    lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1,
                                        StatementId="everyone")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.remove_layer_version_permission(LayerName=layer, VersionNumber=1,
                                            StatementId="everyone")


def test_functions_reference_layers(lam: Any, layer: str, name: str) -> None:
    arn = _publish(lam, layer)["LayerVersionArn"]
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": make_zip({"index.py": "def handler(e, c):\n    return 1\n"})},
        Layers=[arn])
    assert created["Layers"] == [{"Arn": arn, "CodeSize": created["Layers"][0]["CodeSize"]}]
    assert created["Layers"][0]["CodeSize"] > 0
    # Updates wait for the function to be Active (until then AWS answers
    # ResourceConflictException, whatever the update says).
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.update_function_configuration(FunctionName=name, Layers=[arn + "9"])
    assert "does not exist" in info.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.update_function_configuration(FunctionName=name, Layers=[arn] * 6)
    assert info.value.response["Error"]["Message"] == "Cannot reference more than 5 layers."
    # Deleting the layer version does not break the function that uses it.
    lam.delete_layer_version(LayerName=layer, VersionNumber=1)
    assert lam.get_function(FunctionName=name)["Configuration"]["Layers"][0]["Arn"] == arn
