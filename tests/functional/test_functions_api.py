"""The function lifecycle through boto3, as an AWS user sees it."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.functional.support import (
    ECHO,
    ROLE,
    b64sha256,
    deploy,
    function_arn,
    unique_name,
    wait_active,
    wait_updated,
    zeros_zip,
)
from tests.helpers import make_zip

# Every test here talks to a real ``loam serve``, which needs the sandbox to start.
pytestmark = pytest.mark.sandbox

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
FAST = {"Delay": 0.2, "MaxAttempts": 150}


def _invoke(lam: Any, name: str, event: Any = None) -> Any:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}).encode())
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp, resp["Payload"].read()
    return json.loads(resp["Payload"].read())


def _strip(resp: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resp.items() if k != "ResponseMetadata"}


# -- CreateFunction --------------------------------------------------------------


def test_create_function_returns_the_aws_configuration(lam: Any, name: str) -> None:
    package = make_zip({"index.py": ECHO})
    out = lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                              Handler="index.handler", Code={"ZipFile": package})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["FunctionName"] == name
    assert out["FunctionArn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
    assert out["Runtime"] == "python3.12"
    assert out["Role"] == ROLE
    assert out["Handler"] == "index.handler"
    assert out["CodeSize"] == len(package)
    assert out["CodeSha256"] == b64sha256(package)
    assert out["Description"] == ""
    assert out["Timeout"] == 3
    assert out["MemorySize"] == 128
    assert TIMESTAMP.fullmatch(out["LastModified"]), out["LastModified"]
    assert out["Version"] == "$LATEST"
    assert out["EphemeralStorage"] == {"Size": 512}
    assert out["Architectures"] == ["x86_64"]
    assert out["PackageType"] == "Zip"
    assert out["TracingConfig"] == {"Mode": "PassThrough"}
    assert out["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"}
    assert UUID.fullmatch(out["RevisionId"])
    assert "Environment" not in out
    # Creation is asynchronous, as on AWS.
    assert out["State"] == "Pending"
    assert out["StateReasonCode"] == "Creating"
    assert out["LastUpdateStatus"] == "InProgress"

    config = wait_active(lam, name)
    assert config["State"] == "Active"
    assert config["LastUpdateStatus"] == "Successful"
    assert "StateReason" not in config and "StateReasonCode" not in config
    assert config["RevisionId"] != out["RevisionId"]  # activation is a change
    unchanged = {k: v for k, v in _strip(out).items() if not k.startswith(("State", "Last"))}
    for key, value in unchanged.items():
        if key != "RevisionId":
            assert config[key] == value, key
    assert config["LastModified"] == out["LastModified"]


def test_create_function_with_every_common_setting(lam: Any, name: str) -> None:
    out = deploy(
        lam, name, Description="a described function", Timeout=30, MemorySize=512,
        Environment={"Variables": {"GREETING": "hello", "COLOR": "blue"}},
        EphemeralStorage={"Size": 1024}, Tags={"team": "loam", "env": "test"},
        TracingConfig={"Mode": "Active"},
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                       "SystemLogLevel": "WARN"},
    )
    assert out["Description"] == "a described function"
    assert (out["Timeout"], out["MemorySize"]) == (30, 512)
    assert out["Environment"] == {"Variables": {"GREETING": "hello", "COLOR": "blue"}}
    assert out["EphemeralStorage"] == {"Size": 1024}
    assert out["TracingConfig"] == {"Mode": "Active"}
    assert out["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": f"/aws/lambda/{name}",
                                    "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN"}
    got = lam.get_function(FunctionName=name)
    assert got["Tags"] == {"team": "loam", "env": "test"}
    assert got["Configuration"]["Environment"] == out["Environment"]


def test_waiters_function_active_v2_and_updated_v2(lam: Any, name: str) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": make_zip({"index.py": ECHO})})
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig=FAST)
    assert lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active"
    lam.update_function_configuration(FunctionName=name, Description="after")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["Description"], config["LastUpdateStatus"]) == ("after", "Successful")


def test_creating_an_existing_function_is_a_conflict(lam: Any, name: str) -> None:
    deploy(lam, name)
    before = lam.get_function_configuration(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceConflictException) as info:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                            Handler="other.handler", Code={"ZipFile": make_zip({"a.py": ""})})
    assert info.value.response["Error"]["Message"] == f"Function already exist: {name}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    assert _strip(lam.get_function_configuration(FunctionName=name)) == _strip(before)


# -- GetFunction / GetFunctionConfiguration -------------------------------------


def test_get_function_returns_configuration_and_a_working_code_url(lam: Any, name: str) -> None:
    package = make_zip({"index.py": ECHO, "data/readme.txt": "hello"})
    deploy(lam, name, package)
    got = lam.get_function(FunctionName=name)
    assert _strip(got).keys() == {"Configuration", "Code"}  # no Tags when there are none
    assert got["Configuration"] == _strip(lam.get_function_configuration(FunctionName=name))
    assert got["Code"]["RepositoryType"] == "S3"
    location = got["Code"]["Location"]
    assert location.startswith("http://")
    with urllib.request.urlopen(location, timeout=10) as resp:
        assert resp.read() == package

    forged = re.sub(r"Signature=[0-9a-f]+", "Signature=" + "0" * 64, location)
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(forged, timeout=10)
    info.value.close()
    assert info.value.code == 403


@pytest.mark.parametrize("form", ["name", "arn", "partial", "latest"])
def test_functions_are_addressed_by_name_arn_partial_arn_and_latest(
    lam: Any, name: str, form: str
) -> None:
    deploy(lam, name)
    ref = {
        "name": name,
        "arn": function_arn(name),
        "partial": f"123456789012:function:{name}",
        "latest": f"{name}:$LATEST",
    }[form]
    assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name
    assert lam.get_function(FunctionName=ref)["Configuration"]["FunctionName"] == name


def test_get_function_qualifiers(lam: Any, name: str) -> None:
    deploy(lam, name)
    got = lam.get_function(FunctionName=name, Qualifier="$LATEST")
    assert got["Configuration"]["Version"] == "$LATEST"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_function(FunctionName=name, Qualifier="7")
    assert info.value.response["Error"]["Message"] == (
        f"Function not found: {function_arn(name)}:7"
    )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_configuration(FunctionName=name, Qualifier="7")


def test_unknown_function_is_not_found(lam: Any) -> None:
    missing = unique_name("missing")
    message = f"Function not found: {function_arn(missing)}"
    for call in (lam.get_function, lam.get_function_configuration, lam.delete_function):
        with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
            call(FunctionName=missing)
        assert info.value.response["Error"]["Message"] == message
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


# -- ListFunctions ---------------------------------------------------------------


@pytest.fixture
def five_functions(lam: Any) -> Iterator[list[str]]:
    prefix = unique_name("list")
    names = [f"{prefix}-{i}" for i in range(5)]
    for n in names:
        lam.create_function(FunctionName=n, Runtime="python3.12", Role=ROLE,
                            Handler="index.handler", Code={"ZipFile": make_zip({"index.py": ECHO})})
    yield names
    for n in names:
        lam.delete_function(FunctionName=n)


def test_list_functions_pages_with_marker(lam: Any, five_functions: list[str]) -> None:
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxItems": 2}
    pages = 0
    while True:
        page = lam.list_functions(**kwargs)
        pages += 1
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
        if "NextMarker" not in page:
            break
        kwargs["Marker"] = page["NextMarker"]
    assert pages >= 3
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)
    assert [n for n in seen if n in five_functions] == five_functions


def test_list_functions_entries_have_the_listing_shape(lam: Any,
                                                       five_functions: list[str]) -> None:
    listed = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    entry = listed[five_functions[0]]
    assert entry["FunctionArn"] == function_arn(five_functions[0])
    assert entry["Runtime"] == "python3.12"
    assert entry["CodeSha256"] == b64sha256(make_zip({"index.py": ECHO}))
    # ListFunctions leaves out the state fields, as AWS does.
    assert not {"State", "LastUpdateStatus"} & entry.keys()


def test_list_functions_paginator(lam: Any, five_functions: list[str]) -> None:
    paginator = lam.get_paginator("list_functions")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    names = [f["FunctionName"] for p in pages for f in p["Functions"]]
    assert len(pages) >= 3
    assert [n for n in names if n in five_functions] == five_functions
    assert len(names) == len(set(names))
    whole = paginator.paginate().build_full_result()
    assert [f["FunctionName"] for f in whole["Functions"]] == names


def test_list_functions_returns_at_most_50_per_page(lam: Any) -> None:
    prefix = unique_name("many")
    names = [f"{prefix}-{i:02d}" for i in range(51)]
    package = make_zip({"index.py": ECHO})
    try:
        for n in names:
            lam.create_function(FunctionName=n, Runtime="python3.12", Role=ROLE,
                                Handler="index.handler", Code={"ZipFile": package})
        page = lam.list_functions(MaxItems=1000)
        assert len(page["Functions"]) == 50
        assert "NextMarker" in page
        rest = lam.list_functions(Marker=page["NextMarker"], MaxItems=1000)
        listed = [f["FunctionName"] for f in page["Functions"] + rest["Functions"]]
        assert [n for n in listed if n.startswith(prefix)] == names
    finally:
        for n in names:
            lam.delete_function(FunctionName=n)


def test_list_functions_rejects_a_forged_marker(lam: Any) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.list_functions(Marker="!!not a marker!!")


# -- UpdateFunctionCode ----------------------------------------------------------


@pytest.mark.sandbox
def test_update_function_code_runs_the_new_code(lam: Any, name: str) -> None:
    first = make_zip({"index.py": "def handler(event, context):\n    return 'v1'\n"})
    second = make_zip({"index.py": "def handler(event, context):\n    return 'v2'\n"})
    created = deploy(lam, name, first)
    assert _invoke(lam, name) == "v1"
    before = lam.get_function_configuration(FunctionName=name)

    out = lam.update_function_code(FunctionName=name, ZipFile=second)
    assert out["CodeSha256"] == b64sha256(second) != created["CodeSha256"]
    assert out["CodeSize"] == len(second)
    assert out["RevisionId"] != before["RevisionId"]
    assert out["State"] == "Active"  # the function stays invocable during the update
    assert out["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig=FAST)

    assert _invoke(lam, name) == "v2"
    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["CodeSha256"] == b64sha256(second)
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as resp:
        assert resp.read() == second


def test_update_function_code_checks_the_revision(lam: Any, name: str) -> None:
    deploy(lam, name)
    package = make_zip({"index.py": ECHO + "# changed\n"})
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_code(FunctionName=name, ZipFile=package,
                                 RevisionId="00000000-0000-0000-0000-000000000000")
    current = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    out = lam.update_function_code(FunctionName=name, ZipFile=package, RevisionId=current)
    assert out["CodeSha256"] == b64sha256(package)
    wait_updated(lam, name)


# -- UpdateFunctionConfiguration -------------------------------------------------

CONFIG_HANDLER = """\
import os

