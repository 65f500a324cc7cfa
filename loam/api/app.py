"""The ASGI application: AWS Lambda's REST API plus loam's own endpoints.

Request pipeline, in order: match a route from the model → parse by member
location → validate against the model → call the operation → serialise.
Every failure becomes an AWS error document; internals never leak.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from botocore.model import OperationModel

from loam.api import eventstream
from loam.api.lambda_ops import OPERATIONS
from loam.api.model import RouteTable, service_model
from loam.api.rest_json import error_response, parse_request, serialize_response
from loam.api.service_calls import ServiceCalls
from loam.api.validation import validate
from loam.auth import HttpRequest
from loam.errors import LoamError, RequestEntityTooLargeException, ValidationException
from loam.http.console_front import ConsoleFront
from loam.http.execute_api import ExecuteApiFront
from loam.http.front import HttpFront
from loam.http.function_urls import FunctionUrlFront
from loam.http.metrics_front import MetricsFront
from loam.invoke.lineage import incoming_trace
from loam.node import Node
from loam.store import StoreError

__all__ = ["LambdaApp"]

log = logging.getLogger("loam.api")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

# AWS's limit on a request body: a 50 MB package, base64-encoded, in JSON.
MAX_BODY = 70_167_211


class UnknownOperation(LoamError):
    code = "UnknownOperationException"
    status = 404
    error_type = "User"


class NotImplementedOperation(LoamError):
    code = "NotImplementedException"
    status = 501
    error_type = "User"


class LambdaApp:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.model = service_model("lambda")
        self.routes = RouteTable(self.model)
        self.service_calls = ServiceCalls(node.services, node.auth.check)
        # HTTP triggers look at every request first (by Host or path prefix).
        self.fronts: list[HttpFront] = [FunctionUrlFront(node), ExecuteApiFront(node),
                                        MetricsFront(node), ConsoleFront()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        host = _host(scope)
        for front in self.fronts:
            if front.wants(path, host) and await front.handle(scope, receive, send):
                return
        try:
            status, headers, payload = await self._handle(scope, receive)
        except LoamError as exc:
            status, headers, payload = error_response(exc)
        except StoreError:
            log.exception("store failure")
            status, headers, payload = error_response(LoamError("An internal error occurred."))
        except Exception:  # the boundary: log it, never leak it
            log.exception("unhandled error")
            status, headers, payload = error_response(LoamError("An internal error occurred."))
        if "x-amzn-RequestId" not in headers:  # Invoke's is its invocation's
            headers["x-amzn-RequestId"] = str(uuid.uuid4())
        if isinstance(payload, bytes):
            await _respond(send, status, headers, payload)
        else:
            await _respond_events(send, status, headers, payload)

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, str], bytes | eventstream.EventSource]:
        path: str = scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?")[0]
        raw_query: bytes = scope.get("query_string", b"")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query else {}
        method: str = scope["method"]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming_trace.set(headers.get("x-amzn-trace-id"))
        target = headers.get("x-amz-target")
        raw_query_text = raw_query.decode("latin-1")
        if target is not None and self.service_calls.owns_target(target):
            body = await _read_body(receive, target)
            return await self.service_calls.json_call(
                target, HttpRequest(method, path, raw_query_text, headers, body))
        if path.startswith("/_loam/"):
            await _read_body(receive, "loam")
            return self._loam_endpoint(method, path, query)
        flat = {k: v[0] for k, v in query.items()}
        matched = self.routes.match(method, path, flat)
        body = await _read_body(receive, matched[0].name if matched else "unknown")
        request = HttpRequest(method, path, raw_query_text, headers, body)
        if matched is None:
            answer = await self.service_calls.rest_call(request, query)
            if answer is not None:
                return answer
            form = _query_form(flat, headers, body)
            if "Action" in form:
                return await self.service_calls.query_call(form, request)
            raise UnknownOperation(f"No operation matches {method} {path}")
        op, path_params = matched
        self.node.auth.check(request, "lambda")
        handler = OPERATIONS.get(op.name)
        if handler is None:
            raise NotImplementedOperation(f"loam does not implement {op.name} yet.")
        params = parse_request(op, path_params, query, headers, body)
        if op.input_shape is not None:
            violations = validate(op.input_shape, params)
            if violations:
                raise ValidationException.from_violations(violations)
        output = await handler(self.node, params)
        meta = output.pop("ResponseMetadata", None) or {}
        events = _pop_event_stream(op, output)
        status, headers, payload = serialize_response(op, output)
        if meta.get("RequestId"):
            headers["x-amzn-RequestId"] = meta["RequestId"]
        if events is not None:
            headers["Content-Type"] = eventstream.CONTENT_TYPE
            return status, headers, events
        return status, headers, payload

    def _loam_endpoint(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, dict[str, str], bytes]:
        if path == "/_loam/health" and method == "GET":
            stats = self.node.pool.statistics()
            queue = self.node.queue.statistics()
            doc = {"status": "ok", "environments": {"idle": stats.idle, "busy": stats.busy},
                   "async": {"accepted": queue.accepted, "processed": queue.processed,
                             "retried": queue.retried, "dropped": queue.dropped},
                   "event_sources": dataclasses.asdict(self.node.sqs_source.statistics()),
                   "recursive_loops_stopped": self.node.invoker.recursions_stopped,
                   "dev_mode": self.node.auth.dev_mode}
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        if path == "/_loam/runtimes" and method == "GET":  # what this node's registry runs
            doc = {"runtimes": list(self.node.runtimes.identifiers())}
            return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()
        if path.startswith("/_loam/code/") and method == "GET":
            digest = path.removeprefix("/_loam/code/")
            expires = query.get("Expires", [""])[0]
            signature = query.get("Signature", [""])[0]
            signed = self.node.check_code_url(digest, expires, signature)
            if signed and self.node.blobs.exists(digest):
                return 200, {"Content-Type": "application/zip"}, self.node.blobs.get(digest)
            denied = b"AccessDenied: the URL is invalid or expired"
            return 403, {"Content-Type": "text/plain"}, denied
        raise UnknownOperation(f"No operation matches {method} {path}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.node.start()
                except Exception as exc:  # report start-up failure to the server
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                # What start-up built (the API models, the node) lives as long as the
                # server: out of the collector's full passes, which would otherwise walk
                # all of it each time (~40 ms a pass, so a latency spike, under load).
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.node.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _host(scope: Scope) -> bytes:
    """The request's Host header, lowercased (``b""`` without one)."""
    for name, value in scope["headers"]:
        if name == b"host":
            return bytes(value).lower()
    return b""


async def _read_body(receive: Receive, operation: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise RequestEntityTooLargeException(
                f"Request must be smaller than {MAX_BODY} bytes for the {operation} operation"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _query_form(query: dict[str, str], headers: dict[str, str], body: bytes) -> dict[str, str]:
    """An awsQuery request's parameters: the query string, plus a form-encoded body."""
    form = dict(query)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        text = body.decode("utf-8", errors="replace")
        form.update({k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()})
    return form


def _pop_event_stream(op: OperationModel, output: dict[str, Any]) -> eventstream.EventSource | None:
    """An output's event stream (its payload member), taken out of ``output``."""
    if not op.has_event_stream_output or op.output_shape is None:
        return None
    source: eventstream.EventSource | None = output.pop(
        op.output_shape.serialization["payload"], None)
    return source


async def _respond_events(send: Send, status: int, headers: dict[str, str],
                          events: eventstream.EventSource) -> None:
    """Headers at once, then each event-stream message as it is written (chunked)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})

    async def write(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    try:
        await events(write)
    except Exception:  # the boundary, with the status already sent: log it, end the body
        log.exception("unhandled error")
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _respond(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if status in (204, 304):
        body = b""
    else:
        raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
