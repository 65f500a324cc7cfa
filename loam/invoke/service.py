"""Invoke: resolve the function, admit the call, run it in an environment,
and shape the result exactly as AWS's Invoke returns it.

Invariants:
- a function is invoked only when Active;
- each invocation runs alone in one environment; an environment that timed
  out, crashed or ran out of memory is destroyed, never reused;
- the platform lines (START / END / REPORT) frame every invocation's log;
- Event invocations, and the tear-down of environments that failed, run as
  tasks owned by this service and are awaited at ``close`` (the durable
  async queue replaces the Event path later).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
from dataclasses import dataclass

from loam.clock import Clock
from loam.control.code import CodeCache
from loam.control.functions import FunctionService
from loam.control.models import FunctionState
from loam.control.names import parse_function_name
from loam.errors import (
    LoamError,
    RecursiveInvocationException,
    RequestEntityTooLargeException,
    ResourceConflictException,
    ResourceNotFoundException,
    TooManyRequestsException,
)
from loam.invoke.admission import Admission
from loam.invoke.async_queue import AsyncQueue, Attempt, Outcome
from loam.invoke.lineage import MAX_DEPTH, continue_trace, incoming_trace
from loam.invoke.observer import InvocationObserver, NullObserver
from loam.runtimes.registry import RuntimeRegistry
from loam.sandbox.environment import (
    ChunkSink,
    EnvironmentFailed,
    EnvironmentSpec,
    ExecutionEnvironment,
    InvocationOutcome,
    InvocationRequest,
    LogSpill,
)
from loam.sandbox.pool import EnvironmentPool
from loam.store import AsyncEventRecord
from loam.telemetry.buffered import MAX_WAIT_S
from loam.telemetry.logs import LogSink
from loam.telemetry.report import (
    InvocationReport,
    end_line,
    platform_runtime_done,
    platform_start,
    start_line,
    timestamp_prefix,
)

__all__ = ["InvokeResult", "InvokeService", "ResponseStream", "StreamEnd"]

log = logging.getLogger("loam.invoke")

SYNC_PAYLOAD_LIMIT = 6_291_456
# AWS accepts a response of up to 6 MB + 100 bytes, and says so in its error.
RESPONSE_PAYLOAD_LIMIT = 6_291_556
ASYNC_PAYLOAD_LIMIT = 262_144
# AWS's (soft) limit on a streamed response.
STREAM_RESPONSE_LIMIT = 20 * 1024 * 1024
TAIL_BYTES = 4096
SPEC_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class InvokeResult:
    status_code: int
    payload: bytes = b""
    function_error: str | None = None
    log_result: str | None = None
    executed_version: str | None = None
    # The invocation's request id (context.aws_request_id); AWS returns it as
    # the response's x-amzn-RequestId. None for DryRun.
    request_id: str | None = None


@dataclass(frozen=True)
class StreamEnd:
    """How a streamed invocation ended: the members of AWS's ``InvokeComplete``."""

    error_code: str | None = None
    error_details: str | None = None
    log_result: str | None = None


class ResponseStream:
    """One accepted InvokeWithResponseStream call: resolved, admitted, ready to run.

    It holds its admission slot from acceptance until ``run`` returns; the
    caller runs it exactly once.
    """

    def __init__(self, service: InvokeService, fn: FunctionState, spec: EnvironmentSpec,
                 request: InvocationRequest, tail: bool, admitted: contextlib.ExitStack) -> None:
        self._service = service
        self._fn = fn
        self._spec = spec
        self._request = request
        self._tail = tail
        self._admitted = admitted
        self.request_id = request.request_id
        self.executed_version = fn.version

    async def run(self, emit: ChunkSink) -> StreamEnd:
        """Invoke; each piece of the response goes to ``emit`` as the function produces it."""
        with self._admitted:
            return await self._service._run_streaming(
                self._fn, self._spec, self._request, emit, self._tail)


