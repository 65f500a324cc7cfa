from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from loam.control.code import inspect_package
from loam.control.models import FunctionState, aws_timestamp
from loam.control.names import Arns, parse_function_name
from loam.control.validation import check_environment, check_limits
from loam.errors import (
    InvalidParameterValueException,
    RequestTooLargeException,
    ValidationException,
)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def test_aws_timestamp_format() -> None:
    assert aws_timestamp(1_700_000_000.123) == "2023-11-14T22:13:20.123+0000"


@pytest.mark.parametrize(
    ("value", "name", "qualifier"),
    [
        ("f", "f", None),
        ("f:$LATEST", "f", "$LATEST"),
        ("123456789012:function:f", "f", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:f", "f", None),
        ("arn:aws:lambda:us-east-1:123456789012:function:f:prod", "f", "prod"),
    ],
)
def test_function_names_and_arns(value: str, name: str, qualifier: str | None) -> None:
    ref = parse_function_name(value)
    assert (ref.name, ref.qualifier) == (name, qualifier)


def test_conflicting_qualifiers_are_rejected() -> None:
    with pytest.raises(InvalidParameterValueException):
        parse_function_name("f:1", "2")


def test_arns() -> None:
    arns = Arns("eu-west-1", "000000000000")
    assert arns.function("f") == "arn:aws:lambda:eu-west-1:000000000000:function:f"
    assert arns.function("f", "3") == "arn:aws:lambda:eu-west-1:000000000000:function:f:3"


def test_environment_limit_is_measured_as_aws_does() -> None:
    check_environment({"A": "x" * 4000})
    with pytest.raises(InvalidParameterValueException, match="exceeded the 4KB limit"):
        check_environment({"A": "x" * 4100})
    with pytest.raises(InvalidParameterValueException, match="Reserved keys used in this "
                       "request: AWS_REGION"):
        check_environment({"AWS_REGION": "x"})


def test_memory_and_timeout_limits() -> None:
    check_limits({"MemorySize": 10240, "Timeout": 900})
    with pytest.raises(ValidationException, match="less than or equal to 10240"):
        check_limits({"MemorySize": 10241})
    with pytest.raises(ValidationException, match="less than or equal to 900"):
        check_limits({"Timeout": 901})


@pytest.mark.parametrize("name", ["../evil.py", "/abs.py", "a/../../b.py", "C:\\x.py", "a\\b"])
def test_unsafe_zip_entries_are_rejected(name: str) -> None:
    with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
        inspect_package(_zip({name: b"x"}))


def test_not_a_zip() -> None:
    for data in (b"", b"garbage", b"PK\x03\x04broken"):
        with pytest.raises(InvalidParameterValueException, match="Could not unzip"):
            inspect_package(data)


def test_unzipped_size_limit_counts_declared_sizes() -> None:
    bomb = _zip({"zeros.bin": b"\0" * (263 * 1024 * 1024)})
    assert len(bomb) < 1024 * 1024
    with pytest.raises(InvalidParameterValueException, match="Unzipped size must be smaller"):
        inspect_package(bomb)


def test_zipped_size_limit() -> None:
    with pytest.raises(RequestTooLargeException):
        inspect_package(b"\0" * (50 * 1024 * 1024 + 1))


def test_function_state_round_trips_and_renders_aws_shape() -> None:
    fn = FunctionState(name="f", runtime="python3.12", role="r", handler="index.handler",
                       code_digest="0" * 64, code_sha256="abc=", code_size=10, unzipped_size=20,
                       environment={"A": "1"}, revision_id="rev", last_modified="t")
    again = FunctionState.from_json(fn.to_json())
    assert again == fn
    config = fn.to_configuration("arn", None)
    assert config["Environment"] == {"Variables": {"A": "1"}}
    assert config["State"] == "Pending"
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/f"}
    assert "State" not in fn.to_configuration("arn", None, listing=True)


def test_layers_merge_in_order_later_layers_win(tmp_path: Path) -> None:
    from loam.control.code import CodeCache
    from loam.store.blobs import BlobStore

    blobs = BlobStore(tmp_path / "blobs")
    first = blobs.put(_zip({"python/a.py": b"first", "bin/tool": b"one"}))
    second = blobs.put(_zip({"python/a.py": b"second", "lib/x.so": b"lib"}))
    cache = CodeCache(blobs, tmp_path / "code")
    assert cache.ensure_layers(()) is None
    merged = cache.ensure_layers((first, second))
    assert merged is not None
    assert (merged / "python" / "a.py").read_bytes() == b"second"
    assert (merged / "bin" / "tool").read_bytes() == b"one"
    assert (merged / "lib" / "x.so").read_bytes() == b"lib"
    assert (cache.ensure(first) / "python" / "a.py").read_bytes() == b"first"
    assert cache.ensure_layers((first, second)) == merged
