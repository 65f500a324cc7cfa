"""The console's files on the main port: the built app from a real server, and the
front's rules (deep links, caching, gzip, 503 before a build, paths it leaves alone)
against a build of known files."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest

from loam.http.console_front import DIST, ConsoleFront
from tests.functional.support import raw_request
from tests.helpers import Server

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _call(front: ConsoleFront, method: str, path: str,
          headers: dict[str, str] | None = None) -> tuple[bool, int, dict[str, str], bytes]:
    """One request through the front, as uvicorn would make it."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}
    handled = asyncio.run(front.handle(scope, receive, send))
    if not handled:
        return False, 0, {}, b""
    start, body = sent
    return (True, start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
            body["body"])


@pytest.fixture
def built(tmp_path: Path) -> ConsoleFront:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "main-AB12CD34.js").write_text("console.log('hi')")
    (tmp_path / "assets" / "main-AB12CD34.js.gz").write_bytes(gzip.compress(b"console.log('hi')"))
    (tmp_path / ".build-stamp").write_text("x")
    (tmp_path.parent / "secret.txt").write_text("outside the build")
    return ConsoleFront(tmp_path)


def test_the_built_console_is_served_with_its_security_policy(server: Server) -> None:
    assert (DIST / "index.html").is_file(), "the console is not built: run scripts/setup"
    page = raw_request(server, "GET", "/console/")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    directives = page.headers["content-security-policy"].split(";")
    policy = dict(d.strip().split(" ", 1) for d in directives)
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    # <style> elements only with this answer's nonce (the page names it for the editor).
    nonce = re.fullmatch(r"'self' 'nonce-([\w-]+)'", policy["style-src"])
    assert nonce and f'content="{nonce.group(1)}"'.encode() in page.body
    assert nonce.group(1) not in raw_request(server, "GET", "/console/").headers[
        "content-security-policy"]  # fresh each time
    script = re.search(rb'src="(/console/assets/main-[A-Z0-9]+\.js)"', page.body)
    assert script, page.body
    asset = raw_request(server, "GET", script.group(1).decode())
    assert asset.status == 200
    assert asset.headers["content-type"] == "text/javascript; charset=utf-8"
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_deep_links_get_the_app_and_a_browser_at_the_root_is_sent_to_it(server: Server) -> None:
    def app(body: bytes) -> bytes:
        return re.sub(rb'name="loam-csp-nonce" content="[^"]+"', b"", body)

    index = app(raw_request(server, "GET", "/console/").body)
    for path in ("/console/functions/my-function/logs", "/console/create", "/console/account"):
        deep = raw_request(server, "GET", path)
        assert (deep.status, app(deep.body)) == (200, index), path
    bare = raw_request(server, "GET", "/console")
    assert (bare.status, bare.headers["location"]) == (308, "/console/")
    root = raw_request(server, "GET", "/", headers=HTML)
    assert (root.status, root.headers["location"]) == (302, "/console/")


def test_api_calls_are_left_to_the_apis(server: Server) -> None:
    listed = raw_request(server, "GET", "/2015-03-31/functions/")
    assert listed.status == 200 and b"Functions" in listed.body
    # An SQS query call on "/" is not a browser visit.
    query = raw_request(server, "POST", "/", body=b"Action=ListQueues&Version=2012-11-05",
                        headers={"Content-Type": "application/x-www-form-urlencoded",
                                 "Authorization": "AWS4-HMAC-SHA256 Credential=x/20240101/"
                                 "us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"})
    assert query.status == 200 and b"ListQueuesResponse" in query.body


def test_the_runtime_registry_is_listed_for_the_create_page(server: Server) -> None:
    listed = raw_request(server, "GET", "/_loam/runtimes")
    assert listed.status == 200
    runtimes = json.loads(listed.body)["runtimes"]
    assert "python3.12" in runtimes and "provided.al2023" in runtimes


def test_hashed_assets_are_immutable_and_gzipped_for_who_accepts_it(built: ConsoleFront) -> None:
    handled, status, headers, body = _call(built, "GET", "/console/assets/main-AB12CD34.js",
                                           {"Accept-Encoding": "gzip, br"})
    assert (handled, status) == (True, 200)
    assert headers["content-encoding"] == "gzip" and headers["vary"] == "accept-encoding"
    assert gzip.decompress(body) == b"console.log('hi')"
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    _, _, plain_headers, plain = _call(built, "GET", "/console/assets/main-AB12CD34.js")
    assert plain == b"console.log('hi')" and "content-encoding" not in plain_headers
    _, _, head_headers, head = _call(built, "HEAD", "/console/assets/main-AB12CD34.js")
    assert head == b"" and head_headers["content-length"] == str(len(plain))


def test_missing_assets_and_files_outside_the_build_are_not_found(built: ConsoleFront) -> None:
    for path in ("/console/assets/main-GONE.js", "/console/assets/../../secret.txt",
                 "/console/assets/%2e%2e/secret.txt", "/console/assets/main-AB12CD34.js.gz"):
        handled, status, headers, _ = _call(built, "GET", path)
        assert (handled, status) == (True, 404), path
        assert headers["cache-control"] == "no-store"
    # A dotfile of the build is not served: the path gets the app like any deep link.
    handled, status, _, body = _call(built, "GET", "/console/.build-stamp")
    assert (status, body) == (200, b"<!doctype html><title>console</title>")


def test_other_methods_and_other_paths(built: ConsoleFront) -> None:
    assert _call(built, "POST", "/console/")[1] == 405
    assert _call(built, "GET", "/consoles")[0] is False
    assert _call(built, "GET", "/2015-03-31/functions/")[0] is False
    assert _call(built, "GET", "/")[0] is False  # no text/html: an API client
    assert _call(built, "GET", "/", {**HTML, "Authorization": "AWS4-HMAC-SHA256 x"})[0] is False


def test_before_a_build_the_console_says_how_to_build_it(tmp_path: Path) -> None:
    front = ConsoleFront(tmp_path / "console_dist")
    handled, status, headers, body = _call(front, "GET", "/console/functions/f/code")
    assert (handled, status) == (True, 503)
    assert body.count(b"\n") == 1 and b"scripts/setup" in body
    assert headers["cache-control"] == "no-store"
