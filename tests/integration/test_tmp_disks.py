"""Ready-formatted /tmp disks: a fork takes one without running mkfs, copies are the
golden image's bytes, a claimed one is the caller's where it lies, the pool refills
in the background within its bounds, and its directory is swept at start and removed
at close."""

from __future__ import annotations

import asyncio
import filecmp
import os
import time
from pathlib import Path

import pytest

from loam.sandbox import tmpdisks
from loam.sandbox.host import HostCapabilities
from loam.sandbox.tmpdisks import TmpDisks

HOST = HostCapabilities.detect()
pytestmark = pytest.mark.skipif(HOST.mkfs_ext4 is None, reason="no mkfs.ext4")


async def _settle(disks: TmpDisks, size: int, count: int) -> None:
    for _ in range(500):
        if len(disks._ready.get(size, ())) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the pool did not refill")


def test_takes_ready_disks_and_refills_within_bounds(tmp_path: Path) -> None:
    root = tmp_path / "disks"
    root.mkdir()
    (root / "ready-512-7.img").write_bytes(b"left by a killed server")

    async def main() -> None:
        disks = TmpDisks(HOST, root, depth=3)
        assert not (root / "ready-512-7.img").exists()
        disks.warm(512)
        await _settle(disks, 512, 3)
        assert disks.copies_made == 3  # never past depth
        golden = root / "golden-512.img"
        targets = [tmp_path / f"tmp{n}.img" for n in range(5)]
        for target in targets:  # a burst: 3 ready ones, then copies made on demand
            await disks.take(512, target)
        # (the refill may have put one more ready while a copy was being made)
        assert 3 <= disks.taken_ready < 5
        for target in targets:
            assert target.stat().st_size == golden.stat().st_size
            assert filecmp.cmp(golden, target, shallow=False)
        await _settle(disks, 512, 3)
        assert len(list(root.glob("ready-*.img"))) == 3
        await disks.close()
        assert not root.exists()

    asyncio.run(main())


def test_disk_use_stays_within_the_budget(tmp_path: Path) -> None:
    async def main() -> None:
        disks = TmpDisks(HOST, tmp_path / "disks", depth=50, budget_bytes=2 << 20)
        disks.warm(512)
        await disks.take(512, tmp_path / "one.img")  # waits for the golden image
        for _ in range(50):
            await asyncio.sleep(0.01)
        used = sum(os.stat(p).st_blocks * 512 for p in (tmp_path / "disks").iterdir())
        assert used <= 2 << 20
        assert 0 < len(disks._ready[512]) < 50
        await disks.close()

    asyncio.run(main())


def test_a_claimed_disk_is_the_callers_where_it_lies(tmp_path: Path) -> None:
    """``claim`` hands over a ready image in place (no file made, renamed or removed
    on the way) or, once none is ready, a copy made for the caller; either is
    formatted, in the pool's directory, and no longer the pool's to hand out."""
    root = tmp_path / "disks"

    async def main() -> None:
        disks = TmpDisks(HOST, root, depth=2)
        disks.warm(512)
        await _settle(disks, 512, 2)
        ready = set(disks._ready[512])
        golden = root / "golden-512.img"
        claimed = [await disks.claim(512) for _ in range(3)]
        assert set(claimed[:2]) == ready  # the ready ones, where they were
        assert claimed[2] not in ready and claimed[2].parent == root  # made on demand
        assert len(set(claimed)) == 3
        for image in claimed:
            assert filecmp.cmp(golden, image, shallow=False)
        await _settle(disks, 512, 2)
        assert not set(claimed) & set(disks._ready[512])  # never handed out twice
        for image in claimed:  # the caller's now: unlinked once mounted
            image.unlink()
        await disks.close()

    asyncio.run(main())


def test_a_claim_given_up_while_copying_leaves_no_file(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fork cancelled while its disk is being copied (a spare dropped mid-fork):
    the copying thread finishes, and its copy goes."""
    root = tmp_path / "disks"
    copy = tmpdisks._sparse_copy

    def slow_copy(source: Path, target: Path) -> None:
        time.sleep(0.3)
        copy(source, target)

    async def main() -> None:
        disks = TmpDisks(HOST, root, depth=0)  # nothing ready: every claim copies
        disks.warm(512)
        await disks.take(512, tmp_path / "first.img")  # the golden image is made
        monkeypatch.setattr(tmpdisks, "_sparse_copy", slow_copy)
        claim = asyncio.create_task(disks.claim(512))
        await asyncio.sleep(0.1)  # copying now
        claim.cancel()
        with pytest.raises(asyncio.CancelledError):
            await claim
        await asyncio.sleep(0.5)  # the thread is done
        assert sorted(p.name for p in root.iterdir()) == ["golden-512.img"]
        await disks.close()

    asyncio.run(main())
