"""Function URLs: an HTTP request in, the function's answer out, as AWS does it.

Two ways to reach a URL (see ``url_ids``):

- ``http://<url-id>.lambda-url.<region>.localhost:<port>/<path>?<query>`` —
  the ``FunctionUrl`` the API returns, shaped as AWS's; curl and browsers
  resolve ``*.localhost`` to 127.0.0.1 themselves; with other clients send
  the request to 127.0.0.1 with that Host header (or ``curl --resolve``);
- ``http://127.0.0.1:<port>/_loam/url/<url-id>/<path>?<query>`` — for clients
  that cannot resolve the name: ``/<path>`` is the function's ``rawPath``.

One request: find the configuration (403 ``{"Message":"Forbidden"}`` if
none), read the body (413 past 6 MB), AuthType ``AWS_IAM`` → SigV4 via
``node.auth.check(request, "lambda-url")``, the resource policy via
``node.permissions.allows`` (each refusal a 403 ``Forbidden``), a CORS
preflight answered from the configuration, then the payload format 2.0
event (``payload_v2``) invoked through the invoke service: BUFFERED maps the
answer to a response (a function error is 502 ``Internal Server Error``, a
throttle 429), RESPONSE_STREAM streams it (``url_stream``). Every answer
carries ``x-amzn-RequestId`` (the event's ``requestContext.requestId``) and
``X-Amzn-Trace-Id``; uvicorn adds ``Date``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from typing import TYPE_CHECKING

from loam.auth import HttpRequest
from loam.control.function_urls import FunctionUrls, FunctionUrlTarget
from loam.errors import LoamError, RequestEntityTooLargeException, TooManyRequestsException
from loam.http import cors
from loam.http.front import Receive, Scope, Send
from loam.http.payload_v2 import HttpAnswer, UrlRequest, build_event, map_response
from loam.http.url_ids import PATH_PREFIX, UrlMatch, match_url
from loam.http.url_stream import StreamedResponse
from loam.invoke.lineage import incoming_trace
from loam.invoke.service import SYNC_PAYLOAD_LIMIT

if TYPE_CHECKING:
    from loam.node import Node

__all__ = ["FunctionUrlFront", "function_urls"]

log = logging.getLogger("loam.http")

_JSON = ("content-type", "application/json")
FORBIDDEN = HttpAnswer(403, [_JSON], b'{"Message":"Forbidden"}')
FUNCTION_ERROR = HttpAnswer(502, [_JSON], b"Internal Server Error")
THROTTLED = HttpAnswer(429, [_JSON], b'{"Message":"Rate Exceeded."}')


def function_urls(node: Node) -> FunctionUrls:
    """The node's ``FunctionUrls``."""
    return node.function_urls


def _too_large(message: str) -> HttpAnswer:
    return HttpAnswer(413, [_JSON], json.dumps({"Message": message}).encode())


class _Refused(Exception):
    def __init__(self, answer: HttpAnswer) -> None:
        self.answer = answer


