from __future__ import annotations

import pytest

from loam.errors import SandboxUnavailable
from loam.sandbox.cgroups import CgroupLayout
from loam.sandbox.host import HostCapabilities

GOOD = HostCapabilities(
    is_root=True,
    namespaces=("mnt", "pid", "ipc", "uts", "net"),
    cgroups=CgroupLayout(2, {}),
    unshare="/usr/bin/unshare",
    mkfs_ext4="/usr/sbin/mkfs.ext4",
    loop_devices=True,
)


def test_a_capable_host_has_no_problems() -> None:
    assert GOOD.problems() == []
    GOOD.require()


def test_missing_pieces_are_named_not_tracebacks() -> None:
    host = HostCapabilities(is_root=False, namespaces=("mnt",), cgroups=None, unshare=None,
                            mkfs_ext4=None, loop_devices=False)
    with pytest.raises(SandboxUnavailable) as info:
        host.require()
    message = str(info.value)
    assert "must run as root" in message
    assert "pid, ipc, uts, net" in message
    assert "cgroup" in message
    assert "unshare" in message
    assert not host.sized_tmp
