"""Which function URL a request is for: by its Host, or by a path prefix.

- ``http://<url-id>.lambda-url.<region>.localhost:<port>/<path>``, AWS's shape
  (``https://<url-id>.lambda-url.<region>.on.aws/``) under ``localhost``;
  curl and browsers resolve ``*.localhost`` to 127.0.0.1 by themselves, the
  system resolver here may not (``getent hosts`` does not), so clients that
  use it (Python's ``urllib``) send the Host header or use the prefix;
- ``http://127.0.0.1:<port>/_loam/url/<url-id>/<path>`` on the main port: the
  rest of the path, from its ``/``, is the function's ``rawPath``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PATH_PREFIX", "UrlMatch", "match_url"]

PATH_PREFIX = "/_loam/url/"
_HOST = re.compile(r"^(?P<id>[a-z0-9]{32})\.lambda-url\.(?P<region>[a-z0-9-]+)\.localhost\.?$")
_ID = re.compile(r"^[a-z0-9]{32}$")


@dataclass(frozen=True)
class UrlMatch:
    url_id: str
    domain: str  # the URL's domain name (requestContext.domainName)
    raw_path: str  # the function's rawPath, percent-encoded as sent


def match_url(host: str | None, raw_path: str, region: str) -> UrlMatch | None:
    """The function URL a request names (None: not a function URL request)."""
    if host:
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        m = _HOST.match(name.lower())
        if m is not None:
            return UrlMatch(m["id"], name.lower().rstrip("."), raw_path or "/")
    if raw_path.startswith(PATH_PREFIX):
        rest = raw_path[len(PATH_PREFIX):]
        uid, slash, path = rest.partition("/")
        if _ID.match(uid):
            return UrlMatch(uid, f"{uid}.lambda-url.{region}.localhost", slash + path or "/")
    return None
