"""The host side of Lambda extensions (ADR 0006).

An environment whose merged ``/opt`` has entries in ``/opt/extensions``
runs the extensions agent (``runtimes/extensions/agent.py``, mounted at
``/var/agent``) as its pid 2, in front of the runtime; every other
environment is started exactly as before. The agent speaks loam's frames
with three additions:

- after the runtime's ``response``/``error`` frame, ``invoke_done`` once
  every extension subscribed to INVOKE is back in ``event/next`` (AWS's
  invoke phase ends there: the environment is not ready before), or
  ``fatal`` with AWS's ``Extension.*`` error type; when they already are,
  the answer itself carries ``"invoke_done": true`` instead;
- ``report`` (loam → agent) after each invocation, for the Telemetry API's
  ``platform.report``, when ``ready`` said ``"telemetry": true`` (someone
  subscribed during Init);
- ``shutdown`` (loam → agent) with AWS's reason and deadline when the
  environment is destroyed, answered by ``shutdown_done``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loam.sandbox.channel import FrameChannel

__all__ = [
    "AGENT_DIR",
    "AGENT_MOUNT",
    "SHUTDOWN_BUDGET_S",
    "agent_command",
    "end_invoke_phase",
    "fatal",
    "has_extensions",
    "send_report",
    "shut_down",
    "shutdown_reason",
]

AGENT_DIR = Path(__file__).resolve().parent.parent / "runtimes" / "extensions"
AGENT_MOUNT = "/var/agent"
# AWS's Shutdown phase with external extensions registered: 2,000 ms in all.
SHUTDOWN_BUDGET_S = 2.0
# Past the deadline, how long loam still listens before it kills the environment.
_GRACE_S = 0.3
# How long before loam's Init timeout the agent gives up waiting and reports why.
_INIT_MARGIN_S = 0.7
# Destroy reasons (pool, invoke service, templates) → AWS's shutdownReason.
_FAILURES = {"timeout": "timeout", "crash": "failure", "init-error": "failure",
             "init-failed": "failure", "protocol": "failure", "template-died": "failure",
             "fork-failed": "failure"}


def has_extensions(opt_dir: Path | None) -> bool:
    """Whether the function's merged ``/opt`` holds at least one external extension."""
    if opt_dir is None:
        return False
    try:
        return any(not entry.is_dir() for entry in (opt_dir / "extensions").iterdir())
    except OSError:
        return False


def agent_command(python: str, channel_fd: int, family: str, runtime: list[str],
                  init_timeout_s: float) -> list[str]:
    """The agent's argv; ``runtime`` is the runtime's argv without its channel fd.

    The agent answers Init (an error at worst) before loam's own Init timeout ends.
    """
    deadline_ms = int((time.time() + init_timeout_s - _INIT_MARGIN_S) * 1000)
    return [python, "-S", "-E", f"{AGENT_MOUNT}/agent.py", str(channel_fd), family,
            str(deadline_ms), *runtime]


def shutdown_reason(destroy_reason: str) -> str:
    return _FAILURES.get(destroy_reason, "spindown")


def fatal(frame: dict[str, Any]) -> tuple[str, str, str]:
    """A ``fatal`` frame as an outcome: ``crash``, AWS's error type, the cause AWS words."""
    message = str(frame.get("message") or "")
    return "crash", str(frame.get("error_type") or "Extension.Crash"), \
        message.removeprefix("Error: ")


async def end_invoke_phase(channel: FrameChannel, append_log: Callable[[str], None],
                           deadline: float) -> tuple[str, str, str] | None:
    """Wait (until monotonic ``deadline``) for the extensions to finish the invocation.

    Returns None when they did, or ``fatal(frame)`` for a fatal extension
    error; raises ``TimeoutError`` past the deadline and
    ``EOFError`` if the environment ended.
    """
    while True:
        frame, body = await asyncio.wait_for(channel.receive(),
                                             max(0.0, deadline - time.monotonic()))
        kind = frame.get("type")
        if kind == "invoke_done":
            return None
        if kind == "fatal":
            return fatal(frame)
        if kind == "log":
            append_log(body.decode("utf-8", "replace"))


async def send_report(channel: FrameChannel, request_id: str, outcome: Any,
                      memory_mb: int) -> None:
    """``platform.report``'s numbers, for the agent's Telemetry API subscribers."""
    with contextlib.suppress(OSError, EOFError):
        await channel.send({
            "type": "report", "request_id": request_id,
            "status": "success" if outcome.status in ("success", "error") else outcome.status,
            "duration_ms": round(outcome.duration_ms, 3),
            "billed_ms": max(1, math.ceil(outcome.duration_ms)),
            "memory_mb": memory_mb, "max_memory_mb": outcome.max_memory_mb,
            "init_ms": None if outcome.init_ms is None else round(outcome.init_ms, 3)})


async def shut_down(channel: FrameChannel, destroy_reason: str,
                    append_log: Callable[[str], None]) -> None:
    """AWS's Shutdown phase: at most ``SHUTDOWN_BUDGET_S``, then the caller kills everything."""
    deadline_ms = int(time.time() * 1000 + SHUTDOWN_BUDGET_S * 1000)
    give_up = time.monotonic() + SHUTDOWN_BUDGET_S + _GRACE_S
    with contextlib.suppress(OSError, EOFError, TimeoutError, RuntimeError):
        await channel.send({"type": "shutdown", "reason": shutdown_reason(destroy_reason),
                            "deadline_ms": deadline_ms})
        while True:
            frame, body = await asyncio.wait_for(channel.receive(),
                                                 max(0.0, give_up - time.monotonic()))
            if frame.get("type") == "shutdown_done":
                return
            if frame.get("type") == "log":
                append_log(body.decode("utf-8", "replace"))