def handler(event, context):
    return {
        "memory": int(context.memory_limit_in_mb),
        "greeting": os.environ.get("GREETING"),
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


@pytest.mark.sandbox
def test_update_function_configuration(lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CONFIG_HANDLER})
    first = _invoke(lam, name)
    assert first["memory"] == 128 and first["greeting"] is None
    assert 0 < first["remaining_ms"] <= 3000
    before = lam.get_function_configuration(FunctionName=name)

    out = lam.update_function_configuration(
        FunctionName=name, MemorySize=256, Timeout=10, Description="updated",
        Environment={"Variables": {"GREETING": "hi"}},
    )
    assert (out["MemorySize"], out["Timeout"], out["Description"]) == (256, 10, "updated")
    assert out["Environment"] == {"Variables": {"GREETING": "hi"}}
    assert out["RevisionId"] != before["RevisionId"]
    assert out["CodeSha256"] == before["CodeSha256"]
    assert out["LastUpdateStatus"] == "InProgress"
    config = wait_updated(lam, name)
    assert (config["MemorySize"], config["Timeout"], config["Description"]) == (256, 10, "updated")

    after = _invoke(lam, name)
    assert after["memory"] == 256 and after["greeting"] == "hi"
    assert 3000 < after["remaining_ms"] <= 10_000


