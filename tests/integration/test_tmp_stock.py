"""/tmp disks mounted ahead of need: a fork's /tmp is placed from the stock (a move,
not a mount) with its root owned by the environment's user; an empty stock answers
at once so the caller mounts itself; the stock refills, and its disks and loop
devices go with ``close``."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path

import pytest

from loam.sandbox.host import HostCapabilities
from loam.sandbox.tmpdisks import TmpDisks
from loam.sandbox.tmphelper import MountHelper
from loam.sandbox.tmpstock import TmpStock

HOST = HostCapabilities.detect()
pytestmark = pytest.mark.skipif(not HOST.sized_tmp, reason="no sized /tmp disks here")


async def _stocked(stock: TmpStock, size: int, count: int) -> None:
    for _ in range(1000):
        shelf = stock._shelves.get(size)
        if shelf is not None and shelf.count >= count and not shelf.mounting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the stock did not fill")


def _tmp_mount(pid: int) -> tuple[str, str]:
    """File system type and source of /tmp in ``pid``'s mount namespace."""
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/tmp":
            after = fields[fields.index("-") + 1:]
            return after[0], after[1]
    return "", ""


def _loop_devices(under: Path) -> int:
    """Loop devices backed by files under ``under`` (other tests' come and go meanwhile)."""
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True, check=False)
    return sum(1 for line in out.stdout.splitlines() if str(under) in line)


def test_a_fork_gets_a_stocked_disk_and_an_empty_stock_says_so(tmp_path: Path) -> None:
    # A process in a mount namespace of its own, with a /tmp to mount on.
    ns = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "60"])
    try:
        async def main() -> None:
            disks = TmpDisks(HOST, tmp_path / "disks", depth=2)
            stock = TmpStock(disks, tmp_path / "stock", depth=2)
            assert not await stock.place(64, ns.pid, 4242)  # nothing stocked: at once
            stock.warm(64)
            await _stocked(stock, 64, 2)
            assert _loop_devices(tmp_path) >= 2
            assert await stock.place(64, ns.pid, 4242)
            assert stock.placed == 1
            assert _tmp_mount(ns.pid)[0] == "ext4"
            root = os.stat(f"/proc/{ns.pid}/root/tmp")
            assert (root.st_uid, root.st_mode & 0o7777) == (4242, 0o1777)
            assert os.listdir(f"/proc/{ns.pid}/root/tmp") == []  # no lost+found
            await _stocked(stock, 64, 2)  # refilled (a little later)
            assert not list((tmp_path / "stock").iterdir())  # images unlinked once mounted
            await stock.close()
            await disks.close()

        asyncio.run(main())
    finally:
        ns.kill()
        ns.wait()
    for _ in range(100):  # the placed disk went with the namespace, the stock with close
        if _loop_devices(tmp_path) == 0:
            break
        time.sleep(0.05)
    assert _loop_devices(tmp_path) == 0


def test_a_claimed_disk_mounted_for_a_fork_leaves_no_file(tmp_path: Path) -> None:
    """With the stock empty a fork mounts a ready image, claimed where it lies: the
    helper unlinks it once mounted, so the disk (and whatever the function writes
    to it) goes with the fork's mount namespace, not with the node."""
    ns = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "60"])
    try:
        async def main() -> None:
            disks = TmpDisks(HOST, tmp_path / "disks", depth=1)
            disks.warm(64)
            image = await disks.claim(64)
            helper = await MountHelper.spawn()
            try:
                assert await helper.ask(f"{ns.pid} 4242 {image}") == "ok"
            finally:
                await helper.close()
            assert _tmp_mount(ns.pid)[0] == "ext4"
            assert os.stat(f"/proc/{ns.pid}/root/tmp").st_uid == 4242
            assert not image.exists()
            assert _loop_devices(tmp_path) == 1  # the mount holds the (deleted) image
            await disks.close()

        asyncio.run(main())
    finally:
        ns.kill()
        ns.wait()
    for _ in range(100):
        if _loop_devices(tmp_path) == 0:
            break
        time.sleep(0.05)
    assert _loop_devices(tmp_path) == 0
