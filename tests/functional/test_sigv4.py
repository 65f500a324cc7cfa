"""Authentication on a server started with development mode off (LOAM_DEV_MODE=0):
the key it prints on first start signs boto3 and aws CLI calls to Lambda, SQS and
EventBridge; wrong secrets, unknown keys and unsigned requests get AWS's errors;
presigned URLs work; ``loam keys`` manages keys while it runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.functional.support import raw_request, unique_name
from tests.helpers import Server, start_server

AWS_CLI = Path("/usr/bin/aws")


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("auth")) / "data",
                       extra_env={"LOAM_DEV_MODE": "0"})
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def key(locked: Server) -> tuple[str, str]:
    log = locked.log()
    akid = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", log)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", log)
    assert akid and secret, log
    return akid.group(1), secret.group(1)


def _client(server: Server, service: str, akid: str, secret: str, **config: Any) -> Any:
    return boto3.client(service, endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id=akid, aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, **config))


def _code(call: Any, **kwargs: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as failed:
        call(**kwargs)
    error = failed.value.response
    return (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["Error"]["Message"])


def test_the_first_key_is_printed_once_with_a_warning_free_start(locked: Server) -> None:
    log = locked.log()
    assert log.count("AWS_SECRET_ACCESS_KEY=") == 1
    assert "DEVELOPMENT MODE" not in log


def test_the_printed_key_signs_lambda_sqs_and_events(locked: Server,
                                                     key: tuple[str, str]) -> None:
    lam = _client(locked, "lambda", *key)
    assert "Functions" in lam.list_functions()
    sqs = _client(locked, "sqs", *key)
    url = sqs.create_queue(QueueName=unique_name("q"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="signed")
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "signed"
    events = _client(locked, "events", *key)
    assert events.list_event_buses()["EventBuses"][0]["Name"] == "default"
    # A session token rides along unchecked.
    session = boto3.client("lambda", endpoint_url=locked.url, region_name="us-east-1",
                           aws_access_key_id=key[0], aws_secret_access_key=key[1],
                           aws_session_token="token")
    session.list_functions()


def test_the_printed_key_signs_every_other_service(locked: Server,
                                                    key: tuple[str, str]) -> None:
    """Each is checked against its own signing name (cloudwatch signs as monitoring,
    apigatewayv2 as apigateway)."""
    assert "logGroups" in _client(locked, "logs", *key).describe_log_groups()
    assert "Metrics" in _client(locked, "cloudwatch", *key).list_metrics(
        Namespace="AWS/Lambda")
    assert "Items" in _client(locked, "apigatewayv2", *key).get_apis()
    wrong = _client(locked, "cloudwatch", key[0], "not-the-secret")
    with pytest.raises(wrong.exceptions.ClientError) as refused:
        wrong.list_metrics(Namespace="AWS/Lambda")
    assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_a_wrong_secret_is_an_invalid_signature(locked: Server, key: tuple[str, str]) -> None:
    akid = key[0]
    lam = _client(locked, "lambda", akid, "wrong")
    code, status, message = _code(lam.list_functions)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("The request signature we calculated does not match")
    assert _code(_client(locked, "sqs", akid, "wrong").list_queues)[:2] == (
        "SignatureDoesNotMatch", 403)
    assert _code(_client(locked, "events", akid, "wrong").list_event_buses)[:2] == (
        "InvalidSignatureException", 403)


def test_an_unknown_key_is_unrecognized(locked: Server, key: tuple[str, str]) -> None:
    stranger = ("AKIAIOSFODNN7EXAMPLE", key[1])
    assert _code(_client(locked, "lambda", *stranger).list_functions) == (
        "UnrecognizedClientException", 403,
        "The security token included in the request is invalid.")
    assert _code(_client(locked, "sqs", *stranger).list_queues)[:2] == (
        "InvalidClientTokenId", 403)
    assert _code(_client(locked, "events", *stranger).list_event_buses)[:2] == (
        "UnrecognizedClientException", 403)


def test_unsigned_requests_are_refused(locked: Server) -> None:
    lam = boto3.client("lambda", endpoint_url=locked.url, region_name="us-east-1",
                       config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    assert _code(lam.list_functions)[:2] == ("MissingAuthenticationTokenException", 403)
    raw = raw_request(locked, "GET", "/2015-03-31/functions/")
    assert (raw.status, raw.error_type) == (403, "MissingAuthenticationTokenException")
    assert raw.json()["message"] == "Missing Authentication Token"
    form = raw_request(locked, "POST", "/", b"Action=ListQueues&Version=2012-11-05",
                       {"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status == 403 and b"<Code>MissingAuthenticationToken</Code>" in form.body


def test_a_presigned_url_works(locked: Server, key: tuple[str, str]) -> None:
    lam = _client(locked, "lambda", *key)
    url = lam.generate_presigned_url("list_functions", Params={"MaxItems": 5}, ExpiresIn=60)
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=30) as answer:
        assert "Functions" in json.loads(answer.read())
    forged = url.replace("MaxItems=5", "MaxItems=6")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    with refused.value as error:
        assert error.code == 403
        assert error.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def test_keys_created_and_deleted_while_running(locked: Server) -> None:
    def keys(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "loam", "keys", *args, "--data-dir",
                               str(locked.data_dir)], capture_output=True, text=True,
                              timeout=60, check=True)
        return done.stdout

    created = dict(line.split("=", 1) for line in keys("create").split())
    akid, secret = created["AWS_ACCESS_KEY_ID"], created["AWS_SECRET_ACCESS_KEY"]
    assert akid in keys("list") and secret not in keys("list")
    _client(locked, "lambda", akid, secret).list_functions()
    keys("delete", akid)
    assert akid not in keys("list")


@pytest.mark.skipif(not AWS_CLI.exists(), reason="/usr/bin/aws is not installed")
def test_the_aws_cli_signs_with_the_key(locked: Server, key: tuple[str, str],
                                        tmp_path: Path) -> None:
    def aws(secret: str, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=secret,
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(tmp_path / "config"),
                   AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"), AWS_PAGER="")
        return subprocess.run([str(AWS_CLI), "--endpoint-url", locked.url, "--output", "json",
                               *args], capture_output=True, text=True, env=env, timeout=60,
                              check=False)

    listed = aws(key[1], "lambda", "list-functions")
    assert listed.returncode == 0, listed.stderr
    assert "Functions" in json.loads(listed.stdout)
    queues = aws(key[1], "sqs", "create-queue", "--queue-name", unique_name("cli"))
    assert queues.returncode == 0, queues.stderr
    refused = aws("wrong", "lambda", "list-functions")
    assert refused.returncode != 0 and "InvalidSignatureException" in refused.stderr