def test_update_function_configuration_checks_the_revision(lam: Any, name: str) -> None:
    deploy(lam, name)
    stale = lam.get_function_configuration(FunctionName=name)["RevisionId"]
    lam.update_function_configuration(FunctionName=name, Description="one", RevisionId=stale)
    wait_updated(lam, name)
    with pytest.raises(lam.exceptions.PreconditionFailedException) as info:
        lam.update_function_configuration(FunctionName=name, Description="two", RevisionId=stale)
    assert info.value.response["Error"]["Message"] == (
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id"
    )
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert lam.get_function_configuration(FunctionName=name)["Description"] == "one"


@pytest.fixture
def slow_package() -> bytes:
    """Unpacking this takes long enough (hundreds of ms) to observe ``InProgress``.

    Unique content each time: a package already unpacked is ready at once.
    """
    return zeros_zip(100, {"index.py": ECHO, "salt.txt": unique_name()})


@pytest.mark.sandbox
def test_changes_while_an_update_is_in_progress_conflict(
    lam: Any, name: str, slow_package: bytes
) -> None:
    deploy(lam, name)
    out = lam.update_function_code(FunctionName=name, ZipFile=slow_package)
    assert out["LastUpdateStatus"] == "InProgress"
    with pytest.raises(lam.exceptions.ResourceConflictException) as info:
        lam.update_function_configuration(FunctionName=name, MemorySize=256)
    assert info.value.response["Error"]["Message"] == (
        "The operation cannot be performed at this time. An update is in progress for "
        f"resource: {function_arn(name)}"
    )
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.update_function_code(FunctionName=name, ZipFile=make_zip({"index.py": ECHO}))
    # The first update still completes, and the function keeps working throughout.
    wait_updated(lam, name)
    assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 128
    assert _invoke(lam, name, {"k": 1}) == {"k": 1}


