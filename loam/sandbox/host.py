"""What this host offers for isolation, detected once at start-up.

``HostCapabilities.require()`` fails with a message naming what is missing
(never a traceback): root, the namespaces, usable cgroups, ``unshare``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from loam.errors import SandboxUnavailable
from loam.sandbox.cgroups import CgroupLayout, detect_layout

__all__ = ["HostCapabilities"]

_NAMESPACES = ("mnt", "pid", "ipc", "uts", "net")


@dataclass(frozen=True)
class HostCapabilities:
    is_root: bool
    namespaces: tuple[str, ...]
    cgroups: CgroupLayout | None
    unshare: str | None
    mkfs_ext4: str | None
    loop_devices: bool

    @classmethod
    def detect(cls) -> HostCapabilities:
        present = tuple(ns for ns in _NAMESPACES if Path(f"/proc/self/ns/{ns}").exists())
        return cls(
            is_root=os.geteuid() == 0,
            namespaces=present,
            cgroups=detect_layout(),
            unshare=shutil.which("unshare"),
            mkfs_ext4=shutil.which("mkfs.ext4") or _sbin("mkfs.ext4"),
            loop_devices=Path("/dev/loop-control").exists(),
        )

    @property
    def sized_tmp(self) -> bool:
        """Whether /tmp can be a disk of its own with a hard size (loop + ext4)."""
        return self.mkfs_ext4 is not None and self.loop_devices

    def problems(self) -> list[str]:
        out: list[str] = []
        if not self.is_root:
            out.append("loam must run as root to create namespaces and cgroups "
                       "(it drops privileges inside each environment)")
        missing = [ns for ns in _NAMESPACES if ns not in self.namespaces]
        if missing:
            out.append(f"the kernel lacks these namespaces: {', '.join(missing)}")
        if self.cgroups is None:
            out.append("no usable cgroup hierarchy with memory, cpu and pids controllers "
                       "under /sys/fs/cgroup")
        if self.unshare is None:
            out.append("the 'unshare' command (util-linux) is not installed")
        return out

    def require(self) -> None:
        problems = self.problems()
        if problems:
            raise SandboxUnavailable("cannot create execution environments: " + "; ".join(problems))

    def describe(self) -> str:
        cg = f"cgroup v{self.cgroups.version}" if self.cgroups else "no cgroups"
        tmp = "sized ext4 /tmp" if self.sized_tmp else "tmpfs /tmp"
        return f"namespaces {'/'.join(self.namespaces)}; {cg}; {tmp}"


def _sbin(name: str) -> str | None:
    for d in ("/usr/sbin", "/sbin"):
        if Path(d, name).exists():
            return str(Path(d, name))
    return None
