"""Durability across restarts: a clean stop (SIGTERM) and a crash (SIGKILL)."""

from __future__ import annotations

import json
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import b64sha256, deploy, wait_updated
from tests.helpers import Server, client, environment_ids, make_zip, start_server

pytestmark = pytest.mark.sandbox

HANDLER = """\
import os

def handler(event, context):
    return {"name": context.function_name, "color": os.environ.get("COLOR"), "event": event}
"""


def _deploy_three(lam: Any) -> dict[str, bytes]:
    packages: dict[str, bytes] = {}
    for i, (memory, color) in enumerate([(128, "red"), (256, "green"), (512, "blue")]):
        name = f"durable-{i}"
        packages[name] = make_zip({"index.py": HANDLER, "data.txt": f"payload {i}"})
        deploy(lam, name, packages[name], MemorySize=memory, Timeout=5 + i,
               Description=f"function {i}", Environment={"Variables": {"COLOR": color}},
               Tags={"index": str(i)})
    # One function with a completed update, so its state is not just the created one.
    lam.update_function_configuration(FunctionName="durable-2", Description="updated")
    wait_updated(lam, "durable-2")
    return packages


def _snapshot(lam: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for f in lam.get_paginator("list_functions").paginate().build_full_result()["Functions"]:
        got = lam.get_function(FunctionName=f["FunctionName"])
        config = got["Configuration"]
        out[config["FunctionName"]] = {"listed": f, "config": config, "tags": got.get("Tags")}
    return out


def _invoke(lam: Any, name: str) -> Any:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"from": name}).encode())
    assert resp["StatusCode"] == 200 and "FunctionError" not in resp
    return json.loads(resp["Payload"].read())


def _check_everything_works(lam: Any, before: dict[str, dict[str, Any]],
                            packages: dict[str, bytes]) -> None:
    after = _snapshot(lam)
    assert after == before
    colors = {"durable-0": "red", "durable-1": "green", "durable-2": "blue"}
    for name, package in packages.items():
        assert after[name]["config"]["CodeSha256"] == b64sha256(package)
        assert after[name]["config"]["State"] == "Active"
        assert _invoke(lam, name) == {"name": name, "color": colors[name],
                                      "event": {"from": name}}
        location = lam.get_function(FunctionName=name)["Code"]["Location"]
        with urllib.request.urlopen(location, timeout=10) as resp:
            assert resp.read() == package


def _stop(server: Server, sig: int) -> None:
    server.stop(sig)
    assert server.process.returncode is not None


def test_functions_survive_a_clean_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        lam = client(first)
        packages = _deploy_three(lam)
        for name in packages:
            _invoke(lam, name)
        before = _snapshot(lam)
        assert set(before) == set(packages)
    finally:
        _stop(first, signal.SIGTERM)
    # uvicorn re-raises the signal once shut down; a clean stop destroyed every environment.
    assert first.process.returncode in (0, -signal.SIGTERM), first.log()
    assert not list((data / "environments").iterdir()), first.log()
    assert not environment_ids(data, templates=True), first.log()

    second = start_server(data)
    try:
        _check_everything_works(client(second), before, packages)
    finally:
        _stop(second, signal.SIGTERM)


def test_functions_survive_a_crash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start_server(data)
    try:
        lam = client(first)
        packages = _deploy_three(lam)
        for name in packages:
            _invoke(lam, name)  # leaves warm environments behind
        before = _snapshot(lam)
        left = set(environment_ids(data))
        assert left
    finally:
        _stop(first, signal.SIGKILL)

    second = start_server(data)
    try:
        lam = client(second)
        assert not left & set(environment_ids(data)), \
            "the new server did not sweep the environments of the dead one"
        _check_everything_works(lam, before, packages)
        # New functions and changes work too.
        deploy(lam, "after-crash")
        assert _invoke(lam, "after-crash") == {"from": "after-crash"}
    finally:
        _stop(second, signal.SIGTERM)


def test_a_crash_during_an_update_is_finished_by_the_next_server(tmp_path: Path) -> None:
    """Whatever was InProgress when the server died is completed on start-up."""
    data = tmp_path / "data"
    first = start_server(data)
    try:
        lam = client(first)
        deploy(lam, "mid-update")
        lam.update_function_code(
            FunctionName="mid-update",
            ZipFile=make_zip({"index.py": HANDLER, "big.bin": bytes(80 << 20)}),
        )
        # Unpacking 80 MB takes a while: the crash comes in the middle of it.
        assert lam.get_function_configuration(FunctionName="mid-update")["LastUpdateStatus"] \
            == "InProgress"
    finally:
        _stop(first, signal.SIGKILL)

    second = start_server(data)
    try:
        lam = client(second)
        config = wait_updated(lam, "mid-update")
        assert config["State"] == "Active"
        assert _invoke(lam, "mid-update")["name"] == "mid-update"
        # An unpacking cut short by the crash leaves nothing behind.
        assert not [p for p in (data / "code").iterdir() if p.name.startswith(".")]
    finally:
        _stop(second, signal.SIGTERM)