def test_a_pending_function_cannot_be_invoked_yet(lam: Any, name: str,
                                                  slow_package: bytes) -> None:
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": slow_package})
    with pytest.raises(lam.exceptions.ResourceConflictException) as info:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert info.value.response["Error"]["Message"] == (
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: Pending"
    )
    wait_active(lam, name)


# -- DeleteFunction --------------------------------------------------------------


def test_delete_function(lam: Any, name: str) -> None:
    deploy(lam, name)
    out = lam.delete_function(FunctionName=name)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 204
    message = f"Function not found: arn:aws:lambda:us-east-1:123456789012:function:{name}"
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_function(FunctionName=name)
    assert info.value.response["Error"]["Message"] == message
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=name)
    assert name not in {f["FunctionName"] for f in lam.list_functions()["Functions"]}
    deploy(lam, name)  # the name is free again


def test_delete_latest_alone_is_refused(lam: Any, name: str) -> None:
    deploy(lam, name)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.delete_function(FunctionName=name, Qualifier="$LATEST")
    assert lam.get_function(FunctionName=name)


# -- GetAccountSettings ----------------------------------------------------------


def test_get_account_settings(lam: Any, name: str) -> None:
    before = lam.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert before["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    assert before["AccountLimit"]["CodeSizeUnzipped"] == 262_144_000
    assert before["AccountLimit"]["CodeSizeZipped"] == 52_428_800
    assert before["AccountLimit"]["TotalCodeSize"] == 80_530_636_800
    package = make_zip({"index.py": ECHO + "# account settings\n"})
    deploy(lam, name, package)
    after = lam.get_account_settings()
    assert after["AccountUsage"]["FunctionCount"] == before["AccountUsage"]["FunctionCount"] + 1
    assert after["AccountUsage"]["TotalCodeSize"] == (
        before["AccountUsage"]["TotalCodeSize"] + len(package)
    )
