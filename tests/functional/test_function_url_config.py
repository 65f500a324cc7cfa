"""The function URL configuration API through boto3: create / get / list / update /
delete on $LATEST and on an alias, and AWS's refusals."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from tests.functional.support import deploy, function_arn, unique_name

URL = re.compile(r"^http://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response
    return (err["Error"]["Code"], err["Error"]["Message"],
            err["ResponseMetadata"]["HTTPStatusCode"])


def test_create_get_update_list_delete(lam: Any, server: Any) -> None:
    name = unique_name("url")
    deploy(lam, name)
    cors = {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET", "POST"],
            "MaxAge": 300, "AllowCredentials": True}
    created = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors=cors)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    m = URL.match(created["FunctionUrl"])
    assert m is not None and int(m.group(2)) == server.port
    assert created["FunctionArn"] == function_arn(name)
    assert created["AuthType"] == "NONE" and created["InvokeMode"] == "BUFFERED"
    assert created["Cors"] == cors
    assert ISO.match(created["CreationTime"])
    assert "LastModifiedTime" not in created

    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == created["FunctionUrl"]
    assert got["CreationTime"] == got["LastModifiedTime"] == created["CreationTime"]

    updated = lam.update_function_url_config(FunctionName=name, AuthType="AWS_IAM",
                                             InvokeMode="RESPONSE_STREAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["InvokeMode"] == "RESPONSE_STREAM"
    assert updated["Cors"] == cors  # not named: kept
    assert updated["FunctionUrl"] == created["FunctionUrl"]
    assert updated["LastModifiedTime"] >= updated["CreationTime"]

    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [created["FunctionUrl"]]
    assert listed[0]["AuthType"] == "AWS_IAM"

    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName=name)
    assert _code(exc) == ("ResourceNotFoundException",
                          "The resource you requested does not exist.", 404)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []


def test_an_alias_has_its_own_url(lam: Any) -> None:
    name = unique_name("url")
    deploy(lam, name)
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    latest = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    live = lam.create_function_url_config(FunctionName=name, Qualifier="live",
                                          AuthType="NONE")
    assert live["FunctionArn"] == function_arn(name) + ":live"
    assert live["FunctionUrl"] != latest["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert len(listed) == 2
    # deleted with its alias
    lam.delete_alias(FunctionName=name, Name="live")
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionArn"] for c in listed] == [function_arn(name)]
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName=name, Qualifier="live")
    assert _code(exc)[0] == "ResourceNotFoundException"


def test_refusals(lam: Any) -> None:
    name = unique_name("url")
    deploy(lam, name)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    assert _code(exc) == (
        "ResourceConflictException",
        f"Failed to create function url config for [functionArn = {function_arn(name)}]. "
        "Error message:  FunctionUrlConfig exists for this Lambda function", 409)
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, Qualifier="1", AuthType="NONE")
    assert _code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name + ":1", AuthType="NONE")
    assert _code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, AuthType="OTHER")
    assert _code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
    assert _code(exc) == ("ResourceNotFoundException", "Function does not exist", 404)
    with pytest.raises(ClientError) as exc:
        lam.create_function_url_config(FunctionName=unique_name("gone"), AuthType="NONE")
    assert _code(exc) == ("ResourceNotFoundException", "Function does not exist", 404)
    for call in (lam.get_function_url_config, lam.delete_function_url_config):
        with pytest.raises(ClientError) as exc:
            call(FunctionName=name, Qualifier="nope")
        assert _code(exc) == ("ResourceNotFoundException",
                              "The resource you requested does not exist.", 404)
    with pytest.raises(ClientError) as exc:
        lam.update_function_url_config(FunctionName=name, Qualifier="nope", AuthType="NONE")
    assert _code(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ParamValidationError):
        lam.create_function_url_config(FunctionName=name)


def test_deleted_with_the_function(lam: Any) -> None:
    name = unique_name("url")
    deploy(lam, name)
    lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    lam.delete_function(FunctionName=name)
    deploy(lam, name)
    with pytest.raises(ClientError) as exc:
        lam.get_function_url_config(FunctionName=name)
    assert _code(exc)[0] == "ResourceNotFoundException"
