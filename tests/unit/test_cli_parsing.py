"""The client commands' arguments: parsing, defaults, payloads, --since, --env."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from loam.cli.connection import DEFAULT_ENDPOINT, Connection, UsageError
from loam.cli.deploy import parse_environment
from loam.cli.invoke import read_payload
from loam.cli.logs import log_group_name, parse_since
from loam.cli.main import build_parser


def test_invoke_arguments() -> None:
    args = build_parser().parse_args(
        ["invoke", "fn", "--payload", "@event.json", "--async", "--tail", "--qualifier", "live",
         "-o", "json", "--endpoint-url", "http://node:1", "--region", "eu-west-1"])
    assert (args.name, args.payload, args.asynchronous, args.tail, args.qualifier,
            args.output) == ("fn", "@event.json", True, True, "live", "json")
    connection = Connection.from_args(args, environ={})
    assert (connection.endpoint_url, connection.region) == ("http://node:1", "eu-west-1")


def test_connection_defaults_come_from_the_environment() -> None:
    args = build_parser().parse_args(["functions", "list"])
    assert Connection.from_args(args, environ={}) == Connection(DEFAULT_ENDPOINT, "us-east-1")
    env = {"LOAM_ENDPOINT": "http://elsewhere:9", "AWS_DEFAULT_REGION": "ap-south-1"}
    connection = Connection.from_args(args, environ=env)
    assert (connection.endpoint_url, connection.region) == ("http://elsewhere:9", "ap-south-1")


def test_deploy_arguments_repeat_env() -> None:
    args = build_parser().parse_args(
        ["deploy", "src", "--name", "fn", "--runtime", "python3.12", "--handler", "i.h",
         "--memory", "256", "--timeout", "30", "--env", "A=1", "--env", "B=x=y"])
    assert args.directory == Path("src") and (args.memory, args.timeout) == (256, 30)
    assert parse_environment(args.env) == {"A": "1", "B": "x=y"}
    assert parse_environment(None) is None
    assert parse_environment([]) == {}


@pytest.mark.parametrize("pair", ["NOEQUALS", "=value"])
def test_bad_env_pairs_are_usage_errors(pair: str) -> None:
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_environment([pair])


@pytest.mark.parametrize("argv", [
    ["deploy", "src"],  # --name is required
    ["invoke"],
    ["functions", "get"],
    ["functions", "rename", "fn"],
    ["functions", "list", "--output", "yaml"],
    ["completion", "fish"],
    ["deploy", "src", "--name", "fn", "--memory", "lots"],
])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2
    assert "usage: loam" in capsys.readouterr().err


def test_serve_and_keys_parse_as_before() -> None:
    serve = build_parser().parse_args(["serve", "--port", "9100", "--dev-mode"])
    assert (serve.command, serve.port, serve.dev_mode) == ("serve", 9100, True)
    keys = build_parser().parse_args(["keys", "delete", "AKID"])
    assert (keys.command, keys.action, keys.access_key_id) == ("keys", "delete", "AKID")
    assert not hasattr(serve, "run") and not hasattr(keys, "run")


def test_payload_text_file_and_stdin(tmp_path: Path) -> None:
    assert read_payload(None) == b"{}"
    assert read_payload('{"a": 1}') == b'{"a": 1}'
    event = tmp_path / "event.json"
    event.write_bytes(b'{"from": "file"}')
    assert read_payload(f"@{event}") == b'{"from": "file"}'
    assert read_payload("@-", stdin=io.BytesIO(b"[1]")) == b"[1]"
    with pytest.raises(UsageError):
        read_payload("@")
    with pytest.raises(FileNotFoundError):
        read_payload(f"@{tmp_path / 'missing.json'}")


@pytest.mark.parametrize(("since", "seconds_ago"), [
    ("30s", 30), ("10m", 600), ("2h", 7200), ("1d", 86400), ("1w", 604800)])
def test_since_durations(since: str, seconds_ago: int) -> None:
    assert parse_since(since, now=1_700_000_000.5) == (1_700_000_000.5 - seconds_ago) * 1000


def test_since_times() -> None:
    assert parse_since("2023-11-14T22:13:20Z", now=0) == 1_700_000_000_000
    assert parse_since("2023-11-14T23:13:20+01:00", now=0) == 1_700_000_000_000
    assert parse_since("2023-11-14T22:13:20", now=0) == 1_700_000_000_000  # naive is UTC
    with pytest.raises(UsageError, match="--since"):
        parse_since("yesterday", now=0)


def test_log_group_from_name_or_arn() -> None:
    assert log_group_name("fn") == "/aws/lambda/fn"
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert log_group_name(arn) == "/aws/lambda/fn"
    assert log_group_name(arn + ":live") == "/aws/lambda/fn"
