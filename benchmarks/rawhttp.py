"""A minimal HTTP/1.1 keep-alive client, run as its own process by the benchmarks.

It sends one pre-built request over and over and times each round trip
(request written → whole response read) with ``perf_counter_ns``; every
response is checked (status, no ``X-Amz-Function-Error``, body) so a fast
error can never pass for a fast invoke. Standard library only: what it costs
is a few tens of microseconds of Python per request, counted in its numbers.

    python -m benchmarks.rawhttp sequential PORT PATH BODY COUNT   → JSON latencies (ms)
    python -m benchmarks.rawhttp concurrent PORT PATH BODY CLIENTS SECONDS → JSON totals
    python -m benchmarks.rawhttp tally PORT PATH BODY CLIENTS TOTAL HEADER → JSON counts

``tally`` sends exactly TOTAL requests over CLIENTS connections and counts the
responses by the value of one header (and their body), e.g.
``X-Amz-Executed-Version`` for weighted alias routing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Tally", "build_request", "concurrent", "sequential", "tally"]


def build_request(method: str, path: str, body: bytes) -> bytes:
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


class BadResponse(Exception):
    pass


def _check(head: bytes, body: bytes, expected: bytes | None) -> None:
    status = head.split(b" ", 2)[1]
    if status not in (b"200", b"202", b"204"):
        raise BadResponse(f"status {status.decode()}: {body[:200]!r}")
    if b"\r\nx-amz-function-error:" in head.lower():
        raise BadResponse(f"function error: {body[:200]!r}")
    if expected is not None and body != expected:
        raise BadResponse(f"unexpected body {body[:200]!r}")


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def sequential(port: int, request: bytes, count: int, expected: bytes | None) -> list[float]:
    """``count`` round trips in sequence on one connection; latencies in ms."""
    out: list[float] = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for _ in range(count):
            t = time.perf_counter_ns()
            sock.sendall(request)
            while b"\r\n\r\n" not in buf:
                buf += _recv(sock)
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = _content_length(head)
            while len(buf) < length:
                buf += _recv(sock)
            body, buf = buf[:length], buf[length:]
            out.append((time.perf_counter_ns() - t) / 1e6)
            _check(head, body, expected)
    return out


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(1 << 16)
    if not data:
        raise BadResponse("the server closed the connection")
    return data


async def _client(port: int, request: bytes, expected: bytes | None, until: float,
                  totals: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(_content_length(head))
            try:
                _check(head, body, expected)
                totals["ok"] += 1
            except BadResponse:
                totals["errors"] += 1
    finally:
        writer.close()


async def _concurrent(port: int, request: bytes, clients: int, seconds: float,
                      expected: bytes | None) -> dict[str, float]:
    totals = {"ok": 0, "errors": 0}
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(_client(port, request, expected, until, totals)
                           for _ in range(clients)))
    elapsed = time.monotonic() - started
    return {"requests": totals["ok"] + totals["errors"], "errors": totals["errors"],
            "seconds": elapsed, "per_second": (totals["ok"] + totals["errors"]) / elapsed}


def concurrent(port: int, request: bytes, clients: int, seconds: float,
               expected: bytes | None) -> dict[str, float]:
    """``clients`` keep-alive connections, each in sequence, for ``seconds``."""
    return asyncio.run(_concurrent(port, request, clients, seconds, expected))


def _header(head: bytes, name: bytes) -> str:
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == name:
            return value.strip().decode("latin-1")
    return ""


@dataclass
class Tally:
    """Responses counted by (header value, body); every one was a 200 without a function error."""

    counts: Counter[tuple[str, bytes]] = field(default_factory=Counter)
    seconds: float = 0.0

    def by_value(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (value, _), n in self.counts.items():
            out[value] += n
        return out


async def _tally_client(port: int, request: bytes, header: bytes, left: list[int],
                        result: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while left[0] > 0:
            left[0] -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.readexactly(_content_length(head))
            _check(head, body, None)
            result.counts[(_header(head, header), body)] += 1
    finally:
        writer.close()


async def _tally(port: int, request: bytes, clients: int, total: int, header: str) -> Tally:
    result, left = Tally(), [total]
    started = time.monotonic()
    await asyncio.gather(*(_tally_client(port, request, header.lower().encode(), left, result)
                           for _ in range(clients)))
    result.seconds = time.monotonic() - started
    return result


def tally(port: int, request: bytes, clients: int, total: int, header: str) -> Tally:
    """Exactly ``total`` requests over ``clients`` keep-alive connections, counted by
    the value of ``header``; raises ``BadResponse`` at the first failed response."""
    return asyncio.run(_tally(port, request, clients, total, header))


def main(argv: list[str]) -> None:
    mode, port, path, body = argv[0], int(argv[1]), argv[2], argv[3].encode()
    method = "GET" if path.startswith("/_loam/") else "POST"
    request = build_request(method, path, b"" if method == "GET" else body)
    expected = None if method == "GET" else body
    if mode == "sequential":
        result: object = sequential(port, request, int(argv[4]), expected)
    elif mode == "tally":
        counted = tally(port, request, int(argv[4]), int(argv[5]), argv[6])
        result = {"counts": counted.by_value(), "seconds": counted.seconds}
    else:
        result = concurrent(port, request, int(argv[4]), float(argv[5]), expected)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
