"""SnapStart: accepted and reported as AWS does, and a published version's
environments restored from its initialised template (Init once)."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.functional.support import deploy, wait_updated

CODE = (
    "import os, time, uuid\n"
    "import snapshot_restore_py\n"
    "INIT_VALUE = uuid.uuid4().hex\n"
    "RESTORES = []\n"
    "snapshot_restore_py.register_after_restore(lambda: RESTORES.append(1))\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return {'init': INIT_VALUE, 'restores': len(RESTORES),\n"
    "            'type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'],\n"
    "            'stream': context.log_stream_name}\n"
)

pytestmark = pytest.mark.sandbox


def test_snap_start_is_accepted_and_reported(lam: Any, name: str) -> None:
    out = deploy(lam, name, {"index.py": CODE}, Runtime="python3.12",
                 SnapStart={"ApplyOn": "PublishedVersions"})
    assert out["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    latest = wait_updated(lam, name)
    assert latest["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    # The published version keeps what it was published with.
    config = lam.get_function_configuration(FunctionName=name, Qualifier=version["Version"])
    assert config["SnapStart"]["OptimizationStatus"] == "On"


def test_runtimes_without_snap_start_are_refused(lam: Any, name: str) -> None:
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        deploy(lam, name, {"index.mjs": "export const handler = async () => 1;\n"},
               Runtime="nodejs20.x", Handler="index.handler",
               SnapStart={"ApplyOn": "PublishedVersions"})
    assert info.value.response["Error"]["Message"] == (
        "nodejs20.x is not supported for SnapStart enabled functions.")


def test_a_snap_start_version_restores_every_environment_from_one_init(
        lam: Any, name: str) -> None:
    deploy(lam, name, {"index.py": CODE}, Runtime="python3.12", Timeout=30,
           SnapStart={"ApplyOn": "PublishedVersions"})
    version = lam.publish_version(FunctionName=name)["Version"]

    def call(_: int) -> tuple[dict[str, Any], str]:
        out = lam.invoke(FunctionName=name, Qualifier=version, LogType="Tail",
                         Payload=json.dumps({"sleep": 1}))
        return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()

    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(call, range(3)))
    bodies = [body for body, _ in runs]
    assert len({b["stream"] for b in bodies}) == 3  # three environments
    assert len({b["init"] for b in bodies}) == 1  # one Init, in the template
    assert all(b["restores"] == 1 and b["type"] == "snap-start" for b in bodies)
    reports = [log.splitlines()[-1] for _, log in runs]
    # The environment that waited for the template's Init reports it; the others
    # report the restore (the fork) instead, as SnapStart does.
    assert sum("\tInit Duration: " in r for r in reports) == 1
    assert sum("\tRestore Duration: " in r for r in reports) == 2
