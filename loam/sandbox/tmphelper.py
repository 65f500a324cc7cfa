"""loam's side of one /tmp helper process (``tmpmount.py``, run as root).

A helper serves one request line at a time and answers each on one line,
``TICKET ok`` or ``TICKET error: …``. Requests carry a number that the answer
repeats: a caller cancelled while waiting (a spare dropped mid-fork) leaves its
answer in the pipe, and the helper's next caller skips it rather than take it
for its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from pathlib import Path

__all__ = ["MountHelper"]

_SCRIPT = Path(__file__).resolve().parent / "tmpmount.py"


class MountHelper:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._tickets = itertools.count(1)

    @classmethod
    async def spawn(cls) -> MountHelper:
        return cls(await asyncio.create_subprocess_exec(
            sys.executable, "-S", "-E", str(_SCRIPT),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE))

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def ask(self, request: str) -> str:
        """Send ``request`` (the line without its ticket); the answer after the ticket,
        ``ok`` or ``error: …`` (also when the helper is gone)."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        ticket = str(next(self._tickets))
        try:
            stdin.write(f"{ticket} {request}\n".encode())
            await stdin.drain()
            while True:
                line = (await stdout.readline()).decode().strip()
                if not line:
                    return "error: the helper exited"
                number, _, answer = line.partition(" ")
                if number == ticket:
                    return answer
        except ConnectionError as exc:
            return f"error: {exc}"

    async def close(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        await self.process.wait()
