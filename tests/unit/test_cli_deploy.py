"""``loam deploy``'s plan over a fake Lambda client, its zip, and its upload progress."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from loam.cli.connection import CommandFailed, UsageError
from loam.cli.deploy import Deployer, DeploySpec, UploadProgress
from loam.cli.package import ProgressBody, code_sha256, zip_directory
from loam.clock import FakeClock


class NotFound(Exception):
    pass


class FakeLambda:
    """Records calls; each write leaves the function InProgress for ``settle_polls`` polls."""

    class exceptions:  # botocore's attribute name
        ResourceNotFoundException = NotFound

    def __init__(self, config: dict[str, Any] | None = None, settle_polls: int = 2,
                 outcome: str = "Successful") -> None:
        self.config = config
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.settle_polls = settle_polls
        self.outcome = outcome
        self._pending = 0

    def get_function(self, **params: Any) -> dict[str, Any]:
        self.calls.append(("GetFunction", params))
        if self.config is None:
            raise NotFound()
        return {"Configuration": dict(self.config)}

    def create_function(self, **params: Any) -> None:
        self.calls.append(("CreateFunction", params))
        self.config = {"FunctionName": params["FunctionName"], "State": "Pending",
                       "CodeSha256": code_sha256(params["Code"]["ZipFile"]),
                       **{k: v for k, v in params.items() if k not in ("Code", "Role")}}
        self._pending = self.settle_polls

    def update_function_code(self, **params: Any) -> None:
        self.calls.append(("UpdateFunctionCode", params))
        self._start_update(CodeSha256=code_sha256(params["ZipFile"]))

    def update_function_configuration(self, **params: Any) -> None:
        self.calls.append(("UpdateFunctionConfiguration", params))
        self._start_update(**{k: v for k, v in params.items() if k != "FunctionName"})

    def get_function_configuration(self, **params: Any) -> dict[str, Any]:
        assert self.config is not None
        if self._pending:
            self._pending -= 1
        elif self.config.get("State") == "Pending":
            self.config["State"] = "Active" if self.outcome == "Successful" else "Failed"
            self.config["StateReasonCode"] = "InvalidRuntime"
            self.config["StateReason"] = "no such runtime"
        elif self.config.get("LastUpdateStatus") == "InProgress":
            self.config["LastUpdateStatus"] = self.outcome
        return dict(self.config)

    def _start_update(self, **changes: Any) -> None:
        assert self.config is not None
        assert self.config.get("LastUpdateStatus") != "InProgress", "update during an update"
        self.config.update(changes, LastUpdateStatus="InProgress")
        self._pending = self.settle_polls

    def writes(self) -> list[str]:
        return [name for name, _ in self.calls if name != "GetFunction"]


def _deployer(lam: FakeLambda, wait_timeout: float = 60) -> tuple[Deployer, FakeClock]:
    clock = FakeClock()
    return Deployer(lam, clock, clock.advance, io.StringIO(), wait_timeout=wait_timeout), clock


PACKAGE = b"PK-package"
SPEC = DeploySpec(name="fn", runtime="python3.12", handler="index.handler", memory=256,
                  environment={"A": "1"})


def test_a_new_function_is_created_and_waited_for() -> None:
    lam = FakeLambda()
    action, config = _deployer(lam)[0].deploy(SPEC, PACKAGE)
    assert (action, config["State"]) == ("created", "Active")
    assert lam.writes() == ["CreateFunction"]
    create = lam.calls[1][1]
    assert create["Code"] == {"ZipFile": PACKAGE} and create["MemorySize"] == 256
    assert create["Environment"] == {"Variables": {"A": "1"}}
    assert create["Role"].startswith("arn:aws:iam::") and "Timeout" not in create


def test_creating_needs_runtime_and_handler() -> None:
    with pytest.raises(UsageError, match="--runtime and --handler"):
        _deployer(FakeLambda())[0].deploy(DeploySpec(name="fn"), PACKAGE)


def test_unchanged_code_and_settings_write_nothing() -> None:
    current = {"FunctionName": "fn", "State": "Active", "LastUpdateStatus": "Successful",
               "CodeSha256": code_sha256(PACKAGE), "Runtime": "python3.12",
               "Handler": "index.handler", "MemorySize": 256,
               "Environment": {"Variables": {"A": "1"}}}
    lam = FakeLambda(current)
    action, _ = _deployer(lam)[0].deploy(SPEC, PACKAGE)
    assert (action, lam.writes()) == ("unchanged", [])


def test_code_then_only_the_changed_settings_each_waited_for() -> None:
    current = {"FunctionName": "fn", "State": "Active", "LastUpdateStatus": "Successful",
               "CodeSha256": "old", "Runtime": "python3.12", "Handler": "index.handler",
               "MemorySize": 128, "Environment": {"Variables": {"A": "0"}}}
    lam = FakeLambda(current)
    action, config = _deployer(lam)[0].deploy(SPEC, PACKAGE)
    assert action == "updated"
    assert lam.writes() == ["UpdateFunctionCode", "UpdateFunctionConfiguration"]
    assert lam.calls[-1][1] == {"FunctionName": "fn", "MemorySize": 256,
                                "Environment": {"Variables": {"A": "1"}}}
    assert config["LastUpdateStatus"] == "Successful" and config["MemorySize"] == 256


def test_a_failed_state_ends_with_its_reason_code() -> None:
    with pytest.raises(CommandFailed) as failure:
        _deployer(FakeLambda(outcome="Failed"))[0].deploy(SPEC, PACKAGE)
    assert (failure.value.code, failure.value.message) == ("InvalidRuntime", "no such runtime")


def test_waiting_gives_up_at_the_wait_timeout() -> None:
    deployer, clock = _deployer(FakeLambda(settle_polls=10_000), wait_timeout=5)
    with pytest.raises(CommandFailed, match="still Pending") as failure:
        deployer.deploy(SPEC, PACKAGE)
    assert failure.value.code == "Timeout" and 5 <= clock.monotonic() < 6


def _tree(root: Path, mtime: int) -> Path:
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "index.py").write_text("def handler(e, c):\n    return e\n")
    (root / "pkg" / "mod.py").write_text("X = 1\n")
    (root / "pkg" / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"cache")
    (root / "run.sh").write_text("#!/bin/sh\n")
    (root / "run.sh").chmod(0o700)
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime))
    return root


def test_the_zip_is_deterministic(tmp_path: Path) -> None:
    first = zip_directory(_tree(tmp_path / "a", 1_600_000_000))
    second = zip_directory(_tree(tmp_path / "b", 1_700_000_000))
    assert first == second and code_sha256(first) == code_sha256(second)
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["index.py", "run.sh", "pkg/mod.py"]
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        assert modes == {"index.py": 0o644, "run.sh": 0o755, "pkg/mod.py": 0o644}
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_progress_body_reports_bytes_sent_and_rewinds() -> None:
    seen: list[tuple[int, int]] = []
    body = ProgressBody(b"x" * 10, lambda sent, total: seen.append((sent, total)))
    assert body.read(4) == b"xxxx" and body.read(100) == b"x" * 6 and body.read(4) == b""
    assert seen == [(4, 10), (10, 10)]
    body.seek(0)
    assert body.tell() == 0 and body.read() == b"x" * 10 and len(body) == 10


def test_piped_progress_prints_a_line_per_tenth() -> None:
    stream = io.StringIO()
    progress = UploadProgress(stream, "fn")
    for sent in range(0, 101, 5):
        progress(sent, 100)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11
    assert lines[-1] == "loam: uploading fn: 100/100 bytes sent (100%)"
