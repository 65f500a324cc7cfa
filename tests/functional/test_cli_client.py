"""The ``loam`` client commands as a user runs them: a subprocess against a real node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.functional.support import unique_name
from tests.helpers import Server, free_port

pytestmark = pytest.mark.sandbox

HANDLER = """\
import os

def handler(event, context):
    print("log line for", event.get("who", "nobody"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"event": event, "greeting": os.environ.get("GREETING"), "version": VERSION}
"""

Loam = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def loam(server: Server, tmp_path: Path) -> Loam:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOAM_"))}
    env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "LOAM_ENDPOINT": server.url, "HOME": str(tmp_path)})

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "loam", *args], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
    return run


def _source(root: Path, version: int, extra: dict[str, bytes] | None = None) -> Path:
    root.mkdir(exist_ok=True)
    (root / "index.py").write_text(f"VERSION = {version}\n" + HANDLER)
    for name, data in (extra or {}).items():
        (root / name).write_bytes(data)
    return root


def _json(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 0, result.stderr
    document: dict[str, object] = json.loads(result.stdout)
    return document


def _deploy(loam: Loam, source: Path, name: str, *extra: str) -> dict[str, object]:
    return _json(loam("deploy", str(source), "--name", name, "--runtime", "python3.12",
                      "--handler", "index.handler", "-o", "json", *extra))


def test_deploy_update_list_get_delete(loam: Loam, tmp_path: Path) -> None:
    name = unique_name("cli")
    source = _source(tmp_path / "src", 1)
    created = _deploy(loam, source, name, "--env", "GREETING=hello", "--memory", "256")
    config = created["Configuration"]
    assert created["Action"] == "created" and isinstance(config, dict)
    assert (config["State"], config["LastUpdateStatus"], config["MemorySize"]) == (
        "Active", "Successful", 256)
    assert config["Environment"] == {"Variables": {"GREETING": "hello"}}

    again = _deploy(loam, source, name, "--env", "GREETING=hello", "--memory", "256")
    assert again["Action"] == "unchanged"  # same files, same zip, same CodeSha256
    assert again["Configuration"]["CodeSha256"] == config["CodeSha256"]  # type: ignore[index]

    _source(source, 2, {"blob.bin": os.urandom(2 << 20)})  # new code, a large upload
    result = loam("deploy", str(source), "--name", name, "--timeout", "10")
    assert result.returncode == 0, result.stderr
    assert "loam: updating the code of" in result.stderr
    assert "bytes sent (100%)" in result.stderr
    assert "Action\tupdated" in result.stdout.splitlines()
    assert "Timeout\t10" in result.stdout.splitlines()
    invoked = _json(loam("invoke", name, "--payload", '{"who": "me"}', "-o", "json"))
    assert invoked["Payload"] == {"event": {"who": "me"}, "greeting": "hello", "version": 2}

    listed = _json(loam("functions", "list", "-o", "json"))
    assert name in [f["FunctionName"] for f in listed["Functions"]]  # type: ignore[attr-defined]
    rows = loam("functions", "list").stdout.splitlines()
    assert any(row.split("\t")[:3] == [name, "python3.12", "index.handler"] for row in rows)
    got = _json(loam("functions", "get", name, "-o", "json"))
    assert got["Configuration"]["Timeout"] == 10  # type: ignore[index]
    text = loam("functions", "get", name).stdout.splitlines()
    assert "Environment.GREETING\thello" in text and f"FunctionName\t{name}" in text

    deleted = loam("functions", "delete", name)
    assert deleted.returncode == 0 and f"deleted {name}" in deleted.stderr
    missing = loam("functions", "get", name)
    assert missing.returncode == 3 and missing.stdout == ""
    assert missing.stderr == (f"loam: ResourceNotFoundException: Function not found: "
                              f"arn:aws:lambda:us-east-1:123456789012:function:{name}\n")


def test_invoke_payloads_tail_async_and_function_errors(loam: Loam, tmp_path: Path) -> None:
    name = unique_name("cli")
    _deploy(loam, _source(tmp_path / "src", 1), name)

    plain = loam("invoke", name, "--payload", '{"who": "text"}')
    assert plain.returncode == 0, plain.stderr
    assert json.loads(plain.stdout)["event"] == {"who": "text"}

    event = tmp_path / "event.json"
    event.write_text('{"who": "file"}')
    tailed = loam("invoke", name, "--payload", f"@{event}", "--tail")
    assert json.loads(tailed.stdout)["event"] == {"who": "file"}
    assert "log line for file" in tailed.stderr and "REPORT RequestId:" in tailed.stderr

    piped = loam("invoke", name, "--payload", "@-", stdin='{"who": "stdin"}')
    assert json.loads(piped.stdout)["event"] == {"who": "stdin"}

    queued = loam("invoke", name, "--async", "-o", "json")
    assert json.loads(queued.stdout) == {"StatusCode": 202, "Payload": None}

    failed = loam("invoke", name, "--payload", '{"fail": true}', "-o", "json", "--tail")
    assert failed.returncode == 1
    document = json.loads(failed.stdout)
    assert document["FunctionError"] == "Unhandled"
    assert document["Payload"]["errorType"] == "ValueError"
    assert "asked to fail" in document["LogResult"]

    bad = loam("invoke", name, "--payload", "{not json")
    assert bad.returncode == 3
    assert bad.stderr.startswith("loam: InvalidRequestContentException: ")
    assert bad.stderr.count("\n") == 1

    published = loam("invoke", name, "--qualifier", "7")
    assert published.returncode == 3
    assert published.stderr.startswith("loam: ResourceNotFoundException: ")


def test_missing_function_bad_endpoint_and_usage(loam: Loam, tmp_path: Path) -> None:
    name = unique_name("absent")
    missing = loam("invoke", name)
    assert missing.returncode == 3
    assert missing.stderr == (f"loam: ResourceNotFoundException: Function not found: "
                              f"arn:aws:lambda:us-east-1:123456789012:function:{name}\n")

    url = f"http://127.0.0.1:{free_port()}"
    unreachable = loam("functions", "list", "--endpoint-url", url)
    assert unreachable.returncode == 4
    assert unreachable.stderr == (f"loam: EndpointConnectionError: Could not connect to the "
                                  f'endpoint URL: "{url}/2015-03-31/functions"\n')

    create_without_runtime = loam("deploy", str(_source(tmp_path / "src", 1)), "--name", name)
    assert create_without_runtime.returncode == 2
    assert create_without_runtime.stderr == (
        f"loam: {name} does not exist yet: creating it needs --runtime and --handler\n")
    assert loam("invoke").returncode == 2  # argparse's usage error
    assert loam("invoke", name, "--payload", "@nope.json").returncode == 2


def test_completion_scripts(loam: Loam, tmp_path: Path) -> None:
    bash = loam("completion", "bash")
    assert bash.returncode == 0
    script = tmp_path / "loam.bash"
    script.write_text(bash.stdout)

    def complete(*words: str) -> list[str]:
        line = " ".join(["loam", *words])
        probe = (f'source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words)}; '
                 '_loam_complete; printf "%s\\n" "${COMPREPLY[@]}"')
        result = subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                                timeout=30, check=True)
        return result.stdout.split()

    assert complete("") == ["completion", "cost", "deploy", "functions", "invoke", "keys", "logs",
                            "serve", "tune"]
    assert complete("fun") == ["functions"]
    assert complete("functions", "") == ["delete", "get", "list"]
    assert complete("invoke", "fn", "--ta") == ["--tail"]
    assert complete("functions", "list", "--output", "j") == ["json"]
    zsh = loam("completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("autoload -U +X bashcompinit")


def test_logs_filter_json_and_follow(loam: Loam, server: Server, tmp_path: Path) -> None:
    name = unique_name("cli")
    _deploy(loam, _source(tmp_path / "src", 1), name)
    assert loam("invoke", name, "--payload", '{"who": "first"}').returncode == 0
    assert loam("invoke", name, "--payload", '{"fail": true}').returncode == 1

    def lines_until(text: str, *args: str) -> list[str]:
        deadline = time.monotonic() + 30
        while True:
            result = loam("logs", name, *args)
            assert result.returncode == 0, result.stderr
            if text in result.stdout or time.monotonic() > deadline:
                return result.stdout.splitlines()
            time.sleep(0.2)

    lines = lines_until("asked to fail")
    assert any(line.endswith(" log line for first") for line in lines)
    assert any("START RequestId:" in line for line in lines)
    errors = lines_until("asked to fail", "--filter", "ERROR", "--since", "1h", "-o", "json")
    events = [json.loads(line) for line in errors]
    assert events and all("ERROR" in event["message"] for event in events)
    assert {"timestamp", "message", "eventId", "logStreamName"} <= set(events[0])

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOAM_"))}
    env.update({"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                "LOAM_ENDPOINT": server.url, "HOME": str(tmp_path)})
    with subprocess.Popen(
            [sys.executable, "-m", "loam", "logs", name, "--follow", "--interval", "0.2"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as follower:
        try:
            assert loam("invoke", name, "--payload", '{"who": "later"}').returncode == 0
            assert follower.stdout is not None
            seen: list[str] = []
            while not any(line.endswith("log line for later") for line in seen):
                line = follower.stdout.readline()  # the test's timeout bounds this
                assert line, f"logs --follow ended: {follower.poll()}"
                seen.append(line.rstrip("\n"))
            assert sum(line.endswith("log line for first") for line in seen) == 1
        finally:
            follower.terminate()
            follower.wait(10)
