"""Published versions: PublishVersion, ListVersionsByFunction, qualifiers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.support import deploy, wait_updated
from tests.helpers import ROLE, make_zip

ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012:function"
CODE = (
    "import os\n"
    "def handler(event, context):\n"
    "    return [os.environ.get('TAG'), context.function_version]\n"
)

pytestmark = pytest.mark.sandbox


def _invoke(lam: Any, name: str, qualifier: str | None = None) -> tuple[Any, dict[str, Any]]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    resp = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    return json.loads(resp["Payload"].read()), resp


def _retag(lam: Any, name: str, tag: str) -> None:
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"TAG": tag}})
    wait_updated(lam, name)


def test_publish_and_invoke_versions(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE}, Environment={"Variables": {"TAG": "one"}})
    v1 = lam.publish_version(FunctionName=name, Description="first")
    assert v1["Version"] == "1"
    assert v1["FunctionArn"] == f"{ACCOUNT_ARN}:{name}:1"
    assert v1["Description"] == "first"
    assert v1["State"] == "Active"
    _retag(lam, name, "two")
    v2 = lam.publish_version(FunctionName=name)
    assert v2["Version"] == "2"

    payload, resp = _invoke(lam, name, "1")
    assert payload == ["one", "1"]
    assert resp["ExecutedVersion"] == "1"
    payload, resp = _invoke(lam, f"{name}:2")
    assert payload == ["two", "2"]
    assert resp["ExecutedVersion"] == "2"
    payload, resp = _invoke(lam, name)
    assert payload == ["two", "$LATEST"]
    assert resp["ExecutedVersion"] == "$LATEST"

    got = lam.get_function(FunctionName=name, Qualifier="1")["Configuration"]
    assert got["Version"] == "1"
    assert got["Environment"] == {"Variables": {"TAG": "one"}}


def test_publishing_unchanged_code_returns_the_last_version(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    first = lam.publish_version(FunctionName=name)
    again = lam.publish_version(FunctionName=name)
    assert again["Version"] == first["Version"] == "1"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] \
        == ["$LATEST", "1"]


def test_version_numbers_are_never_reused(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    lam.publish_version(FunctionName=name)
    _retag(lam, name, "b")
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=name, Qualifier="2")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_function(FunctionName=name, Qualifier="2")
    assert info.value.response["Error"]["Message"] == f"Function not found: {ACCOUNT_ARN}:{name}:2"
    _retag(lam, name, "c")
    assert lam.publish_version(FunctionName=name)["Version"] == "3"
    listed = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "3"]
    assert listed[0]["FunctionArn"] == f"{ACCOUNT_ARN}:{name}:$LATEST"
    assert lam.get_function(FunctionName=name)["Configuration"]["Version"] == "$LATEST"


def test_publish_preconditions(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.publish_version(FunctionName=name, RevisionId="not-the-revision")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.publish_version(FunctionName=name, CodeSha256="AAAA")
    assert "is different from current CodeSHA256 in $LATEST" in info.value.response["Error"][
        "Message"]
    sha = lam.get_function(FunctionName=name)["Configuration"]["CodeSha256"]
    assert lam.publish_version(FunctionName=name, CodeSha256=sha)["Version"] == "1"


def test_list_versions_pages(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    for tag in "abc":
        _retag(lam, name, tag)
        lam.publish_version(FunctionName=name)
    paginator = lam.get_paginator("list_versions_by_function")
    seen = [v["Version"] for page in paginator.paginate(FunctionName=name,
                                                        PaginationConfig={"PageSize": 2})
            for v in page["Versions"]]
    assert seen == ["$LATEST", "1", "2", "3"]


def test_deleting_the_function_deletes_its_versions(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE})
    lam.publish_version(FunctionName=name)
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.list_versions_by_function(FunctionName=name)


def test_publish_on_create_and_on_update_code(lam: Any, name: str) -> None:
    created = lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="index.handler",
        Code={"ZipFile": make_zip({"index.py": CODE})}, Publish=True,
        Environment={"Variables": {"TAG": "created"}},
    )
    assert created["Version"] == "1"
    assert created["FunctionArn"] == f"{ACCOUNT_ARN}:{name}:1"
    lam.get_waiter("function_active_v2").wait(FunctionName=name, Qualifier="1",
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    assert _invoke(lam, name, "1")[0] == ["created", "1"]
    changed = CODE.replace("context.function_version]", "context.function_version, 'new']")
    updated = lam.update_function_code(FunctionName=name, Publish=True,
                                       ZipFile=make_zip({"index.py": changed}))
    assert updated["Version"] == "2"
    wait_updated(lam, name)
    assert _invoke(lam, name, "2")[0] == ["created", "2", "new"]
    assert _invoke(lam, name, "1")[0] == ["created", "1"]
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] \
        == ["$LATEST", "1", "2"]
