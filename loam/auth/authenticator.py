"""SigV4 verification of API requests (development mode accepts any key).

``check`` is called for every API request before its operation runs:
Lambda's REST operations (service ``lambda``), the embedded services by their
botocore names (``sqs``, ``events``, ``apigatewayv2``) and function URLs with
``AWS_IAM`` auth (``lambda-url``, signed for service ``lambda``). A request
passes when its signature, computed with the secret of a key in
``auth_keys``, matches, its credential is scoped to the service, and its time
is within 15 minutes of the node's clock (a presigned URL: until it
expires). A session token (``X-Amz-Security-Token``) is accepted and not
checked. Refusals are the service's own AWS errors (``errors.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import botocore.exceptions
import botocore.session

from loam.auth import sigv4
from loam.auth.errors import errors_for
from loam.auth.keys import AccessKey, AccessKeys
from loam.clock import Clock
from loam.store.sql import Database

__all__ = ["Authenticator", "HttpRequest"]

MAX_SKEW_S = 15 * 60
MAX_PRESIGNED_EXPIRES_S = 7 * 24 * 3600
# Function URL requests are signed for Lambda; every other service's signing name is
# its model's (cloudwatch → monitoring, apigatewayv2 → apigateway).
_SIGNING_NAMES = {"lambda-url": "lambda"}
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class HttpRequest:
    """What a signature covers: the request as it arrived."""

    method: str
    raw_path: str  # percent-encoded, as sent
    raw_query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


class Authenticator:
    def __init__(self, database: Database, clock: Clock, data_dir: object,
                 dev_mode: bool) -> None:
        self.database = database
        self.clock = clock
        self.dev_mode = dev_mode
        self.keys = AccessKeys(database, clock)

    def first_start_key(self) -> AccessKey | None:
        """A key created now because there was none (to show once), else None."""
        return self.keys.create_first()

    def check(self, request: HttpRequest, service: str) -> None:
        """Return if the request is signed by a known key (or in development mode);
        raise the AWS error ``service`` answers otherwise."""
        if self.dev_mode:
            return
        errors = errors_for(service)
        try:
            claims = sigv4.parse(request.method, request.headers, request.raw_query)
        except sigv4.Malformed as exc:
            raise errors.malformed(str(exc)) from None
        if claims is None:
            raise errors.unsigned()
        secret = self.keys.secret(claims.access_key)
        if secret is None:
            raise errors.unknown_key()
        expected = _SIGNING_NAMES.get(service) or _signing_name(service)
        if claims.service != expected:
            raise errors.bad_signature(
                f"Credential should be scoped to correct service: '{expected}'. ")
        if not claims.timestamp.startswith(claims.date):
            raise errors.bad_signature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                f"date from HTTP: '{claims.date}' != '{claims.timestamp[:8]}', from "
                f"'{claims.timestamp}'.")
        stale = self._stale(claims)
        if stale is not None:
            raise errors.bad_signature(stale)
        if not sigv4.matches(claims, secret, request.method, request.raw_path,
                             request.raw_query, request.headers, request.body):
            raise errors.bad_signature()

    def _stale(self, claims: sigv4.SignedRequest) -> str | None:
        """AWS's message when the request's time is out of bounds, else None."""
        now = self.clock.time()
        signed = claims.epoch
        if claims.expires is not None:
            if not 0 < claims.expires <= MAX_PRESIGNED_EXPIRES_S:
                return ("X-Amz-Expires must be less than a week (in seconds) that is 604800")
            if now > signed + claims.expires:
                return (f"Signature expired: {claims.timestamp} is now earlier than "
                        f"{_stamp(now - claims.expires)} ({_stamp(now)} - "
                        f"{claims.expires} sec.)")
            if signed > now + MAX_SKEW_S:
                return _not_yet(claims.timestamp, now)
            return None
        if signed < now - MAX_SKEW_S:
            return (f"Signature expired: {claims.timestamp} is now earlier than "
                    f"{_stamp(now - MAX_SKEW_S)} ({_stamp(now)} - 15 min.)")
        if signed > now + MAX_SKEW_S:
            return _not_yet(claims.timestamp, now)
        return None


def _not_yet(timestamp: str, now: float) -> str:
    return (f"Signature not yet current: {timestamp} is still later than "
            f"{_stamp(now + MAX_SKEW_S)} ({_stamp(now)} + 15 min.)")


def _stamp(epoch: float) -> str:
    return time.strftime(_STAMP, time.gmtime(epoch))


@cache
def _signing_name(service: str) -> str:
    """The name clients sign ``service``'s requests for, from botocore's model."""
    try:
        model = botocore.session.get_session().get_service_model(service)
    except botocore.exceptions.UnknownServiceError:
        return service
    return str(model.signing_name or service)

