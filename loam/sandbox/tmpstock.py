"""/tmp disks mounted ahead of need, so a fork's /tmp costs a move, not a mount.

Mounting a fork's ext4 /tmp (a loop device, the superblock, the journal)
takes 2–5 ms, and 20 ms and more when several forks mount at once. A
``TmpStock`` keeps, per EphemeralStorage size, up to ``depth`` disks already
mounted (detached, by descriptor) in a /tmp helper of their own
(``tmpmount.py``: ``stock`` requests); ``place`` hands the oldest to a fork,
which leaves only the ownership, the ``setns`` and the ``move_mount``, and a
background task mounts the next one a little later (``REFILL_DELAY_S``: not
in the middle of a burst's places). The stock never makes a fork wait for a
mount: when it is empty, or its helper is busy mounting the next disk,
``place`` answers False at once and the caller mounts the usual way.

The disks come from ``TmpDisks`` (formatted copies); the helper unlinks each
image once mounted, so a disk lives exactly as long as its mount: in the
helper until placed, then in the fork's mount namespace. The helper's exit
(``close``, or a crash) takes the unplaced ones with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from loam.sandbox.environment import EnvironmentFailed
from loam.sandbox.tmpdisks import TmpDisks
from loam.sandbox.tmphelper import MountHelper

__all__ = ["TmpStock"]

log = logging.getLogger("loam.sandbox")

DEPTH = 4
REFILL_DELAY_S = 0.05


@dataclass
class _Shelf:
    """The mounted disks of one size, and the helper holding them."""
    helper: MountHelper | None = None
    count: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    mounting: bool = False  # the helper is mounting the next disk (a place would wait)
    refill: asyncio.Task[None] | None = None
    later: asyncio.TimerHandle | None = None


class TmpStock:
    def __init__(self, disks: TmpDisks, root: Path, depth: int = DEPTH) -> None:
        self.disks = disks
        self.root = root
        self.depth = depth
        shutil.rmtree(root, ignore_errors=True)  # a killed predecessor's images
        root.mkdir(parents=True, exist_ok=True)
        self._shelves: dict[int, _Shelf] = {}
        self._images = 0  # names the stock's image files
        self._closed = False
        self.placed = 0

    def warm(self, ephemeral_mb: int) -> None:
        """Start stocking disks of this size (a template of that size is starting)."""
        self._refill(self._shelves.setdefault(ephemeral_mb, _Shelf()), ephemeral_mb)

    async def place(self, ephemeral_mb: int, pid: int, uid: int) -> bool:
        """Mount a stocked disk on /tmp in ``pid``'s mount namespace, owned by ``uid``;
        False, at once, when none is ready (the caller mounts one itself)."""
        shelf = self._shelves.get(ephemeral_mb)
        if shelf is None or not shelf.count or shelf.mounting or self._closed:
            return False
        if shelf.helper is None or not shelf.helper.alive:
            shelf.count = 0  # its disks went with it
            self._refill(shelf, ephemeral_mb)
            return False
        async with shelf.lock:  # behind other places only (~0.5 ms each)
            if not shelf.count or shelf.mounting:
                return False
            shelf.count -= 1  # taken, whatever the answer: the helper let go of it
            answer = await self._ask(shelf, f"{pid} {uid} -")
        # The next disk a little later: mounted now, it would hold up the rest of a burst.
        if shelf.later is not None:
            shelf.later.cancel()
        shelf.later = asyncio.get_running_loop().call_later(
            REFILL_DELAY_S, self._refill, shelf, ephemeral_mb)
        if answer != "ok":
            log.warning("stocked /tmp disk not placed (%s); mounting one instead", answer)
            return False
        self.placed += 1
        return True

    async def close(self) -> None:
        self._closed = True
        for shelf in self._shelves.values():
            if shelf.later is not None:
                shelf.later.cancel()
            if shelf.refill is not None:
                shelf.refill.cancel()
                with contextlib.suppress(BaseException):
                    await shelf.refill
            if shelf.helper is not None:
                await shelf.helper.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- background ------------------------------------------------------------

    def _refill(self, shelf: _Shelf, ephemeral_mb: int) -> None:
        if self._closed or (shelf.refill is not None and not shelf.refill.done()):
            return
        shelf.refill = asyncio.create_task(self._fill(shelf, ephemeral_mb),
                                           name=f"tmp-stock-{ephemeral_mb}")

    async def _fill(self, shelf: _Shelf, ephemeral_mb: int) -> None:
        while shelf.count < self.depth and not self._closed:
            self._images += 1
            image = self.root / f"{ephemeral_mb}-{self._images}.img"
            try:
                await self.disks.take(ephemeral_mb, image)
                async with shelf.lock:
                    shelf.mounting = True
                    try:
                        answer = await self._ask(shelf, f"stock - {image}")
                    finally:
                        shelf.mounting = False
            except EnvironmentFailed as exc:
                answer = f"error: {exc}"
            if answer != "ok":  # the next fork that wants one refills again
                image.unlink(missing_ok=True)
                log.warning("cannot stock a /tmp disk of %d MB: %s", ephemeral_mb, answer)
                return
            shelf.count += 1

    async def _ask(self, shelf: _Shelf, request: str) -> str:
        """One request to the shelf's helper (started if need be), with the lock held."""
        if shelf.helper is None or not shelf.helper.alive:
            shelf.count = 0  # a dead helper's disks went with it
            shelf.helper = await MountHelper.spawn()
        return await shelf.helper.ask(request)