class InvokeService:
    def __init__(
        self,
        functions: FunctionService,
        pool: EnvironmentPool,
        code: CodeCache,
        runtimes: RuntimeRegistry,
        logs: LogSink,
        clock: Clock,
        region: str,
        admission: Admission,
        observer: InvocationObserver | None = None,
    ) -> None:
        self.functions = functions
        self.observer: InvocationObserver = observer or NullObserver()
        self.pool = pool
        self.code = code
        self.runtimes = runtimes
        self.logs = logs
        self.clock = clock
        self.region = region
        self.admission = admission
        self._rng = random.Random()
        # (name, version) → the FunctionState a spec was built from, and the spec.
        self._specs: dict[tuple[str, str], tuple[FunctionState, EnvironmentSpec]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # Event invocations go through the durable queue (the node sets it up).
        self.queue: AsyncQueue | None = None
        self.recursions_stopped = 0

    async def invoke(
        self,
        function_name: str,
        qualifier: str | None,
        invocation_type: str,
        log_type: str,
        payload: bytes,
        client_context: str | None = None,
        trace: str | None = None,
    ) -> InvokeResult:
        """``trace``: the X-Amzn-Trace-Id the invocation continues (by default, that of
        the API request being served)."""
        try:
            return await self._invoke(function_name, qualifier, invocation_type, log_type,
                                      payload, client_context, trace)
        except TooManyRequestsException:
            self.observer.throttled(function_name, qualifier)
            raise

    async def _invoke(
        self, function_name: str, qualifier: str | None, invocation_type: str, log_type: str,
        payload: bytes, client_context: str | None, trace: str | None,
    ) -> InvokeResult:
        fn, call = await self._accept(function_name, qualifier, payload, trace)
        if invocation_type == "DryRun":
            return InvokeResult(204)
        if invocation_type == "Event":
            if len(payload) > ASYNC_PAYLOAD_LIMIT:
                raise RequestEntityTooLargeException(
                    f"{len(payload)} byte payload is too large for the Event invocation type "
                    f"(limit {ASYNC_PAYLOAD_LIMIT} bytes)"
                )
            if self.queue is None:
                raise LoamError("the async queue is not running")
            document: dict[str, object] = {
                "function_name": function_name, "qualifier": qualifier,
                "client_context": client_context, "invoked_arn": call.invoked_arn,
                "trace": call.trace,
            }
            if call.recursion_stopped:  # accepted, then not run (DLQ / on-failure)
                document["recursion_stopped"] = True
            await self.queue.submit(call.request_id, fn.name, payload, document)
            self.observer.event_accepted(function_name, qualifier)
            return InvokeResult(202, request_id=call.request_id)
        _refuse_recursion(call)
        return await self._run(fn, call, payload, log_type == "Tail", client_context)

    async def invoke_with_response_stream(
        self,
        function_name: str,
        qualifier: str | None,
        invocation_type: str,
        log_type: str,
        payload: bytes,
        client_context: str | None = None,
    ) -> ResponseStream | None:
        """Accept a streamed invocation (None for DryRun); every refusal is raised here,
        before a byte of the response is sent."""
        fn, call = await self._accept(function_name, qualifier, payload, None)
        if invocation_type == "DryRun":
            return None
        _refuse_recursion(call)
        admitted = contextlib.ExitStack()
        try:
            admitted.enter_context(self.admission.admit(fn.name, fn.version))
        except TooManyRequestsException:
            self.observer.throttled(function_name, qualifier)
            raise
        try:
            spec = await self._cached_spec(fn)
        except BaseException:
            admitted.close()
            raise
        request = call.request(payload, client_context)
        return ResponseStream(self, fn, spec, request, log_type == "Tail", admitted)

    async def _accept(self, function_name: str, qualifier: str | None,
                      payload: bytes, trace: str | None) -> tuple[FunctionState, _Call]:
        """What every Invoke checks before it runs anything: the function exists and is
        Active, and the payload fits the synchronous limit; and where the invocation
        stands in its chain of requests (recursive loop detection)."""
        fn = await self._resolve(function_name, qualifier)
        self._check_invocable(fn)
        # The ARN as the caller named it: a qualifier (version or alias) stays on it.
        ref = parse_function_name(function_name, qualifier)
        chain = continue_trace(incoming_trace.get() if trace is None else trace,
                               self.functions.arns.function(fn.name), self._rng)
        stopped = chain.depth > MAX_DEPTH and await self._terminates_loops(fn)
        if stopped:
            self.recursions_stopped += 1
            log.warning("recursive loop detected: %s invoked %d times in one chain of "
                        "requests (Root=%s); the invocation is stopped (RecursiveLoop "
                        "Terminate)", fn.name, chain.depth, chain.root)
        call = _Call(_request_id(self._rng), self.functions.arns.function(fn.name, ref.qualifier),
                     chain.header, stopped)
        if len(payload) > SYNC_PAYLOAD_LIMIT:
            raise RequestEntityTooLargeException(
                f"Request must be smaller than {SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction "
                "operation"
            )
        return fn, call

    async def _resolve(self, function_name: str, qualifier: str | None) -> FunctionState:
        """From the function cache when it can (no thread, no store), else from the store."""
        fn = self.functions.resolve_cached(function_name, qualifier, self._rng)
        if fn is None:
            fn = await asyncio.to_thread(
                self.functions.resolve_for_invoke, function_name, qualifier, self._rng
            )
        return fn

    async def _terminates_loops(self, fn: FunctionState) -> bool:
        """The function's RecursiveLoop setting (kept on $LATEST) is Terminate."""
        latest = fn if fn.version == "$LATEST" else await self._resolve(fn.name, None)
        return latest.recursive_loop == "Terminate"

    def _check_invocable(self, fn: FunctionState) -> None:
        if fn.state != "Active":
            raise ResourceConflictException(
                "The operation cannot be performed at this time. The function is currently in "
                f"the following state: {fn.state}"
            )

    async def run_event(self, record: AsyncEventRecord) -> Attempt:
        """One attempt at a queued Event invocation (the queue's runner)."""
        self.observer.event_started(record)
        doc = json.loads(record.document)
        if doc.get("recursion_stopped"):
            return Attempt(Outcome.RECURSION_STOPPED)
        try:
            fn = await self._resolve(doc["function_name"], doc.get("qualifier"))
            if fn.state != "Active":
                return Attempt(Outcome.SYSTEM_ERROR)
            call = _Call(record.id, doc["invoked_arn"], doc.get("trace") or "")
            result = await self._run(fn, call, record.payload, tail=False,
                                     client_context=doc.get("client_context"))
        except TooManyRequestsException:
            return Attempt(Outcome.THROTTLED)
        except ResourceNotFoundException:
            return Attempt(Outcome.GONE)
        except LoamError:
            return Attempt(Outcome.SYSTEM_ERROR)
        outcome = Outcome.FUNCTION_ERROR if result.function_error else Outcome.SUCCESS
        return Attempt(outcome, result.payload, result.executed_version, result.function_error)

    async def _run(
        self, fn: FunctionState, call: _Call, payload: bytes, tail: bool,
        client_context: str | None,
    ) -> InvokeResult:
        with self.admission.admit(fn.name, fn.version):
            spec = await self._cached_spec(fn)
            request = call.request(payload, client_context)
            text, outcome_payload, error = await self._execute(fn, spec, request)
        return InvokeResult(
            status_code=200,
            payload=outcome_payload,
            function_error="Unhandled" if error else None,
            log_result=_tail(text) if tail else None,
            executed_version=fn.version,
            request_id=call.request_id,
        )

    async def spec_for(self, fn: FunctionState) -> EnvironmentSpec:
        """The environment spec of ``fn`` (as invocations build it): for provisioning."""
        return await self._cached_spec(fn)

    async def _cached_spec(self, fn: FunctionState) -> EnvironmentSpec:
        """``_spec(fn)``, built once per resolved FunctionState.

        The function cache hands out the same object until the function
        changes, so identity is the test; a changed function is a new object.
        """
        key = (fn.name, fn.version)
        cached = self._specs.get(key)
        if cached is not None and cached[0] is fn:
            return cached[1]
        spec = await self._spec(fn)
        if len(self._specs) >= SPEC_CACHE_LIMIT:
            self._specs.clear()
        self._specs[key] = (fn, spec)
        return spec

    async def _spec(self, fn: FunctionState) -> EnvironmentSpec:
        code_dir = await asyncio.to_thread(self.code.ensure, fn.code_digest)
        runtime = await asyncio.to_thread(self.runtimes.resolve, fn.runtime)
        layer_digests = tuple(digest for _, digest, _, _ in fn.layers)
        opt_dir = await asyncio.to_thread(self.code.ensure_layers, layer_digests)
        return EnvironmentSpec(
            function_name=fn.name,
            version=fn.version,
            memory_mb=fn.memory_size,
            timeout_s=fn.timeout,
            ephemeral_mb=fn.ephemeral_storage,
            code_dir=code_dir,
            runtime=runtime,
            handler=fn.handler,
            environment=dict(fn.environment),
            log_group=fn.effective_log_group,
            region=self.region,
            architecture=fn.architectures[0],
            key=f"{fn.name}:{fn.version}:{fn.code_digest}:{_config_key(fn)}:{layer_digests}",
            opt_dir=opt_dir,
            snap_start=fn.restores_from_snapshot,
            log_format=fn.log_format,
            application_log_level=fn.application_log_level,
        )

    async def _execute(
        self, fn: FunctionState, spec: EnvironmentSpec, request: InvocationRequest
    ) -> tuple[str, bytes, bool]:
        rid = request.request_id
        lines = self._start_lines(fn, rid)
        stream = ""
        with self._observed(fn, request) as observed:
            try:
                async with self.pool.environment(spec) as env:
                    stream = env.log_stream
                    spill = _Spill(self.logs, fn.effective_log_group, stream, lines)
                    outcome = await self._invoke_in(env, request, on_log=spill)
                    body, error, status_line = self._shape(env, fn, request, outcome)
                    lines += outcome.logs + status_line
            except EnvironmentFailed as exc:
                log.error("environment for %s failed to start: %s", fn.name, exc)
                message = f"RequestId: {rid} Error: Runtime exited with error: {exc}"
                body = json.dumps({"errorType": "Runtime.ExitError",
                                   "errorMessage": message}).encode()
                error = True
                outcome = InvocationOutcome("crash", body, "Runtime.ExitError", 0.0, 0)
                lines.append(message + "\nRuntime.ExitError\n")
            lines += self._end_lines(fn, rid, outcome)
            observed.report(outcome)
            text = _joined(lines)
            await self.logs.put(fn.effective_log_group, stream, text, MAX_WAIT_S)
            return text, body, error

    async def _invoke_in(
        self, env: ExecutionEnvironment, request: InvocationRequest,
        on_chunk: ChunkSink | None = None, on_log: LogSpill | None = None,
    ) -> InvocationOutcome:
        if env.init_error is not None:
            # Init failed: AWS reports the init error for this invocation and
            # starts over in a fresh environment next time.
            outcome = InvocationOutcome("error", env.init_error, None, 0.0,
                                        0, logs=[], init_ms=None)
            outcome.logs, outcome.init_ms = env.take_init_logs()
            outcome.max_memory_mb = env.max_memory_mb()
            self._discard(env, "init-error")
            return outcome
        outcome = await env.invoke(request, on_chunk, on_log)
        if outcome.status in ("timeout", "crash"):
            self._discard(env, outcome.status)
        return outcome

    def _discard(self, env: ExecutionEnvironment, reason: str) -> None:
        """Never reuse ``env``; tear it down without making the caller wait for it."""
        task = env.begin_destroy(reason)
        if task is not None:
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _shape(
        self, env: ExecutionEnvironment, fn: FunctionState, request: InvocationRequest,
        outcome: InvocationOutcome,
    ) -> tuple[bytes, bool, list[str]]:
        rid = request.request_id
        if outcome.status == "success":
            size = max(outcome.response_bytes, len(outcome.payload))
            if size > RESPONSE_PAYLOAD_LIMIT:
                message = (f"Response payload size ({size} bytes) exceeded maximum "
                           f"allowed payload size ({RESPONSE_PAYLOAD_LIMIT} bytes).")
                doc = {"errorMessage": message, "errorType": "Function.ResponseSizeTooLarge"}
                return json.dumps(doc).encode(), True, []
            return outcome.payload, False, []
        if outcome.status == "error":
            return outcome.payload, True, []
        if outcome.status == "timeout":
            message = f"Task timed out after {fn.timeout:.2f} seconds"
            line = f"{timestamp_prefix(self.clock.time())} {rid} {message}\n"
            doc = {"errorType": "Sandbox.Timedout",
                   "errorMessage": f"RequestId: {rid} Error: {message}"}
            return json.dumps(doc).encode(), True, [line]
        error_type = outcome.error_type or "Runtime.ExitError"
        cause = outcome.error_cause or f"Runtime exited with error: {env.exit_description()}"
        message = f"RequestId: {rid} Error: {cause}"
        doc = {"errorType": error_type, "errorMessage": message}
        return json.dumps(doc).encode(), True, [f"{message}\n{error_type}\n"]

    def _start_lines(self, fn: FunctionState, rid: str) -> list[str]:
        if fn.log_format != "JSON":
            return [start_line(rid, fn.version)]
        if fn.system_log_level == "WARN":  # platform records are INFO
            return []
        return [platform_start(rid, fn.version, self.clock.time())]

    def _end_lines(self, fn: FunctionState, rid: str, outcome: InvocationOutcome) -> list[str]:
        """END and REPORT, or in the JSON log format AWS's ``platform.runtimeDone`` and
        ``platform.report`` records (left out when SystemLogLevel is WARN)."""
        report = self._report(fn, rid, outcome)
        if fn.log_format != "JSON":
            return [end_line(rid), report.line()]
        if fn.system_log_level == "WARN":
            return []
        now = self.clock.time()
        status = {"success": "success", "timeout": "timeout"}.get(outcome.status, "error")
        return [platform_runtime_done(rid, status, outcome.duration_ms, outcome.response_bytes,
                                      now), report.json_line(now)]

    def _report(self, fn: FunctionState, rid: str, outcome: InvocationOutcome) -> InvocationReport:
        status = {"timeout": "timeout", "crash": "error"}.get(outcome.status)
        return InvocationReport(
            request_id=rid,
            duration_ms=outcome.duration_ms,
            memory_size_mb=fn.memory_size,
            max_memory_used_mb=outcome.max_memory_mb,
            init_duration_ms=outcome.init_ms,
            restore_duration_ms=outcome.restore_ms,
            status=status,
            error_type=outcome.error_type if status == "error" else None,
            max_billed_ms=fn.timeout * 1000,
        )

    async def _run_streaming(
        self, fn: FunctionState, spec: EnvironmentSpec, request: InvocationRequest,
        emit: ChunkSink, tail: bool,
    ) -> StreamEnd:
        """As ``_execute``, with the response streamed to ``emit`` and errors as StreamEnd.

        A function that does not stream answers with its whole (buffered)
        response: that is sent as one piece, after the log is written.
        """
        rid = request.request_id
        lines = self._start_lines(fn, rid)
        stream = ""
        sink = _LimitedSink(emit, STREAM_RESPONSE_LIMIT)
        whole = b""
        with self._observed(fn, request) as observed:
            try:
                async with self.pool.environment(spec) as env:
                    stream = env.log_stream
                    spill = _Spill(self.logs, fn.effective_log_group, stream, lines)
                    try:
                        outcome = await self._invoke_in(env, request, sink.write, spill)
                    except BaseException:  # the client or the server went away mid-invocation
                        self._discard(env, "interrupted")
                        raise
                    if outcome.status == "success" and sink.received:
                        end = sink.end()
                        status_line: list[str] = []
                    else:
                        body, error, status_line = self._shape(env, fn, request, outcome)
                        end = _stream_error(body) if error else StreamEnd()
                        whole = b"" if error else body
                    lines += outcome.logs + status_line
            except EnvironmentFailed as exc:
                log.error("environment for %s failed to start: %s", fn.name, exc)
                message = f"RequestId: {rid} Error: Runtime exited with error: {exc}"
                end = StreamEnd("Runtime.ExitError", message)
                outcome = InvocationOutcome("crash", b"", "Runtime.ExitError", 0.0, 0)
                lines.append(message + "\nRuntime.ExitError\n")
            lines += self._end_lines(fn, rid, outcome)
            observed.report(outcome)
            text = _joined(lines)
            await self.logs.put(fn.effective_log_group, stream, text, MAX_WAIT_S)
            if whole:
                await emit(whole)
            return StreamEnd(end.error_code, end.error_details, _tail(text) if tail else None)

    def _observed(self, fn: FunctionState, request: InvocationRequest) -> _Observed:
        """The observer hears of the invocation beginning and, once, of its end (with
        no outcome if it was interrupted): ``with`` it."""
        return _Observed(self.observer, fn, request)

    async def close(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


@dataclass(frozen=True)
class _Call:
    """Who is being called and how: fixed when the Invoke request is accepted."""

    request_id: str
    invoked_arn: str
    trace: str = ""  # the X-Amzn-Trace-Id the function sees
    recursion_stopped: bool = False

    def request(self, payload: bytes, client_context: str | None) -> InvocationRequest:
        return InvocationRequest(
            request_id=self.request_id,
            payload=payload,
            invoked_function_arn=self.invoked_arn,
            client_context=_decode_client_context(client_context),
            trace_id=self.trace,
        )


def _request_id(rng: random.Random) -> str:
    """A version-4 UUID, as AWS's request ids are, without a syscall per invocation
    (request ids name invocations; they are not secrets)."""
    bits = rng.getrandbits(128)
    bits = (bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48)
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class _Observed:
    def __init__(self, observer: InvocationObserver, fn: FunctionState,
                 request: InvocationRequest) -> None:
        self._observer = observer
        self._fn = fn
        self._request = request
        self._began = observer.began(fn, request)
        self._reported = False

    def report(self, outcome: InvocationOutcome | None) -> None:
        if not self._reported:
            self._reported = True
            self._observer.finished(self._fn, self._request, outcome, self._began)

    def __enter__(self) -> _Observed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.report(None)


def _joined(lines: list[str]) -> str:
    """Log lines as one text, each ending in a newline."""
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _refuse_recursion(call: _Call) -> None:
    if call.recursion_stopped:
        raise RecursiveInvocationException(
            "Lambda has detected your function being invoked in a recursive loop with other "
            "AWS resources and stopped your function's invocation.")


class _LimitedSink:
    """Passes a streamed response on until it exceeds ``limit`` bytes, then drops the rest."""

    def __init__(self, emit: ChunkSink, limit: int) -> None:
        self._emit = emit
        self._limit = limit
        self.received = 0

    async def write(self, data: bytes) -> None:
        self.received += len(data)
        if self.received <= self._limit:
            await self._emit(data)

    def end(self) -> StreamEnd:
        if self.received <= self._limit:
            return StreamEnd()
        return StreamEnd("Function.ResponseSizeTooLarge",
                         "Response payload size exceeded maximum allowed payload size "
                         f"({self._limit} bytes).")


def _stream_error(body: bytes) -> StreamEnd:
    """An error document (the function's, or the platform's) as InvokeComplete reports it."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return StreamEnd("Unhandled", body.decode("utf-8", "replace"))
    error_type = doc.get("errorType")
    message = doc.get("errorMessage")
    return StreamEnd(error_type if isinstance(error_type, str) and error_type else "Unhandled",
                     message if isinstance(message, str) else json.dumps(message))


def _config_key(fn: FunctionState) -> str:
    return str(hash((fn.runtime, fn.handler, fn.memory_size, fn.timeout, fn.ephemeral_storage,
                     tuple(sorted(fn.environment.items())), fn.log_group, fn.log_format,
                     fn.application_log_level)))


def _tail(text: str) -> str:
    data = text.encode()[-TAIL_BYTES:]
    return base64.b64encode(data).decode()


def _decode_client_context(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return None



class _Spill:
    """Where an invocation's output goes once it outgrows the environment's buffer:
    to the log sink as it is read, after the lines that open the invocation's log
    (``head``, taken from the caller's list so they are not written twice)."""

    def __init__(self, sink: LogSink, group: str, stream: str, head: list[str]) -> None:
        self.sink = sink
        self.group = group
        self.stream = stream
        self.head = head

    async def __call__(self, text: str) -> None:
        if self.head:
            text = _joined(self.head) + text
            self.head.clear()
        await self.sink.put(self.group, self.stream, text)
