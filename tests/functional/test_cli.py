"""The AWS CLI, unchanged, against loam: v2 (Debian's) and v1 (PyPI's)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.functional.support import ROLE, b64sha256, deploy, function_arn, unique_name
from tests.helpers import Server

pytestmark = pytest.mark.sandbox

AWS_V2 = Path("/usr/bin/aws")
AWS_V1 = Path(sys.executable).parent / "aws"

INDEX_V1 = """\
def handler(event, context):
    return {"statusCode": 200, "body": "hello", "event": event}
"""
INDEX_V2 = """\
def handler(event, context):
    return {"version": 2, "event": event}
"""

Aws = Callable[..., Any]


def _cli_env(home: Path) -> dict[str, str]:
    """Nothing on this machine (profiles, config, credentials) may leak in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    env.update({
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": str(home),
    })
    return env


def _runner(binary: Path, server: Server, cwd: Path) -> Aws:
    home = cwd / "home"
    home.mkdir(exist_ok=True)
    env = _cli_env(home)

    def aws(*args: str, parse: bool = True) -> Any:
        cmd = [str(binary), *args, "--endpoint-url", server.url]
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{cmd} failed ({done.returncode}):\n{done.stderr}"
        return json.loads(done.stdout) if parse and done.stdout.strip() else done.stdout

    return aws


def _zip(cwd: Path, source: str, out: str = "function.zip") -> Path:
    (cwd / "index.py").write_text(source)
    target = cwd / out
    target.unlink(missing_ok=True)
    if shutil.which("zip"):
        subprocess.run(["zip", out, "index.py"], cwd=cwd, check=True, capture_output=True)
    else:
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(cwd / "index.py", "index.py")
    return target


@pytest.fixture
def aws_v2(server: Server, tmp_path: Path) -> Aws:
    if not AWS_V2.exists():
        pytest.skip("Debian's AWS CLI v2 is not installed at /usr/bin/aws (apt install awscli)")
    return _runner(AWS_V2, server, tmp_path)


@pytest.fixture
def aws_v1(server: Server, tmp_path: Path) -> Aws:
    if not AWS_V1.exists():
        pytest.skip(f"the AWS CLI v1 is not installed in this environment ({AWS_V1})")
    return _runner(AWS_V1, server, tmp_path)


def test_aws_cli_v2_quickstart(aws_v2: Aws, tmp_path: Path, lam: Any) -> None:
    """The Lambda getting-started steps, verbatim apart from --endpoint-url."""
    package = _zip(tmp_path, INDEX_V1)
    try:
        created = aws_v2(
            "lambda", "create-function", "--function-name", "my-function",
            "--runtime", "python3.12", "--handler", "index.handler",
            "--zip-file", "fileb://function.zip",
            "--role", "arn:aws:iam::123456789012:role/lambda-role",
        )
        assert created["FunctionName"] == "my-function"
        assert created["FunctionArn"] == function_arn("my-function")
        assert created["CodeSha256"] == b64sha256(package.read_bytes())
        assert created["Role"] == ROLE

        aws_v2("lambda", "wait", "function-active-v2", "--function-name", "my-function")

        result = aws_v2(
            "lambda", "invoke", "--function-name", "my-function",
            "--payload", '{"a":1}', "--cli-binary-format", "raw-in-base64-out", "out.json",
        )
        assert result == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        assert json.loads((tmp_path / "out.json").read_text()) == {
            "statusCode": 200, "body": "hello", "event": {"a": 1},
        }

        got = aws_v2("lambda", "get-function", "--function-name", "my-function")
        assert got["Configuration"]["State"] == "Active"
        assert got["Code"]["Location"].startswith("http://")

        listed = aws_v2("lambda", "list-functions")
        assert "my-function" in {f["FunctionName"] for f in listed["Functions"]}

        package = _zip(tmp_path, INDEX_V2)
        updated = aws_v2("lambda", "update-function-code", "--function-name", "my-function",
                         "--zip-file", "fileb://function.zip")
        assert updated["CodeSha256"] == b64sha256(package.read_bytes())
        aws_v2("lambda", "wait", "function-updated-v2", "--function-name", "my-function")

        configured = aws_v2(
            "lambda", "update-function-configuration", "--function-name", "my-function",
            "--memory-size", "256", "--timeout", "10",
            "--environment", "Variables={STAGE=test}",
        )
        assert (configured["MemorySize"], configured["Timeout"]) == (256, 10)
        assert configured["Environment"] == {"Variables": {"STAGE": "test"}}
        aws_v2("lambda", "wait", "function-updated-v2", "--function-name", "my-function")

        aws_v2("lambda", "invoke", "--function-name", "my-function",
               "--payload", '{"b":2}', "--cli-binary-format", "raw-in-base64-out", "out2.json")
        assert json.loads((tmp_path / "out2.json").read_text()) == {
            "version": 2, "event": {"b": 2},
        }

        assert aws_v2("lambda", "delete-function", "--function-name", "my-function") == ""
        with pytest.raises(lam.exceptions.ResourceNotFoundException):
            lam.get_function(FunctionName="my-function")
    finally:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName="my-function")


def test_aws_cli_v1_invoke(aws_v1: Aws, tmp_path: Path, lam: Any) -> None:
    name = unique_name("cli-v1")
    deploy(lam, name, {"index.py": "def handler(event, context):\n"
                                   "    print('tail me')\n    return {'event': event}\n"})
    try:
        # v1 sends a blob argument as given: there is no --cli-binary-format.
        result = aws_v1("lambda", "invoke", "--function-name", name, "--payload", '{"a":1}',
                        "out.json")
        assert result == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
        assert json.loads((tmp_path / "out.json").read_text()) == {"event": {"a": 1}}

        tail = aws_v1("lambda", "invoke", "--function-name", function_arn(name),
                      "--log-type", "Tail", "--query", "LogResult", "--output", "text",
                      "out2.json", parse=False)
        log = base64.b64decode(tail.strip()).decode()
        assert "tail me" in log and "REPORT RequestId:" in log
    finally:
        lam.delete_function(FunctionName=name)


def test_aws_cli_v2_reports_errors_like_aws(aws_v2: Aws, server: Server, tmp_path: Path) -> None:
    missing = unique_name("missing")
    done = subprocess.run(
        [str(AWS_V2), "lambda", "get-function", "--function-name", missing,
         "--endpoint-url", server.url],
        cwd=tmp_path, env=_cli_env(tmp_path / "home"), capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 254
    assert ("An error occurred (ResourceNotFoundException) when calling the GetFunction "
            f"operation: Function not found: {function_arn(missing)}") in done.stderr
