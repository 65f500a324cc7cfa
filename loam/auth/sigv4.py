"""AWS Signature Version 4, from the verifying side.

A request carries its signature either in the ``Authorization`` header
(``AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request,
SignedHeaders=host;x-amz-date, Signature=…``) or, presigned, in the query
string (``X-Amz-Algorithm``, ``X-Amz-Credential``, ``X-Amz-Date``,
``X-Amz-Expires``, ``X-Amz-SignedHeaders``, ``X-Amz-Signature``). The
canonical request is rebuilt the way botocore's ``SigV4Auth`` builds it:

- the path as sent, dot segments and repeated slashes removed, then
  percent-encoded once more (``%3A`` in a function ARN becomes ``%253A``);
- the query's ``key=value`` pairs as sent, sorted (SDKs that re-encode the
  query are matched by the RFC 3986 form, tried second);
- the signed headers, lower-cased, values trimmed with inner runs of spaces
  collapsed, each on its own line;
- the payload hash: ``X-Amz-Content-SHA256`` when sent, else the body's
  SHA-256 (``UNSIGNED-PAYLOAD`` also for presigned URLs).

Nothing here looks up keys or knows a service's error codes: ``parse``
raises ``Malformed``, the caller maps it; ``matches`` compares in constant time.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_tz
from urllib.parse import quote, unquote

__all__ = ["ALGORITHM", "Malformed", "SignedRequest", "matches", "parse", "signing_key"]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_PRESIGNED = "X-Amz-Signature"


class Malformed(Exception):
    """The request claims a signature but does not carry a complete one."""


@dataclass(frozen=True)
class SignedRequest:
    """What a request says about its signature."""

    access_key: str
    date: str  # the scope's yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # yyyymmddThhmmssZ
    expires: int | None  # seconds, for a presigned URL

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @property
    def epoch(self) -> float:
        return float(calendar.timegm(time.strptime(self.timestamp, _TIMESTAMP)))


def parse(method: str, headers: Mapping[str, str], raw_query: str) -> SignedRequest | None:
    """The request's signature claims; None when it carries none at all."""
    header = headers.get("authorization")
    if header is not None:
        return _from_header(header, headers)
    query = dict(_pairs(raw_query))
    if "X-Amz-Algorithm" in query or "X-Amz-Credential" in query or _PRESIGNED in query:
        return _from_query({k: unquote(v) for k, v in query.items()})
    return None


def _from_header(header: str, headers: Mapping[str, str]) -> SignedRequest:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise Malformed(f"Authorization header requires existence of the '{ALGORITHM}' "
                        f"algorithm. Authorization={header}")
    fields = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            fields[name] = value
    missing = [n for n in ("Credential", "Signature", "SignedHeaders") if not fields.get(n)]
    if missing:
        raise Malformed(" ".join(f"Authorization header requires '{n}' parameter."
                                 for n in missing) + f" Authorization={header}")
    timestamp = headers.get("x-amz-date") or _from_http_date(headers.get("date"))
    if not timestamp:
        raise Malformed("Authorization header requires existence of either a 'X-Amz-Date' or "
                        f"a 'Date' header. Authorization={header}")
    return _claims(fields["Credential"], fields["SignedHeaders"], fields["Signature"],
                   timestamp, None)


def _from_query(query: Mapping[str, str]) -> SignedRequest:
    missing = [n for n in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature",
                           "X-Amz-SignedHeaders", "X-Amz-Date") if not query.get(n)]
    if missing:
        raise Malformed(" ".join(f"AWS query-string parameters must include '{n}'."
                                 for n in missing) + " Re-examine the query-string parameters.")
    if query["X-Amz-Algorithm"] != ALGORITHM:
        raise Malformed(f"X-Amz-Algorithm only supports '{ALGORITHM}'.")
    try:
        expires = int(query.get("X-Amz-Expires", "900"))
    except ValueError:
        raise Malformed("X-Amz-Expires should be a number.") from None
    return _claims(query["X-Amz-Credential"], query["X-Amz-SignedHeaders"],
                   query["X-Amz-Signature"], query["X-Amz-Date"], expires)


def _claims(credential: str, signed: str, signature: str, timestamp: str,
            expires: int | None) -> SignedRequest:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise Malformed(f"Credential should be scoped to a valid region, not '{credential}'. ")
    try:
        time.strptime(timestamp, _TIMESTAMP)
    except ValueError:
        raise Malformed(f"Date must be in ISO-8601 'basic format'. Got '{timestamp}'.") from None
    return SignedRequest(parts[0], parts[1], parts[2], parts[3],
                         tuple(h.strip().lower() for h in signed.split(";")), signature,
                         timestamp, expires)


def _from_http_date(value: str | None) -> str | None:
    parsed = parsedate_tz(value) if value else None
    if parsed is None:
        return None
    epoch = calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    return time.strftime(_TIMESTAMP, time.gmtime(epoch))


def _pairs(raw_query: str) -> Iterator[tuple[str, str]]:
    for pair in raw_query.split("&"):
        if pair:
            key, _, value = pair.partition("=")
            yield key, value


def _canonical_path(raw_path: str) -> str:
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


def _canonical_queries(raw_query: str, presigned: bool) -> list[str]:
    """The query as botocore signs it (as sent), then as the RFC 3986 form."""
    pairs = [(k, v) for k, v in _pairs(raw_query) if not (presigned and k == _PRESIGNED)]
    as_sent = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    encoded = sorted((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~"))
                     for k, v in pairs)
    normalised = "&".join(f"{k}={v}" for k, v in encoded)
    return [as_sent] if normalised == as_sent else [as_sent, normalised]


def _payload_hashes(headers: Mapping[str, str], body: bytes, presigned: bool) -> list[str]:
    declared = headers.get("x-amz-content-sha256")
    if declared:
        return [declared]
    actual = hashlib.sha256(body).hexdigest()
    return [actual, UNSIGNED_PAYLOAD] if presigned else [actual]


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signatures(claims: SignedRequest, secret: str, method: str, raw_path: str,
               raw_query: str, headers: Mapping[str, str], body: bytes) -> Iterator[str]:
    """The signatures a correct signer may have computed for this request."""
    presigned = claims.expires is not None
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in claims.signed_headers)
    key = signing_key(secret, claims.date, claims.region, claims.service)
    for query in _canonical_queries(raw_query, presigned):
        for payload in _payload_hashes(headers, body, presigned):
            canonical = "\n".join((method.upper(), _canonical_path(raw_path), query,
                                   canonical_headers, ";".join(claims.signed_headers), payload))
            to_sign = "\n".join((ALGORITHM, claims.timestamp, claims.scope,
                                 hashlib.sha256(canonical.encode()).hexdigest()))
            yield hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def matches(claims: SignedRequest, secret: str, method: str, raw_path: str, raw_query: str,
            headers: Mapping[str, str], body: bytes) -> bool:
    return any(hmac.compare_digest(candidate, claims.signature)
               for candidate in signatures(claims, secret, method, raw_path, raw_query,
                                           headers, body))
