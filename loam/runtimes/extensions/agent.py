"""The extensions agent: pid 2 of an environment whose layers bring
``/opt/extensions`` (mounted at /var/agent; see ADR 0006).

``agent.py CHANNEL_FD FAMILY INIT_DEADLINE_MS RUNTIME_COMMAND...`` sits between loam's framed
channel and the runtime, serves the Extensions and Telemetry APIs on
``127.0.0.1:9001`` (and, for custom runtimes, the Runtime API on the same
port), and runs AWS's phases:

- Init: start every file in ``/opt/extensions`` (sorted, as AWS) with
  ``AWS_LAMBDA_RUNTIME_API``; wait until each has registered; start the
  runtime and wait for its Init; close registration; wait until every
  registered extension waits in ``event/next``; then ``ready``. An extension
  that exits, or reports ``init/error`` / ``exit/error``, fails Init with
  AWS's ``Extension.Crash`` / ``Extension.InitError`` / ``Extension.ExitError``.
- Invoke: each ``invoke`` frame becomes an INVOKE event for its subscribers
  and goes on to the runtime; the runtime's answer goes back at once; then
  ``invoke_done`` once every INVOKE subscriber is back in ``event/next``.
- Shutdown (``shutdown`` frame, with AWS's reason and deadline): SIGTERM to
  the runtime (at most 30 % of the time left, then SIGKILL), SHUTDOWN to its
  subscribers (the others are killed), wait until they exit or the deadline
  passes, ``shutdown_done``, exit.

The runtime's and the extensions' stdout/stderr pass through pipes to the
log, line by line to the Telemetry API. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from agent_events import Extension, Registry
from agent_http import handler_class
from agent_io import Channel, OutputPump, log
from agent_telemetry import Telemetry

API = "127.0.0.1:9001"
EXTENSIONS_DIR = "/opt/extensions"
# AWS's share of the shutdown time for the runtime to exit after SIGTERM.
RUNTIME_SHARE = 0.3


class LocalChannel:
    """What a custom runtime's ``Relay`` sends to: the agent, in process."""

    def __init__(self, receive: Callable[[dict[str, Any], bytes], None]) -> None:
        self.receive = receive

    def send(self, header: dict[str, Any], body: bytes = b"") -> None:
        self.receive(header, body)


