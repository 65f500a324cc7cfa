"""``loam invoke <name>``: Invoke, printing the function's response.

The payload is ``--payload`` as given (JSON text), ``@path`` for a file's
bytes or ``@-`` for stdin; Lambda itself checks that it is JSON. The
response payload goes to stdout as the function returned it; with
``--tail`` the decoded log tail (``LogResult``) goes to stderr. A function
error (``X-Amz-Function-Error``) still prints its error document, and exits 1.
``--async`` sends an Event invocation (202, no payload).
With ``--output json`` stdout is one document: StatusCode, ExecutedVersion,
FunctionError, the payload (parsed when it is JSON) and the decoded log tail.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Any

from loam.cli.connection import Connection, ExitCode, UsageError, client_options
from loam.cli.output import Output

__all__ = ["read_payload", "register", "result_document"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    invoke = sub.add_parser("invoke", parents=[client_options()], help="invoke a function")
    invoke.add_argument("name", help="function name or ARN")
    invoke.add_argument("--payload", default=None, metavar="JSON|@FILE",
                        help="the event: JSON text, @path to read a file, @- for stdin")
    invoke.add_argument("--async", dest="asynchronous", action="store_true",
                        help="queue an Event invocation instead of waiting")
    invoke.add_argument("--tail", action="store_true",
                        help="print the last 4 KB of the invocation's log to stderr")
    invoke.add_argument("--qualifier", default=None, help="a version or alias")
    invoke.set_defaults(run=_run)


def read_payload(spec: str | None, stdin: Any = None) -> bytes:
    """``--payload``'s bytes: the text itself, ``@path``'s content, or ``@-``'s stdin."""
    if spec is None:
        return b"{}"
    if not spec.startswith("@"):
        return spec.encode()
    source = spec[1:]
    if not source:
        raise UsageError("--payload @: expected a file name after @ (or @- for stdin)")
    if source == "-":
        stream = stdin or sys.stdin.buffer
        data: bytes = stream.read()
        return data
    return Path(source).read_bytes()


def decode_log(log_result: str | None) -> str:
    return base64.b64decode(log_result).decode("utf-8", "replace") if log_result else ""


def result_document(response: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """Invoke's answer as one JSON document for ``--output json``."""
    try:
        body: Any = json.loads(payload) if payload else None
    except ValueError:
        body = payload.decode("utf-8", "replace")
    document: dict[str, Any] = {"StatusCode": response.get("StatusCode")}
    for key in ("ExecutedVersion", "FunctionError"):
        if key in response:
            document[key] = response[key]
    document["Payload"] = body
    if response.get("LogResult"):
        document["LogResult"] = decode_log(response["LogResult"])
    return document


def _run(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    lam = connection.client("lambda")
    params: dict[str, Any] = {
        "FunctionName": args.name,
        "InvocationType": "Event" if args.asynchronous else "RequestResponse",
        "Payload": read_payload(args.payload),
    }
    if args.qualifier:
        params["Qualifier"] = args.qualifier
    if args.tail and not args.asynchronous:
        params["LogType"] = "Tail"
    response = lam.invoke(**params)
    stream = response.get("Payload")
    payload: bytes = stream.read() if stream is not None else b""
    if args.tail and response.get("LogResult"):
        out.note(decode_log(response["LogResult"]).rstrip("\n"))
    if out.is_json:
        out.json(result_document(response, payload))
    elif args.asynchronous:
        out.note(f"loam: queued an Event invocation of {args.name} "
                 f"({response.get('StatusCode')})")
    else:
        out.line(payload.decode("utf-8", "replace"))
    if response.get("FunctionError"):
        return int(ExitCode.FUNCTION_ERROR)
    return int(ExitCode.OK)
