"""Shared helpers for the sandbox integration tests: unique functions, invoking
with the Tail log, and parsing the platform lines AWS writes.

Every function these tests create gets a unique name, so the test modules can
share the session ``server`` and run in any order.
"""

from __future__ import annotations

import base64
import json
import math
import re
import textwrap
import uuid
from dataclasses import dataclass
from typing import Any

from tests.helpers import create_function

REPORT_RE = re.compile(
    r"^REPORT RequestId: (?P<request_id>[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})"
    r"\tDuration: (?P<duration>\d+\.\d{2}) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms"
    r"\tMemory Size: (?P<memory_size>\d+) MB"
    r"\tMax Memory Used: (?P<max_memory>\d+) MB"
    r"(?:\tInit Duration: (?P<init>\d+\.\d{2}) ms)?"
    r"(?:\tRestore Duration: (?P<restore>\d+\.\d{2}) ms)?"
    r"(?:\tStatus: (?P<status>\w+))?"
    r"(?:\tError Type: (?P<error_type>[\w.]+))?"
    r"\t?$",
    re.MULTILINE,
)
LOG_STREAM_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


@dataclass(frozen=True)
class Report:
    request_id: str
    duration_ms: float
    billed_ms: int
    memory_size_mb: int
    max_memory_mb: int
    init_ms: float | None
    # A new environment forked from its version's template restores instead of initialising.
    restore_ms: float | None
    status: str | None
    error_type: str | None
    line: str

    @property
    def cold(self) -> bool:
        """The invocation ran in a new environment (Init, or a restore from a template)."""
        return self.init_ms is not None or self.restore_ms is not None


@dataclass(frozen=True)
class Invocation:
    status_code: int
    function_error: str | None
    raw: bytes
    log: str

    @property
    def payload(self) -> Any:
        return json.loads(self.raw) if self.raw else None

    @property
    def report(self) -> Report:
        matches = list(REPORT_RE.finditer(self.log))
        assert len(matches) == 1, f"expected one REPORT line in:\n{self.log}"
        m = matches[0]
        init, restore = m.group("init"), m.group("restore")
        return Report(
            request_id=m.group("request_id"),
            duration_ms=float(m.group("duration")),
            billed_ms=int(m.group("billed")),
            memory_size_mb=int(m.group("memory_size")),
            max_memory_mb=int(m.group("max_memory")),
            init_ms=float(init) if init is not None else None,
            restore_ms=float(restore) if restore is not None else None,
            status=m.group("status"),
            error_type=m.group("error_type"),
            line=m.group(0),
        )

    def ok(self) -> Any:
        """The payload of a successful invocation (fails the test otherwise)."""
        assert self.function_error is None, f"{self.raw!r}\n{self.log}"
        return self.payload


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def source(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def deploy(lam: Any, prefix: str, code: str | dict[str, str | bytes], **kwargs: Any) -> str:
    """Create an Active function from ``index.py`` source (or a file map); returns its name."""
    name = unique_name(prefix)
    files = {"index.py": source(code)} if isinstance(code, str) else code
    create_function(lam, name, files, **kwargs)
    return name


def invoke(lam: Any, name: str, event: Any = None, **kwargs: Any) -> Invocation:
    """Invoke synchronously with the Tail log; ``event`` is sent as JSON."""
    params: dict[str, Any] = {"FunctionName": name, "LogType": "Tail"}
    if event is not None:
        params["Payload"] = json.dumps(event).encode()
    params.update(kwargs)
    out = lam.invoke(**params)
    log = base64.b64decode(out["LogResult"]).decode("utf-8", "replace")
    return Invocation(out["StatusCode"], out.get("FunctionError"), out["Payload"].read(), log)


def billed(duration_ms: float) -> int:
    return max(1, math.ceil(duration_ms))
