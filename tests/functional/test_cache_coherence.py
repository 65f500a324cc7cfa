"""The invoke path's function cache never shows a stale function.

Each test first invokes (so the function is cached), changes the function
through the API, and invokes again at once, without waiting for the update
to finish: the very next invoke must see the change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.support import deploy, wait_updated
from tests.helpers import make_zip

pytestmark = pytest.mark.sandbox

REPORTER = """\
import os
VERSION = {version!r}
def handler(event, context):
    colour = os.environ.get("COLOUR")
    return {{"code": VERSION, "colour": colour, "memory": context.memory_limit_in_mb}}
"""


def _code(version: str) -> bytes:
    return make_zip({"index.py": REPORTER.format(version=version)})


def _invoke(lam: Any, name: str, qualifier: str | None = None) -> dict[str, Any]:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    resp = lam.invoke(FunctionName=name, Payload=b"{}", **kwargs)
    assert "FunctionError" not in resp, resp["Payload"].read()
    result: dict[str, Any] = json.loads(resp["Payload"].read())
    return result


def test_update_configuration_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"), Environment={"Variables": {"COLOUR": "red"}})
    assert _invoke(lam, name)["colour"] == "red"
    lam.update_function_configuration(FunctionName=name, MemorySize=256,
                                      Environment={"Variables": {"COLOUR": "blue"}})
    assert _invoke(lam, name) == {"code": "one", "colour": "blue", "memory": "256"}
    wait_updated(lam, name)
    assert _invoke(lam, name)["colour"] == "blue"


def test_update_code_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"))
    assert _invoke(lam, name)["code"] == "one"
    lam.update_function_code(FunctionName=name, ZipFile=_code("two"))
    assert _invoke(lam, name)["code"] == "two"
    wait_updated(lam, name)
    lam.update_function_code(FunctionName=name, ZipFile=_code("three"))
    assert _invoke(lam, name)["code"] == "three"


def test_delete_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"))
    assert _invoke(lam, name)["code"] == "one"
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    # A new function of the same name is a new function, not the cached one.
    deploy(lam, name, _code("again"))
    assert _invoke(lam, name)["code"] == "again"


def test_deleted_version_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"))
    version = lam.publish_version(FunctionName=name)["Version"]
    assert _invoke(lam, name, version)["code"] == "one"
    lam.delete_function(FunctionName=name, Qualifier=version)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")


def test_alias_update_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"))
    first = lam.publish_version(FunctionName=name)["Version"]
    lam.update_function_code(FunctionName=name, ZipFile=_code("two"))
    wait_updated(lam, name)
    second = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=first)
    assert _invoke(lam, name, "live")["code"] == "one"
    lam.update_alias(FunctionName=name, Name="live", FunctionVersion=second)
    assert _invoke(lam, name, "live")["code"] == "two"
    lam.delete_alias(FunctionName=name, Name="live")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="live", Payload=b"{}")


def test_reserved_concurrency_is_seen_by_the_next_invoke(lam: Any, name: str) -> None:
    deploy(lam, name, _code("one"))
    assert _invoke(lam, name)["code"] == "one"
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName=name, Payload=b"{}")
    lam.delete_function_concurrency(FunctionName=name)
    assert _invoke(lam, name)["code"] == "one"