class FunctionUrlFront:
    def __init__(self, node: Node) -> None:
        self.node = node

    def wants(self, path: str, host: bytes) -> bool:
        return b".lambda-url." in host or path.startswith(PATH_PREFIX)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0]
        matched = match_url(host, raw_path, self.node.settings.region)
        if matched is None:
            return False
        request_id = str(uuid.uuid4())
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        named = dict(headers)
        trace = named.get("x-amzn-trace-id") or _new_trace(self.node.clock.time())
        extra = [("x-amzn-requestid", request_id), ("x-amzn-trace-id", trace)]
        try:
            await self._serve(scope, receive, send, matched, headers, request_id, trace, extra)
        except _Refused as refused:
            await _answer(send, refused.answer, extra)
        return True

    async def _serve(self, scope: Scope, receive: Receive, send: Send, matched: UrlMatch,
                     headers: list[tuple[str, str]], request_id: str, trace: str,
                     extra: list[tuple[str, str]]) -> None:
        target = await self._target(matched.url_id)
        body = await _read_body(receive)
        named = dict(headers)
        method: str = scope["method"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        settings = target.settings
        account = self._authorize(scope, method, raw_query, named, body, target)
        origin = named.get("origin")
        if settings.cors is not None and cors.is_preflight(method, named):
            await _answer(send, HttpAnswer(200, cors.preflight_headers(settings.cors, origin)),
                          extra)
            return
        client = scope.get("client") or ("127.0.0.1", 0)
        request = UrlRequest(matched.url_id, matched.domain, method, matched.raw_path,
                             raw_query, headers, body, client[0],
                             f"HTTP/{scope.get('http_version', '1.1')}")
        event = build_event(request, request_id, self.node.clock.time(), account)
        payload = json.dumps(event).encode()
        if settings.invoke_mode == "RESPONSE_STREAM":
            await self._stream(send, target, payload, trace, origin, extra)
            return
        answer = await self._invoke(target, payload, trace)
        answer = HttpAnswer(answer.status,
                            cors.response_headers(settings.cors, origin, answer.headers),
                            answer.body)
        await _answer(send, answer, extra)

    async def _target(self, uid: str) -> FunctionUrlTarget:
        target = await asyncio.to_thread(function_urls(self.node).target, uid) \
            if not self._warm(uid) else function_urls(self.node).target(uid)
        if target is None:
            raise _Refused(FORBIDDEN)
        return target

    def _warm(self, uid: str) -> bool:
        """Whether ``target(uid)`` can answer from memory alone (no store read)."""
        urls = function_urls(self.node)
        named = urls.known(uid)
        if named is None:
            return False
        name, key = named
        functions = self.node.functions
        return functions.resolve_cached(name, None) is not None and (
            key == "$LATEST" or functions.resolve_cached(name, key) is not None)

    def _authorize(self, scope: Scope, method: str, raw_query: str, headers: dict[str, str],
                   body: bytes, target: FunctionUrlTarget) -> str | None:
        """The caller's account (None for AuthType NONE); a refusal is a 403.

        AuthType NONE needs a resource-policy statement allowing
        ``lambda:InvokeFunctionUrl`` to ``*`` (AWS's ``FunctionUrlAuthType``
        condition), as on AWS, where CreateFunctionUrlConfig adds none itself.
        """
        if target.settings.auth_type == "AWS_IAM":
            raw_path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            request = HttpRequest(method, raw_path.split("?")[0], raw_query, headers, body)
            try:
                self.node.auth.check(request, "lambda-url")
            except LoamError as exc:
                raise _Refused(FORBIDDEN) from exc
            # A signer of this account: its identity allows it (loam keeps no IAM
            # identity policies), as AWS allows a same-account caller.
            return self.node.settings.account_id
        if not self.node.permissions.allows(target.function, target.invoke_qualifier, "*",
                                            function_url_auth_type="NONE"):
            raise _Refused(FORBIDDEN)
        return None

    async def _invoke(self, target: FunctionUrlTarget, payload: bytes,
                      trace: str) -> HttpAnswer:
        try:
            result = await self.node.invoker.invoke(
                target.function, target.invoke_qualifier, "RequestResponse", "None", payload,
                trace=trace)
        except LoamError as exc:
            return _refusal(exc)
        if result.function_error:
            return FUNCTION_ERROR
        return map_response(result.payload)

    async def _stream(self, send: Send, target: FunctionUrlTarget, payload: bytes, trace: str,
                      origin: str | None, extra: list[tuple[str, str]]) -> None:
        token = incoming_trace.set(trace)
        try:
            stream = await self.node.invoker.invoke_with_response_stream(
                target.function, target.invoke_qualifier, "RequestResponse", "None", payload)
        except LoamError as exc:
            await _answer(send, _refusal(exc), extra)
            return
        finally:
            incoming_trace.reset(token)
        assert stream is not None  # not a DryRun

        async def start(status: int, headers: list[tuple[str, str]]) -> None:
            headers = cors.response_headers(target.settings.cors, origin, headers) + extra
            await send({"type": "http.response.start", "status": status,
                        "headers": [(k.encode("latin-1"), v.encode("latin-1"))
                                    for k, v in headers]})

        async def body(data: bytes) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": True})

        response = StreamedResponse(start, body)
        try:
            end = await stream.run(response.write)
            failed = end.error_code is not None
        except LoamError:
            log.exception("function URL stream failed")
            failed = True
        if not response.started and failed:
            await _answer(send, FUNCTION_ERROR, extra)
            return
        await response.finish()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _refusal(exc: LoamError) -> HttpAnswer:
    if isinstance(exc, TooManyRequestsException):
        return THROTTLED
    if isinstance(exc, RequestEntityTooLargeException):
        return _too_large(exc.message)
    log.warning("function URL invocation refused: %s %s", exc.code, exc.message)
    return FUNCTION_ERROR


async def _read_body(receive: Receive) -> bytes:
    """The request body; past the synchronous payload limit, a 413 (AWS's words)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > SYNC_PAYLOAD_LIMIT:
            while message.get("more_body", False):  # drained: the client may still be sending
                message = await receive()
            raise _Refused(_too_large(f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes "
                                      "for the InvokeFunction operation"))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _new_trace(epoch: float) -> str:
    return f"Root=1-{int(epoch):08x}-{secrets.token_hex(12)}"


async def _answer(send: Send, answer: HttpAnswer, extra: list[tuple[str, str]]) -> None:
    headers = [*answer.headers, *extra, ("content-length", str(len(answer.body)))]
    await send({"type": "http.response.start", "status": answer.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
    await send({"type": "http.response.body", "body": answer.body})
