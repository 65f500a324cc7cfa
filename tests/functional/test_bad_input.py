"""Malformed, invalid and hostile input: AWS's errors, and no harm done.

The last tests check that nothing earlier in this module wrote outside the
data directory and that the server still works; they rely on running last.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import (
    ECHO,
    ROLE,
    deploy,
    raw_request,
    unique_name,
    zeros_zip,
)
from tests.helpers import Server, make_zip

pytestmark = pytest.mark.sandbox

FUNCTIONS = "/2015-03-31/functions"
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."
ABS_EXISTED = Path("/abs.py").exists()


def _create(client: Any, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": unique_name("bad"), "Runtime": "python3.12", "Role": ROLE,
        "Handler": "index.handler", "Code": {"ZipFile": make_zip({"index.py": ECHO})},
    }
    params.update(overrides)
    out: dict[str, Any] = client.create_function(**params)
    return out


def _error(info: pytest.ExceptionInfo[Any]) -> tuple[int, str, str]:
    resp = info.value.response
    return resp["ResponseMetadata"]["HTTPStatusCode"], resp["Error"]["Code"], \
        resp["Error"]["Message"]


def _raw_create(server: Server, body: bytes) -> Any:
    return raw_request(server, "POST", FUNCTIONS, body, {"Content-Type": "application/json"})


def _valid_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "FunctionName": unique_name("raw"), "Runtime": "python3.12", "Role": ROLE,
        "Handler": "index.handler",
        "Code": {"ZipFile": base64.b64encode(make_zip({"index.py": ECHO})).decode()},
    }
    doc.update(overrides)
    return doc


# -- Malformed requests (raw HTTP) -----------------------------------------------


@pytest.mark.parametrize("body", [
    b"{", b"{\"FunctionName\": }", b"not json at all", b"\xff\xfe\x00garbage",
    b"[" * 100_000, b"[]", b"null", b"42",
])
def test_malformed_json_bodies(server: Server, body: bytes) -> None:
    resp = _raw_create(server, body)
    assert resp.status == 400
    assert resp.error_type == "InvalidRequestContentException"
    assert resp.json()["message"].startswith("Could not parse request body into json")


# Only values no JSON binding could coerce: AWS's own parser turns "3" into 3.
@pytest.mark.parametrize("override", [
    {"MemorySize": "abc"}, {"Timeout": {"seconds": 3}}, {"FunctionName": ["f"]},
    {"Environment": {"Variables": ["A"]}}, {"Code": "zip"}, {"Code": {"ZipFile": "%%%"}},
    {"Architectures": "x86_64"}, {"Tags": {"b": []}},
])
def test_wrong_json_types(server: Server, override: dict[str, Any]) -> None:
    resp = _raw_create(server, json.dumps(_valid_document(**override)).encode())
    assert resp.status == 400, resp.body
    assert resp.error_type == "InvalidRequestContentException"


def test_missing_required_members(server: Server) -> None:
    doc = _valid_document()
    del doc["Role"]
    resp = _raw_create(server, json.dumps(doc).encode())
    assert resp.status == 400
    assert resp.error_type == "ValidationException"
    assert resp.json()["message"] == (
        "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_unknown_paths_and_methods(server: Server) -> None:
    for method, path in [("GET", "/nope"), ("POST", "/2015-03-31/nothing-here"),
                         ("PATCH", FUNCTIONS), ("GET", "/_loam/nope")]:
        resp = raw_request(server, method, path)
        assert resp.status == 404, (method, path)
        assert resp.error_type == "UnknownOperationException"


@pytest.mark.parametrize("path", [
    "/_loam/code/" + "0" * 64, "/_loam/code/..%2F..%2Floam.db", "/_loam/code/../../url-signing.key",
    "/_loam/code/" + "0" * 64 + "?Expires=99999999999&Signature=00",
])
def test_code_download_urls_cannot_be_forged(server: Server, path: str) -> None:
    resp = raw_request(server, "GET", path)
    assert resp.status in (403, 404)
    assert b"SQLite" not in resp.body and len(resp.body) < 200


def test_oversized_request_body(server: Server) -> None:
    resp = raw_request(server, "POST", FUNCTIONS, b"{" + b" " * 70_167_211,
                       {"Content-Type": "application/json"})
    assert resp.status == 413
    assert resp.error_type == "RequestEntityTooLargeException"
    assert resp.json()["message"] == (
        "Request must be smaller than 70167211 bytes for the CreateFunction operation"
    )


# -- Invalid values (boto3 without client-side validation) -----------------------

NAME_PATTERN_ERROR = (
    "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy "
    "constraint: Member must satisfy regular expression pattern"
)


def test_invalid_function_names(unchecked: Any) -> None:
    calls: list[Callable[[], Any]] = [
        lambda: _create(unchecked, FunctionName="bad name!"),
        lambda: unchecked.get_function(FunctionName="bad name!"),
        lambda: unchecked.get_function_configuration(FunctionName="bad name!"),
        lambda: unchecked.invoke(FunctionName="bad name!", Payload=b"{}"),
        lambda: unchecked.delete_function(FunctionName="bad name!"),
        lambda: unchecked.update_function_configuration(FunctionName="bad name!", Timeout=5),
    ]
    for call in calls:
        with pytest.raises(unchecked.exceptions.ClientError) as info:
            call()
        status, code, message = _error(info)
        assert (status, code) == (400, "ValidationException")
        assert message.startswith(NAME_PATTERN_ERROR), message


def test_function_name_longer_than_64(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        _create(unchecked, FunctionName="n" * 65)
    assert _error(info)[:2] == (400, "ValidationException")
    assert "Member must have length less than or equal to 64" in _error(info)[2]


@pytest.mark.parametrize(("override", "message"), [
    ({"MemorySize": 20000}, "1 validation error detected: Value '20000' at 'memorySize' failed to "
     "satisfy constraint: Member must have value less than or equal to 10240"),
    ({"MemorySize": 64}, "1 validation error detected: Value '64' at 'memorySize' failed to "
     "satisfy constraint: Member must have value greater than or equal to 128"),
    ({"Timeout": 901}, "1 validation error detected: Value '901' at 'timeout' failed to "
     "satisfy constraint: Member must have value less than or equal to 900"),
    ({"Timeout": 0}, "1 validation error detected: Value '0' at 'timeout' failed to "
     "satisfy constraint: Member must have value greater than or equal to 1"),
    ({"EphemeralStorage": {"Size": 20000}}, "1 validation error detected: Value '20000' at "
     "'ephemeralStorage.size' failed to satisfy constraint: Member must have value less than or "
     "equal to 10240"),
    ({"Role": "not-a-role"}, "1 validation error detected: Value 'not-a-role' at 'role' failed "
     "to satisfy constraint: Member must satisfy regular expression pattern"),
])
def test_out_of_range_values(unchecked: Any, override: dict[str, Any], message: str) -> None:
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        _create(unchecked, **override)
    status, code, got = _error(info)
    assert (status, code) == (400, "ValidationException")
    assert got.startswith(message), got


def test_out_of_range_updates(unchecked: Any, lam: Any) -> None:
    name = unique_name("range")
    deploy(lam, name)
    try:
        for kwargs in ({"MemorySize": 20000}, {"Timeout": 901}):
            with pytest.raises(unchecked.exceptions.ClientError) as info:
                unchecked.update_function_configuration(FunctionName=name, **kwargs)
            assert _error(info)[:2] == (400, "ValidationException")
        assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 128
    finally:
        lam.delete_function(FunctionName=name)


@pytest.mark.parametrize(("runtime", "words"), [
    ("java8", "java8"), ("python2.7", "python2.7 is no longer supported"),
    ("ruby3.3", "ruby3.3"),
])
def test_unsupported_runtimes(unchecked: Any, runtime: str, words: str) -> None:
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException) as info:
        _create(unchecked, Runtime=runtime)
    assert words in _error(info)[2]


def test_unknown_runtime_is_a_validation_error(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        _create(unchecked, Runtime="cobol85")
    status, code, message = _error(info)
    assert (status, code) == (400, "ValidationException")
    assert "Member must satisfy enum value set" in message


def test_environment_variables_over_4kb(unchecked: Any) -> None:
    variables = {f"VAR_{i}": "x" * 100 for i in range(40)}
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException) as info:
        _create(unchecked, Environment={"Variables": variables})
    assert "exceeded the 4KB limit" in _error(info)[2]


@pytest.mark.parametrize("key", ["AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_SESSION_TOKEN"])
def test_reserved_environment_variables(unchecked: Any, key: str) -> None:
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException) as info:
        _create(unchecked, Environment={"Variables": {key: "x"}})
    assert f"Reserved keys used in this request: {key}" in _error(info)[2]


def test_environment_variable_names(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        _create(unchecked, Environment={"Variables": {"1-bad": "x"}})
    assert _error(info)[:2] == (400, "ValidationException")


def test_tags_are_validated_not_crashed_on(unchecked: Any) -> None:
    with pytest.raises(unchecked.exceptions.ClientError) as info:
        _create(unchecked, Tags={"ok": "a*b"})
    assert _error(info)[:2] == (400, "ValidationException")


# -- Hostile packages ------------------------------------------------------------


def _raw_zip(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for entry in names:
            zf.writestr(zipfile.ZipInfo(entry), b"print('pwned')\n")
    return buf.getvalue()


PACKAGES = {
    "empty": b"",
    "not-a-zip": b"this is not a zip file",
    "truncated": make_zip({"index.py": ECHO})[:-30],
    "parent": _raw_zip(["index.py", "../evil.py"]),
    "deep-parent": _raw_zip(["a/../../evil.py"]),
    "absolute": _raw_zip(["/abs.py"]),
    "backslash": _raw_zip(["..\\evil.py"]),
    "dot": _raw_zip(["."]),
}


@pytest.mark.parametrize("kind", list(PACKAGES))
def test_packages_that_cannot_be_unzipped(unchecked: Any, kind: str) -> None:
    name = unique_name("zip")
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException) as info:
        _create(unchecked, FunctionName=name, Code={"ZipFile": PACKAGES[kind]})
    assert _error(info)[1:] == ("InvalidParameterValueException", UNZIP_ERROR)
    with pytest.raises(unchecked.exceptions.ResourceNotFoundException):
        unchecked.get_function(FunctionName=name)


def test_update_with_a_hostile_package_keeps_the_old_code(unchecked: Any, lam: Any) -> None:
    name = unique_name("keep")
    created = deploy(lam, name)
    try:
        with pytest.raises(unchecked.exceptions.InvalidParameterValueException):
            unchecked.update_function_code(FunctionName=name, ZipFile=PACKAGES["parent"])
        config = lam.get_function_configuration(FunctionName=name)
        assert config["CodeSha256"] == created["CodeSha256"]
        assert config["LastUpdateStatus"] == "Successful"
    finally:
        lam.delete_function(FunctionName=name)


def test_zip_bomb_is_refused_by_its_declared_size(unchecked: Any) -> None:
    bomb = zeros_zip(300)
    assert len(bomb) < 2 * 1024 * 1024
    with pytest.raises(unchecked.exceptions.InvalidParameterValueException) as info:
        _create(unchecked, Code={"ZipFile": bomb})
    assert _error(info)[2] == "Unzipped size must be smaller than 262144000 bytes"


def _lie_about_size(package: bytes, declared: int) -> bytes:
    """Rewrite the (single) entry's uncompressed size in both of its headers."""
    data = bytearray(package)
    assert data[:4] == b"PK\x03\x04"
    struct.pack_into("<I", data, 22, declared)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def test_zip_bomb_that_lies_about_its_size_never_becomes_active(
    lam: Any, server: Server
) -> None:
    liar = _lie_about_size(zeros_zip(300), 1000)
    name = unique_name("liar")
    lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                        Handler="index.handler", Code={"ZipFile": liar})
    try:
        deadline = time.monotonic() + 30
        while (config := lam.get_function_configuration(FunctionName=name))["State"] == "Pending":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert config["State"] == "Failed"
        assert config["LastUpdateStatus"] == "Failed"
        with pytest.raises(lam.exceptions.ResourceConflictException):
            lam.invoke(FunctionName=name, Payload=b"{}")
        code_dir = server.data_dir / "code"
        assert not any(p.name.startswith(".unpack-") for p in code_dir.iterdir())
        sizes = [p.stat().st_size for p in code_dir.rglob("*") if p.is_file()]
        assert max(sizes, default=0) < 262_144_000
    finally:
        lam.delete_function(FunctionName=name)


# -- Afterwards: no harm done ----------------------------------------------------


def test_nothing_was_written_outside_the_data_dir(server: Server) -> None:
    root = server.data_dir.parent
    assert not list(root.rglob("evil.py")), list(root.rglob("evil.py"))
    assert not list(root.rglob("abs.py"))
    assert not (server.data_dir / "code").parent.joinpath("evil.py").exists()
    assert Path("/abs.py").exists() == ABS_EXISTED
    assert not Path("/evil.py").exists()


def test_server_still_healthy_and_working(server: Server, lam: Any) -> None:
    resp = raw_request(server, "GET", "/_loam/health")
    assert resp.status == 200 and resp.json()["status"] == "ok"
    name = unique_name("after")
    deploy(lam, name)
    try:
        out = lam.invoke(FunctionName=name, Payload=b'{"still": "ok"}')
        assert json.loads(out["Payload"].read()) == {"still": "ok"}
    finally:
        lam.delete_function(FunctionName=name)
