"""The web console's files at ``/console`` on the main port.

The console is a single-page app built by ``scripts/setup`` into
``loam/console_dist`` (``console/build.mjs``). Hashed assets under
``/console/assets/`` are cached for a year; every other path under
``/console`` is ``index.html`` (never cached), so deep links work. Every
answer carries a same-origin-only Content-Security-Policy: the console's
scripts talk to loam's signed AWS APIs on this origin and nowhere else.
A browser's plain ``GET /`` is sent to ``/console/``. Anything else is left
to the APIs after one prefix check.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from loam.http.front import Receive, Scope, Send

__all__ = ["DIST", "ConsoleFront"]

DIST = Path(__file__).resolve().parent.parent / "console_dist"
PREFIX = "/console"
ASSETS = "/console/assets/"

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'{nonce}; "
       "style-src-attr 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# index.html names a fresh nonce for each answer: the code editor inserts its styles
# as <style> elements carrying it. It also positions lines with style attributes,
# which cannot run code: those alone are allowed inline.
NONCE_MARK = b"__CSP_NONCE__"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".map": "application/json; charset=utf-8",
    ".json": "application/json; charset=utf-8", ".svg": "image/svg+xml",
    ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2",
    ".txt": "text/plain; charset=utf-8",
}
NOT_BUILT = (b"The loam console is not built: run scripts/setup "
             b"(it needs node and npm), then reload.\n")
# Requests that are AWS API calls even on "/": signed, targeted or query-protocol.
_API_HEADERS = (b"authorization", b"x-amz-target", b"x-amz-date")


class ConsoleFront:
    def __init__(self, dist: Path = DIST) -> None:
        self.dist = dist.resolve()

    def wants(self, path: str, host: bytes) -> bool:
        return path == "/" or path.startswith(PREFIX)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        path: str = scope["path"]
        if not path.startswith(PREFIX):
            if path == "/" and _is_browser_visit(scope):
                await _answer(send, 302, b"", [(b"location", b"/console/")])
                return True
            return False
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return False  # e.g. /consoles: not ours
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, b"", [(b"allow", b"GET, HEAD")])
            return True
        if path == PREFIX:
            await _answer(send, 308, b"", [(b"location", b"/console/")])
            return True
        index = self.dist / "index.html"
        if not index.is_file():
            await _answer(send, 503, NOT_BUILT, [(b"content-type", b"text/plain; charset=utf-8"),
                                                 (b"cache-control", b"no-store")])
            return True
        if not path.startswith(ASSETS):
            await self._send_index(scope, send, index)
            return True
        file = self._asset(path)
        if file is None:
            await _answer(send, 404, b"Not found\n", [
                (b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")])
            return True
        await self._send_file(scope, send, file)
        return True

    async def _send_index(self, scope: Scope, send: Send, index: Path) -> None:
        nonce = secrets.token_urlsafe(18)
        try:
            body = index.read_bytes().replace(NONCE_MARK, nonce.encode())
        except OSError:  # rebuilt between the check and the read: let the browser retry
            await _answer(send, 503, NOT_BUILT, [(b"retry-after", b"1")])
            return
        headers = [(b"content-type", TYPES[".html"].encode()), (b"cache-control", b"no-cache")]
        await _answer(send, 200, b"" if scope["method"] == "HEAD" else body, headers,
                      length=len(body), nonce=nonce)

    def _asset(self, path: str) -> Path | None:
        """The built file ``path`` names, or None (never a file outside the build)."""
        relative = path.removeprefix(PREFIX + "/")
        if any(part in ("", ".", "..") or part.startswith(".") for part in relative.split("/")):
            return None
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        if candidate.suffix == ".gz":
            return None  # served only as the encoding of its twin
        return candidate

    async def _send_file(self, scope: Scope, send: Send, file: Path) -> None:
        """A hashed asset: its name changes with its content, so it is cached for good."""
        headers = [(b"content-type", TYPES.get(file.suffix, "application/octet-stream").encode()),
                   (b"cache-control", IMMUTABLE.encode()), (b"vary", b"accept-encoding")]
        zipped = file.with_name(file.name + ".gz")
        if _accepts_gzip(scope) and zipped.is_file():
            file = zipped
            headers.append((b"content-encoding", b"gzip"))
        try:
            body = file.read_bytes()
        except OSError:  # rebuilt between the check and the read: let the browser retry
            await _answer(send, 503, NOT_BUILT, [(b"retry-after", b"1")])
            return
        await _answer(send, 200, b"" if scope["method"] == "HEAD" else body, headers,
                      length=len(body))


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value)
    return None


def _accepts_gzip(scope: Scope) -> bool:
    return b"gzip" in (_header(scope, b"accept-encoding") or b"")


def _is_browser_visit(scope: Scope) -> bool:
    if scope["method"] != "GET" or scope.get("query_string"):
        return False
    if any(_header(scope, name) is not None for name in _API_HEADERS):
        return False
    return b"text/html" in (_header(scope, b"accept") or b"")


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]],
                  length: int | None = None, nonce: str | None = None) -> None:
    size = len(body) if length is None else length
    all_headers = [*headers, (b"content-length", str(size).encode()),
                   (b"content-security-policy",
                    CSP.format(nonce=f" 'nonce-{nonce}'" if nonce else "").encode()),
                   (b"x-content-type-options", b"nosniff"),
                   (b"referrer-policy", b"same-origin")]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
