"""CORS for function URLs, from a configuration's ``Cors`` document.

With ``Cors`` configured, a preflight (``OPTIONS`` with ``Origin`` and
``Access-Control-Request-Method``) is answered by the URL itself, without
invoking the function: 200, with the ``Access-Control-Allow-*`` and
``Max-Age`` headers only when the ``Origin`` is allowed. Other responses to
an allowed ``Origin`` get ``Access-Control-Allow-Origin``,
``-Expose-Headers`` and ``-Allow-Credentials``; the configuration's headers
replace any the function set itself. Without ``Cors``, the function sees
``OPTIONS`` like any other method and its headers pass unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["allowed_origin", "is_preflight", "preflight_headers", "response_headers"]

Headers = list[tuple[str, str]]


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    return (method == "OPTIONS" and "origin" in headers
            and "access-control-request-method" in headers)


def allowed_origin(cors: Mapping[str, Any], origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for ``origin`` (None: not allowed)."""
    if not origin:
        return None
    origins: Sequence[str] = cors.get("AllowOrigins") or []
    if origin in origins or any(o.lower() == origin.lower() for o in origins):
        return origin
    if "*" in origins:
        return origin if cors.get("AllowCredentials") else "*"
    return None


def preflight_headers(cors: Mapping[str, Any], origin: str | None) -> Headers:
    allow = allowed_origin(cors, origin)
    if allow is None:
        return []
    out: Headers = [("access-control-allow-origin", allow)]
    if cors.get("AllowMethods"):
        out.append(("access-control-allow-methods", ",".join(cors["AllowMethods"])))
    if cors.get("AllowHeaders"):
        out.append(("access-control-allow-headers", ",".join(cors["AllowHeaders"])))
    if cors.get("MaxAge") is not None:
        out.append(("access-control-max-age", str(cors["MaxAge"])))
    if cors.get("AllowCredentials"):
        out.append(("access-control-allow-credentials", "true"))
    out.append(("vary", "Origin"))
    return out


def response_headers(cors: Mapping[str, Any] | None, origin: str | None,
                     headers: Headers) -> Headers:
    """``headers`` (the function's) with the configuration's CORS headers applied."""
    if cors is None:
        return headers
    kept = [(k, v) for k, v in headers if not k.startswith("access-control-")]
    allow = allowed_origin(cors, origin)
    if allow is None:
        return kept
    kept.append(("access-control-allow-origin", allow))
    if cors.get("ExposeHeaders"):
        kept.append(("access-control-expose-headers", ",".join(cors["ExposeHeaders"])))
    if cors.get("AllowCredentials"):
        kept.append(("access-control-allow-credentials", "true"))
    if not any(k == "vary" for k, _ in kept):
        kept.append(("vary", "Origin"))
    return kept
