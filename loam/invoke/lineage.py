"""Recursive loop detection: counting how often one chain of requests invoked a function.

AWS carries the count in the X-Ray trace header (``X-Amzn-Trace-Id``). Every
invocation gets a header: the incoming one continued, or a new ``Root``. Its
``Lineage`` field holds one ``<hash>:<count>`` entry per function the chain
has run (entries joined by ``|``; the hash is the first 8 hex digits of the
SHA-256 of the unqualified function ARN). The function sees the header as
``_X_AMZN_TRACE_ID``; the AWS SDKs inside it send it on with every call
(botocore's recursion-detection handler does this whenever
``AWS_LAMBDA_FUNCTION_NAME`` is set), SQS keeps it as a message's
``AWSTraceHeader`` and hands it back to the event source, and so the next
invocation of the chain continues the count. Past ``MAX_DEPTH`` invocations
of one function in one chain, a function whose RecursiveLoop setting is
``Terminate`` (the default) is not run.

``incoming_trace`` is the header of the API request being served (set by the
API layer), read by whatever that request starts.
"""

from __future__ import annotations

import hashlib
import random
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["MAX_DEPTH", "Continued", "continue_trace", "incoming_trace"]

MAX_DEPTH = 16
# One generator for the node: seeding a new one per invocation reads the OS's entropy
# and fills 2.5 KB of state each time. Trace ids need to be unique, not secret.
_RANDOM = random.Random()

incoming_trace: ContextVar[str | None] = ContextVar("incoming_trace", default=None)


@dataclass(frozen=True)
class Continued:
    header: str  # the invocation's X-Amzn-Trace-Id
    depth: int  # how many times this chain has now invoked the function (this one included)
    root: str


def continue_trace(incoming: str | None, function_arn: str,
                   rng: random.Random | None = None) -> Continued:
    """The trace header of one more invocation of ``function_arn`` in ``incoming``'s chain."""
    rand = rng or _RANDOM
    if not incoming:  # a new chain (most API calls): its first invocation of anything
        root = _new_root(rand)
        header = (f"Root={root};Parent={rand.getrandbits(64):016x};Sampled=0;"
                  f"Lineage={_lineage_key(function_arn)}:1")
        return Continued(header, 1, root)
    fields = _fields(incoming)
    root = fields.get("Root") or _new_root(rand)
    lineage = _lineage(fields.get("Lineage", ""))
    key = _lineage_key(function_arn)
    lineage[key] = lineage.get(key, 0) + 1
    sampled = fields.get("Sampled", "0")
    parent = f"{rand.getrandbits(64):016x}"
    chain = "|".join(f"{k}:{v}" for k, v in lineage.items())
    header = f"Root={root};Parent={parent};Sampled={sampled};Lineage={chain}"
    return Continued(header, lineage[key], root)


@lru_cache(maxsize=4096)
def _lineage_key(function_arn: str) -> str:
    """A function's Lineage entry name (computed once per function, not per invoke)."""
    return hashlib.sha256(function_arn.encode()).hexdigest()[:8]


def _fields(header: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, eq, value = part.strip().partition("=")
        if eq and key:
            out[key] = value
    return out


def _lineage(text: str) -> dict[str, int]:
    """``hash:count`` entries; also reads AWS's ``version:hash:count`` form. Junk is skipped."""
    out: dict[str, int] = {}
    for entry in filter(None, text.split("|")):
        parts = entry.split(":")
        if len(parts) < 2 or not parts[-1].isdigit():
            continue
        out[parts[-2]] = min(int(parts[-1]), 1_000_000)
    return out


def _new_root(rand: random.Random) -> str:
    bits = rand.getrandbits(96)
    return f"1-{int(time.time()):08x}-{bits:024x}"