class Agent:
    def __init__(self, host: Channel, family: str, init_deadline_ms: int,
                 command: list[str]) -> None:
        self.started = time.monotonic()
        # Init must answer (an error at worst) inside loam's own Init timeout.
        self.init_budget = max(0.0, init_deadline_ms / 1000 - time.time())
        self.host = host
        self.family = family
        self.command = command
        env = os.environ
        self.env = dict(env, AWS_LAMBDA_RUNTIME_API=API)
        self.registry = Registry({"functionName": env.get("AWS_LAMBDA_FUNCTION_NAME", ""),
                                  "functionVersion": env.get("AWS_LAMBDA_FUNCTION_VERSION", ""),
                                  "handler": env.get("_HANDLER", "")})
        self.init_type = env.get("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        self.telemetry = Telemetry()
        runtime_r, self.runtime_w = os.pipe()
        extensions_r, self.extensions_w = os.pipe()
        self.runtime_out = OutputPump(runtime_r, lambda line: self._record("function", line))
        self.extensions_out = OutputPump(extensions_r,
                                         lambda line: self._record("extension", line))
        self.processes: dict[Extension, subprocess.Popen[bytes]] = {}
        self.runtime: subprocess.Popen[bytes] | None = None
        self.runtime_state = "init"  # → ready | error, under registry.cond
        self.runtime_error = b""
        self.shutting_down = False
        self.invoke: dict[str, Any] = {}
        # The runtime answered; the invoke phase ends when the INVOKE subscribers are back.
        self.awaiting_done = False
        self.done_lock = threading.Lock()
        self.registry.on_change = self._check_invoke_done
        self.relay: Any = None
        self.runtime_channel: Channel | None = None
        base = None
        if family == "provided":
            sys.path.insert(0, "/var/runtime")
            import runtime_api

            self.relay = runtime_api.Relay(LocalChannel(self.from_runtime))
            base = runtime_api.handler_class(self.relay)
        handler = handler_class(self.registry, self.telemetry, *([base] if base else []))
        self.server = ThreadingHTTPServer(("127.0.0.1", 9001), handler)
        self.server.daemon_threads = True

    def _record(self, kind: str, line: str) -> None:
        self.telemetry.emit(kind, line)

    # -- Init ----------------------------------------------------------------------

    def run(self) -> None:
        threading.Thread(target=self.server.serve_forever, name="api", daemon=True).start()
        self.telemetry.emit("platform.initStart", {
            "initializationType": self.init_type, "phase": "init",
            "functionName": self.registry.metadata["functionName"],
            "functionVersion": self.registry.metadata["functionVersion"]})
        self.init()
        self.serve()

    def init(self) -> None:
        deadline = self.started + self.init_budget
        registry = self.registry
        for path in self._extension_paths():
            self._launch(path)
        if not registry.wait_until(registry.all_registered, deadline):
            return self._init_failed("register")
        self._start_runtime()
        if not registry.wait_until(lambda: self.runtime_state != "init", deadline):
            return self._init_failed("runtime")
        if self.runtime_state == "error":
            self._log_extensions()
            self.runtime_out.drain()
            self.host.send({"type": "init_error"}, self.runtime_error)
            return None
        registry.close_registration()
        if not registry.wait_until(registry.all_ready, deadline):
            return self._init_failed("next")
        self.telemetry.close_subscriptions()
        self._log_extensions()
        init_ms = (time.monotonic() - self.started) * 1000
        self.telemetry.emit("platform.initRuntimeDone", {
            "initializationType": self.init_type, "phase": "init", "status": "success"})
        self.telemetry.emit("platform.initReport", {
            "initializationType": self.init_type, "phase": "init", "status": "success",
            "metrics": {"durationMs": round(init_ms, 3)}})
        self.runtime_out.drain()
        self.extensions_out.drain()
        self.host.send({"type": "ready", "init_ms": init_ms,
                        "telemetry": bool(self.telemetry.subscribers)})
        return None

    def _extension_paths(self) -> list[str]:
        try:
            names = sorted(os.listdir(EXTENSIONS_DIR))
        except OSError:
            return []
        return [p for p in (os.path.join(EXTENSIONS_DIR, n) for n in names)
                if not os.path.isdir(p)]

    def _launch(self, path: str) -> None:
        ext = self.registry.add_external(os.path.basename(path))
        try:
            proc = subprocess.Popen([path], env=self.env, cwd="/", stdin=subprocess.DEVNULL,
                                    stdout=self.extensions_w, stderr=self.extensions_w,
                                    start_new_session=True)
        except OSError as exc:
            self.registry.exited(ext, f"fork/exec {path}: {exc.strerror}", expected=False)
            with self.registry.cond:
                self.registry.fatal = ("Extension.LaunchError",
                                       f"Error: fork/exec {path}: {exc.strerror}")
            return
        self.processes[ext] = proc
        threading.Thread(target=self._watch, args=(ext, proc), daemon=True).start()

    def _watch(self, ext: Extension, proc: subprocess.Popen[bytes]) -> None:
        self.registry.exited(ext, _termination(proc.wait()), expected=self.shutting_down)

    def _init_failed(self, stage: str) -> None:
        fatal = self.registry.fatal
        if fatal is None:
            pending = {"register": "register", "runtime": "finish its Init",
                       "next": "call event/next"}[stage]
            names = [name for name, state, _, _ in self.registry.summary()
                     if state in ("Started", "Registered")]
            who = f"extension {', '.join(names)}" if names and stage != "runtime" else "runtime"
            fatal = ("Sandbox.Timedout",
                     f"Error: {who} did not {pending} within {self.init_budget:.2f} seconds")
        error_type, message = fatal
        self._log_extensions()
        self.extensions_out.drain()
        self.runtime_out.drain()
        log(f"{message}\n{error_type}\n".encode())
        doc = {"errorType": error_type, "errorMessage": message}
        self.host.send({"type": "init_error"}, json.dumps(doc).encode())

    def _log_extensions(self) -> None:
        for name, state, events, error_type in self.registry.summary():
            line = f"EXTENSION\tName: {name}\tState: {state}\tEvents: [{','.join(events)}]"
            if error_type:
                line += f"\tError Type: {error_type}"
            log((line + "\n").encode())
            record: dict[str, Any] = {"name": name, "state": state, "events": list(events)}
            if error_type:
                record["errorType"] = error_type
            self.telemetry.emit("platform.extension", record)

    # -- the runtime ----------------------------------------------------------------

    def _start_runtime(self) -> None:
        if self.family == "provided":
            return self._start_custom_runtime()
        parent, child = socket.socketpair()
        self.runtime = subprocess.Popen(
            [*self.command, str(child.fileno())], env=self.env, cwd="/var/task",
            stdin=subprocess.DEVNULL, stdout=self.runtime_w, stderr=self.runtime_w,
            pass_fds=(child.fileno(),))
        child.close()
        self.runtime_channel = Channel(parent)
        threading.Thread(target=self._pump_runtime, name="runtime", daemon=True).start()
        return None

    def _pump_runtime(self) -> None:
        assert self.runtime_channel is not None
        while True:
            try:
                header, body = self.runtime_channel.recv()
            except (EOFError, OSError, ValueError):
                break
            self.from_runtime(header, body)
        assert self.runtime is not None
        self._runtime_ended(self.runtime.wait())

    def _start_custom_runtime(self) -> None:
        import runtime_api

        bootstrap = runtime_api.find_bootstrap()
        if bootstrap is None:
            self.relay.init_error(json.dumps({
                "errorType": "Runtime.InvalidEntrypoint",
                "errorMessage": "Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                                "/opt/bootstrap]"}).encode())
            return
        self.runtime = subprocess.Popen([bootstrap], env=self.env, cwd=runtime_api.task_root(),
                                        stdin=subprocess.DEVNULL, stdout=self.runtime_w,
                                        stderr=self.runtime_w)

        def watch() -> None:
            assert self.runtime is not None
            code = self.runtime.wait()
            if not self.relay.initialised.is_set():
                self.relay.init_error(json.dumps({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: Error: Runtime exited with error: "
                                    f"{_termination(code)}"}).encode())
            self._runtime_ended(code)

        threading.Thread(target=watch, name="runtime", daemon=True).start()

    def _runtime_ended(self, code: int) -> None:
        """The runtime is gone: as without the agent, the environment ends with it."""
        if self.shutting_down:
            return
        with self.registry.cond:
            if self.runtime_state == "init":
                self.runtime_state = "error"
                self.runtime_error = json.dumps({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"Error: Runtime exited with error: {_termination(code)}",
                }).encode()
                self.registry.cond.notify_all()
                return
            if self.runtime_state == "error":
                return
        self.runtime_out.drain()
        self._kill_extensions()
        if code < 0:  # end the same way, so loam reports the runtime's signal
            with contextlib.suppress(OSError, ValueError):
                signal.signal(-code, signal.SIG_DFL)
            os.kill(os.getpid(), -code)
        os._exit(code)

    def from_runtime(self, header: dict[str, Any], body: bytes) -> None:
        kind = header.get("type")
        if kind in ("ready", "init_error"):
            with self.registry.cond:
                if self.runtime_state == "init":
                    self.runtime_state = "ready" if kind == "ready" else "error"
                    self.runtime_error = body
                    self.registry.cond.notify_all()
            return
        if kind == "log":
            for line in body.decode("utf-8", "replace").splitlines():
                self._record("function", line)
        elif kind in ("response", "error"):
            self.runtime_out.drain()
            self._runtime_done(kind, len(body))
            with self.done_lock:
                if self._invoke_finished():  # the usual case: no invoke_done frame needed
                    self.extensions_out.drain()
                    header = dict(header, invoke_done=True)
                else:
                    self.host.send(header, body)
                    self.awaiting_done = True
            if not header.get("invoke_done"):
                self._check_invoke_done()  # a subscriber may have come back meanwhile
                return
        self.host.send(header, body)

    # -- invocations -------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            try:
                header, body = self.host.recv()
            except (EOFError, OSError, ValueError):
                break
            kind = header.get("type")
            if kind == "invoke":
                self._invoke(header, body)
            elif kind == "report":
                self._report(header)
            elif kind == "shutdown":
                self.shutdown(header)
        self._kill_extensions()
        os._exit(0)

    def _invoke(self, header: dict[str, Any], body: bytes) -> None:
        fatal = self.registry.fatal
        if fatal is not None:
            self.host.send({"type": "fatal", "error_type": fatal[0], "message": fatal[1]})
            return
        self.invoke = {"request_id": header["request_id"], "started": time.monotonic()}
        tracing = {"type": "X-Amzn-Trace-Id", "value": header.get("trace_id") or ""}
        self.registry.begin_invoke({
            "eventType": "INVOKE", "deadlineMs": header["deadline_ms"],
            "requestId": header["request_id"],
            "invokedFunctionArn": header["invoked_function_arn"], "tracing": tracing})
        self.telemetry.emit("platform.start", {
            "requestId": header["request_id"],
            "version": self.registry.metadata["functionVersion"], "tracing": tracing})
        if self.relay is not None:
            self.relay.pending.put((header, body))
        else:
            assert self.runtime_channel is not None
            self.runtime_channel.send(header, body)

    def _runtime_done(self, kind: str, size: int) -> None:
        duration = (time.monotonic() - self.invoke.get("started", time.monotonic())) * 1000
        self.telemetry.emit("platform.runtimeDone", {
            "requestId": self.invoke.get("request_id", ""),
            "status": "success" if kind == "response" else "error",
            "metrics": {"durationMs": round(duration, 3), "producedBytes": size}})

    def _invoke_finished(self) -> bool:
        with self.registry.cond:
            return self.registry.fatal is None and self.registry.invoke_done()

    def _check_invoke_done(self) -> None:
        """After the runtime's answer: ``invoke_done`` (or ``fatal``) once, when it holds.

        Runs on whichever thread saw the change (an extension's event/next, its
        exit), so the host hears at once, with no thread in between.
        """
        with self.done_lock:
            if not self.awaiting_done:
                return
            with self.registry.cond:
                fatal = self.registry.fatal
                if fatal is None and not self.registry.invoke_done():
                    return
            self.awaiting_done = False
            self.extensions_out.drain()
            if fatal is not None:
                self.host.send({"type": "fatal", "error_type": fatal[0], "message": fatal[1]})
            else:
                self.host.send({"type": "invoke_done"})

    def _report(self, header: dict[str, Any]) -> None:
        metrics = {key: header[name] for key, name in (
            ("durationMs", "duration_ms"), ("billedDurationMs", "billed_ms"),
            ("memorySizeMB", "memory_mb"), ("maxMemoryUsedMB", "max_memory_mb"),
            ("initDurationMs", "init_ms")) if header.get(name) is not None}
        self.telemetry.emit("platform.report", {
            "requestId": header.get("request_id", ""), "status": header.get("status", "success"),
            "metrics": metrics})

    # -- Shutdown ------------------------------------------------------------------------

    def shutdown(self, header: dict[str, Any]) -> None:
        deadline_ms = int(header["deadline_ms"])
        start = time.monotonic()
        deadline = start + max(0.0, deadline_ms / 1000 - time.time())
        self.shutting_down = True
        if self.runtime is not None and self.runtime.poll() is None:
            self.runtime.terminate()
            try:
                self.runtime.wait(max(0.0, (deadline - start) * RUNTIME_SHARE))
            except subprocess.TimeoutExpired:
                self.runtime.kill()
        self.runtime_out.drain()
        self.telemetry.flush(start + (deadline - start) * 0.5)
        others = self.registry.begin_shutdown({
            "eventType": "SHUTDOWN", "shutdownReason": header.get("reason", "spindown"),
            "deadlineMs": deadline_ms})
        for ext in others:
            self._kill(ext)
        for ext, proc in self.processes.items():
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._kill(ext)
        self.extensions_out.drain()
        self.host.send({"type": "shutdown_done"})
        os._exit(0)

    def _kill(self, ext: Extension) -> None:
        proc = self.processes.get(ext)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                proc.kill()

    def _kill_extensions(self) -> None:
        self.shutting_down = True
        for ext in self.processes:
            self._kill(ext)


def _termination(code: int) -> str:
    """How AWS words a process's end: ``exit code 0``, ``exit status 1``, ``signal: killed``."""
    if code == 0:
        return "exit code 0"
    if code > 0:
        return f"exit status {code}"
    names = {9: "killed", 15: "terminated", 6: "aborted", 11: "segmentation fault"}
    return f"signal: {names.get(-code, f'signal {-code}')}"


def main() -> None:
    host = Channel(socket.socket(fileno=int(sys.argv[1])))
    Agent(host, sys.argv[2], int(sys.argv[3]), sys.argv[4:]).run()


if __name__ == "__main__":
    main()
