"""SigV4 verification against what botocore's own signers produce, each refusal as
the service answers it, and the access keys behind it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from loam.auth import Authenticator, HttpRequest
from loam.auth.keys import SECRET_TTL_S, AccessKey, AccessKeys
from loam.clock import FakeClock
from loam.errors import InvalidSignatureException, LoamError, UnrecognizedClientException
from loam.store.sql import Database, open_database

HOST = "127.0.0.1:9070"
INVOKE = (f"http://{HOST}/2015-03-31/functions/"
          "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af/invocations"
          "?Qualifier=live")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = open_database("sqlite", tmp_path)
    yield db
    db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())  # botocore signs with the real time


@pytest.fixture
def auth(database: Database, clock: FakeClock) -> Authenticator:
    return Authenticator(database, clock, None, dev_mode=False)


@pytest.fixture
def key(auth: Authenticator) -> AccessKey:
    first = auth.first_start_key()
    assert first is not None
    return first


def _signed(key: AccessKey, url: str = INVOKE, service: str = "lambda", method: str = "POST",
            body: bytes = b'{"x": 1}', secret: str | None = None,
            headers: dict[str, str] | None = None) -> HttpRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(key.access_key_id, secret or key.secret, "session-token"),
              service, "us-east-1").add_auth(request)
    return _arrived(request, body)


def _arrived(request: AWSRequest, body: bytes) -> HttpRequest:
    """The request as the server sees it: raw path and query, lower-cased headers."""
    parts = urlsplit(request.url)
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    headers["host"] = HOST
    return HttpRequest(request.method, parts.path, parts.query, headers, body)


def _refusal(auth: Authenticator, request: HttpRequest, service: str) -> LoamError:
    with pytest.raises(LoamError) as refused:
        auth.check(request, service)
    return refused.value


def test_what_botocore_signs_is_accepted(auth: Authenticator, key: AccessKey) -> None:
    auth.check(_signed(key), "lambda")
    auth.check(_signed(key, f"http://{HOST}/", "sqs", body=b"Action=ListQueues&Version=2012-11-05",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}), "sqs")
    auth.check(_signed(key, f"http://{HOST}/v2/apis?maxResults=5&nextToken=a%2Fb",
                       "apigateway", "GET", b""), "apigatewayv2")
    auth.check(_signed(key, f"http://{HOST}/./a/../2015-03-31/functions//f/invocations",
                       body=b""), "lambda")


def test_unsigned_payload_and_date_header(auth: Authenticator, key: AccessKey) -> None:
    unsigned = _signed(key, headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    auth.check(unsigned, "lambda")
    dated = _signed(key, headers={"Date": "Mon, 01 Jan 2024 00:00:00 GMT"})
    assert "x-amz-date" not in dated.headers
    auth.check(dated, "lambda")


def test_a_changed_request_or_wrong_secret_is_refused(auth: Authenticator,
                                                      key: AccessKey) -> None:
    good = _signed(key)
    tampered = HttpRequest(good.method, good.raw_path, good.raw_query, good.headers, b"{}")
    refused = _refusal(auth, tampered, "lambda")
    assert isinstance(refused, InvalidSignatureException)
    assert refused.message.startswith("The request signature we calculated does not match")
    wrong = _refusal(auth, _signed(key, secret="x" * 40), "lambda")
    assert isinstance(wrong, InvalidSignatureException) and wrong.status == 403
    sqs = _refusal(auth, _signed(key, f"http://{HOST}/", "sqs", secret="x" * 40), "sqs")
    assert (sqs.code, sqs.status) == ("SignatureDoesNotMatch", 403)
    events = _refusal(auth, _signed(key, f"http://{HOST}/", "events", secret="x"), "events")
    assert events.code == "InvalidSignatureException"


def test_an_unknown_key_is_refused(auth: Authenticator, key: AccessKey) -> None:
    stranger = AccessKey("AKIAIOSFODNN7EXAMPLE", key.secret, 0.0)
    refused = _refusal(auth, _signed(stranger), "lambda")
    assert isinstance(refused, UnrecognizedClientException)
    assert refused.message == "The security token included in the request is invalid."
    sqs = _refusal(auth, _signed(stranger, f"http://{HOST}/", "sqs"), "sqs")
    assert (sqs.code, sqs.status) == ("InvalidClientTokenId", 403)


def test_unsigned_and_malformed_requests(auth: Authenticator, key: AccessKey) -> None:
    bare = HttpRequest("GET", "/2015-03-31/functions", "", {"host": HOST}, b"")
    lam = _refusal(auth, bare, "lambda")
    assert (lam.code, lam.status, lam.message) == (
        "MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    assert _refusal(auth, bare, "sqs").code == "MissingAuthenticationToken"
    partial = HttpRequest("GET", "/", "", {"host": HOST, "x-amz-date": "20240101T000000Z",
                          "authorization": f"AWS4-HMAC-SHA256 Credential={key.access_key_id}/"
                                           "20240101/us-east-1/lambda/aws4_request"}, b"")
    malformed = _refusal(auth, partial, "lambda")
    assert (malformed.code, malformed.status) == ("IncompleteSignatureException", 400)
    assert "requires 'Signature' parameter" in malformed.message


def test_a_credential_for_another_service_is_refused(auth: Authenticator,
                                                     key: AccessKey) -> None:
    refused = _refusal(auth, _signed(key, service="sqs"), "lambda")
    assert refused.message == "Credential should be scoped to correct service: 'lambda'. "
    auth.check(_signed(key, service="lambda"), "lambda-url")


def test_fifteen_minutes_of_skew(auth: Authenticator, key: AccessKey,
                                 clock: FakeClock) -> None:
    request = _signed(key)
    clock.advance(14 * 60)
    auth.check(request, "lambda")
    clock.advance(2 * 60)
    assert _refusal(auth, request, "lambda").message.startswith("Signature expired: ")
    clock.advance(-32 * 60)
    assert _refusal(auth, request, "lambda").message.startswith("Signature not yet current: ")


def test_presigned_urls_work_until_they_expire(auth: Authenticator, key: AccessKey,
                                               clock: FakeClock) -> None:
    request = AWSRequest(method="GET", url=f"http://{HOST}/?Action=ListQueues&Version=2012-11-05")
    SigV4QueryAuth(Credentials(key.access_key_id, key.secret), "sqs", "us-east-1",
                   expires=60).add_auth(request)
    arrived = _arrived(request, b"")
    assert "X-Amz-Signature=" in arrived.raw_query and "authorization" not in arrived.headers
    auth.check(arrived, "sqs")
    clock.advance(61)
    assert _refusal(auth, arrived, "sqs").message.startswith("Signature expired")
    clock.advance(-61)
    forged = arrived.raw_query.replace("ListQueues", "ListQueuez")
    bad = HttpRequest("GET", "/", forged, arrived.headers, b"")
    assert _refusal(auth, bad, "sqs").code == "SignatureDoesNotMatch"


def test_development_mode_accepts_anything(database: Database, clock: FakeClock) -> None:
    open_door = Authenticator(database, clock, None, dev_mode=True)
    open_door.check(HttpRequest("GET", "/", "", {}, b""), "lambda")
    open_door.check(_signed(AccessKey("AKIAIOSFODNN7EXAMPLE", "s", 0.0)), "sqs")


def test_keys_first_one_once_then_managed(database: Database, clock: FakeClock,
                                          auth: Authenticator, key: AccessKey) -> None:
    assert auth.first_start_key() is None
    assert len(key.access_key_id) == 20 and len(key.secret) == 40
    cli = AccessKeys(database, clock)  # another process, as `loam keys` is
    second = cli.create()
    # Listed by creation time, then id (both may share one fake instant).
    expected = sorted([key, second], key=lambda k: (k.created, k.access_key_id))
    assert [k.access_key_id for k in cli.list()] == [k.access_key_id for k in expected]
    auth.check(_signed(second), "lambda")  # found without a restart
    assert cli.delete(second.access_key_id) and not cli.delete(second.access_key_id)
    auth.check(_signed(second), "lambda")  # still cached, briefly
    clock.advance(SECRET_TTL_S + 1)
    assert isinstance(_refusal(auth, _signed(second), "lambda"), UnrecognizedClientException)
