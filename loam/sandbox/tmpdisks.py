"""Formatted ext4 /tmp disks kept ready, so forking an environment never runs mkfs.

A fork's /tmp is an ext4 image of exactly its EphemeralStorage (ADR 0003).
``mkfs.ext4`` costs a process and ~6 ms per image; a burst of cold starts
paid it on every fork. ``TmpDisks`` formats one *golden* image per size
once (while the first template of that size runs Init) and keeps, per
size, a few copies ready (a sparse copy of a golden image: ~0.6 ms, no
process). A fork claims a ready copy where it lies (``claim``; ``take``
renames it for other callers); when a burst has used them all it copies the
golden image itself, off the event loop. A background task refills each
size to ``depth`` copies.

Invariants:
- every image is formatted root-owned; the /tmp helper hands the disk's
  root to the environment's uid when it mounts it (one golden image serves
  every uid);
- the images of one size are byte-identical to a fresh ``mkfs`` of that
  size, so ENOSPC comes at exactly EphemeralStorage, as before;
- disk use is bounded: ready copies stop at ``depth`` per size and at
  ``budget_bytes`` of allocated blocks in all (golden images included);
- the directory is emptied when the pool starts (a killed predecessor's
  leftovers) and removed at ``close``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
from collections import deque
from pathlib import Path

from loam.sandbox.environment import EnvironmentFailed, make_tmp_image
from loam.sandbox.host import HostCapabilities

__all__ = ["TmpDisks"]

log = logging.getLogger("loam.sandbox")

DEPTH = 8
BUDGET_BYTES = 256 << 20


class TmpDisks:
    """Ready /tmp images per EphemeralStorage size, refilled in the background."""

    def __init__(self, host: HostCapabilities, root: Path, depth: int = DEPTH,
                 budget_bytes: int = BUDGET_BYTES) -> None:
        self.host = host
        self.root = root
        self.depth = depth
        self.budget_bytes = budget_bytes
        shutil.rmtree(root, ignore_errors=True)  # a killed predecessor's images
        root.mkdir(parents=True, exist_ok=True)
        self._golden: dict[int, asyncio.Task[Path]] = {}
        self._ready: dict[int, deque[Path]] = {}
        self._sizes: dict[Path, int] = {}  # allocated bytes of each image kept
        self._serial = 0
        self._refill: asyncio.Task[None] | None = None
        self._wanted = asyncio.Event()
        self._closed = False
        self.copies_made = 0
        self.taken_ready = 0

    def warm(self, ephemeral_mb: int) -> None:
        """Start formatting the golden image of this size (and its copies) now."""
        self._golden_task(ephemeral_mb)
        self._want()

    async def claim(self, ephemeral_mb: int) -> Path:
        """A formatted image of this size, in this pool's directory, now the caller's
        (to mount, or to unlink); any failure is an ``EnvironmentFailed``.

        A ready copy is handed over as it lies: no file is created, renamed or
        removed on the way. That matters in a burst: on ext4 without a journal
        every new inode is placed past all those freed in the last minute (the
        allocator checks each one's deletion time), so a file or directory made
        per environment costs more the more environments came and went.
        """
        ready = self._ready.get(ephemeral_mb)
        try:
            if ready:
                image = ready.popleft()
                self._sizes.pop(image, None)
                self.taken_ready += 1
            else:
                golden = await self._golden_task(ephemeral_mb)
                image = self._next_name("copy", ephemeral_mb)
                copying = asyncio.ensure_future(asyncio.to_thread(_sparse_copy, golden, image))
                try:
                    await asyncio.shield(copying)
                except asyncio.CancelledError:  # the thread copies on: remove its copy after
                    copying.add_done_callback(functools.partial(_discard, image))
                    raise
        except OSError as exc:
            raise EnvironmentFailed(f"cannot make a /tmp disk: {exc}") from exc
        self._want()
        return image

    async def take(self, ephemeral_mb: int, target: Path) -> None:
        """Put a formatted image of this size at ``target`` (same file system);
        any failure is an ``EnvironmentFailed``."""
        image = await self.claim(ephemeral_mb)
        try:
            os.replace(image, target)
        except OSError as exc:
            image.unlink(missing_ok=True)
            raise EnvironmentFailed(f"cannot make a /tmp disk: {exc}") from exc

    async def close(self) -> None:
        self._closed = True
        tasks = [t for t in (self._refill, *self._golden.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        shutil.rmtree(self.root, ignore_errors=True)

    # -- background ------------------------------------------------------------

    def _golden_task(self, ephemeral_mb: int) -> asyncio.Task[Path]:
        task = self._golden.get(ephemeral_mb)
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            task = self._golden[ephemeral_mb] = asyncio.create_task(
                self._format(ephemeral_mb), name=f"tmp-disk-{ephemeral_mb}")
        return task

    async def _format(self, ephemeral_mb: int) -> Path:
        image = self.root / f"golden-{ephemeral_mb}.img"
        try:  # root-owned: the /tmp helper or the jail gives its root to the runtime's uid
            await make_tmp_image(self.host, image, ephemeral_mb, 0)
        except EnvironmentFailed:
            image.unlink(missing_ok=True)
            raise
        self._sizes[image] = _allocated(image)
        return image

    def _next_name(self, kind: str, ephemeral_mb: int) -> Path:
        self._serial += 1
        return self.root / f"{kind}-{ephemeral_mb}-{self._serial}.img"

    def _want(self) -> None:
        self._wanted.set()
        if self._refill is None and not self._closed:
            self._refill = asyncio.create_task(self._refill_loop(), name="tmp-disk-refill")

    async def _refill_loop(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            with contextlib.suppress(OSError, EnvironmentFailed):
                await self._fill()

    async def _fill(self) -> None:
        """Copy golden images until every size has ``depth`` ready or the budget is spent."""
        for ephemeral_mb, golden_task in list(self._golden.items()):
            if not golden_task.done():
                await asyncio.wait([golden_task])
            if golden_task.cancelled() or golden_task.exception() is not None:
                continue
            golden = golden_task.result()
            ready = self._ready.setdefault(ephemeral_mb, deque())
            each = self._sizes.get(golden, 0)
            while len(ready) < self.depth and sum(self._sizes.values()) + each <= \
                    self.budget_bytes:
                image = self._next_name("ready", ephemeral_mb)
                await asyncio.to_thread(_sparse_copy, golden, image)
                self.copies_made += 1
                ready.append(image)
                self._sizes[image] = each


def _discard(image: Path, copying: asyncio.Future[None]) -> None:
    """A copy nobody is waiting for any more: gone, however it ended."""
    if not copying.cancelled():
        copying.exception()  # retrieved (a failed copy removed its file itself)
    image.unlink(missing_ok=True)


def _allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def _sparse_copy(source: Path, target: Path) -> None:
    """Copy ``source``'s data extents into a new sparse ``target`` of the same size."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(src).st_size
            os.ftruncate(dst, size)
            offset = 0
            while offset < size:
                try:
                    start = os.lseek(src, offset, os.SEEK_DATA)
                except OSError:  # ENXIO: only a hole is left
                    break
                end = os.lseek(src, start, os.SEEK_HOLE)
                position = start
                while position < end:
                    copied = os.copy_file_range(src, dst, end - position, position,
                                                position)
                    if copied == 0:
                        raise OSError(f"{source} shrank while being copied")
                    position += copied
                offset = end
        finally:
            os.close(dst)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        os.close(src)
