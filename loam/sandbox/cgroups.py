"""One cgroup per execution environment, on cgroup v1 or v2.

v1 uses the ``memory``, ``cpu`` and ``pids`` hierarchies; v2 the unified one
with those controllers enabled. Either way an environment gets:
memory limit = MemorySize (no swap), CPU share proportional to memory
(1,769 MB = one full vCPU, as AWS), and a pids limit.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupLayout", "EnvironmentCgroup", "detect_layout"]

ROOT = Path("/sys/fs/cgroup")
MB = 1024 * 1024
VCPU_MB = 1769
PERIOD_US = 100_000


@dataclass(frozen=True)
class CgroupLayout:
    version: int
    # v1: controller → mount dir; v2: {"unified": dir}
    mounts: dict[str, Path]
    parent: str = "loam"


def detect_layout(root: Path = ROOT) -> CgroupLayout | None:
    """Return how cgroups are mounted here, or None when unusable."""
    if (root / "cgroup.controllers").exists():
        controllers = (root / "cgroup.controllers").read_text().split()
        if {"memory", "pids", "cpu"} <= set(controllers):
            return CgroupLayout(2, {"unified": root})
        return None
    mounts = {c: root / c for c in ("memory", "cpu", "pids")}
    if all((p / "cgroup.procs").exists() for p in mounts.values()):
        return CgroupLayout(1, mounts)
    return None


class EnvironmentCgroup:
    def __init__(self, layout: CgroupLayout, name: str) -> None:
        self.layout = layout
        self.name = name
        if layout.version == 2:
            base = layout.mounts["unified"] / layout.parent
            self.dirs = {"unified": base / name}
        else:
            self.dirs = {c: m / layout.parent / name for c, m in layout.mounts.items()}

    def create(self, memory_mb: int, pids_max: int) -> None:
        """Create with memory and pids limits; the CPU cap comes after Init (``limit_cpu``)."""
        if self.layout.version == 2:
            parent = self.layout.mounts["unified"] / self.layout.parent
            parent.mkdir(exist_ok=True)
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
            d = self.dirs["unified"]
            d.mkdir(exist_ok=True)
            _write(d / "memory.max", str(memory_mb * MB))
            _write(d / "memory.swap.max", "0", optional=True)
            _write(d / "pids.max", str(pids_max))
            return
        for d in self.dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", str(memory_mb * MB))
        _write(mem / "memory.memsw.limit_in_bytes", str(memory_mb * MB), optional=True)
        _write(mem / "memory.swappiness", "0", optional=True)
        _write(self.dirs["pids"] / "pids.max", str(pids_max))

    def limit_cpu(self, memory_mb: int) -> None:
        """CPU proportional to memory: 1,769 MB is one full vCPU.

        Init runs uncapped, as AWS boosts the Init phase; invocations run capped.
        """
        quota = max(1000, int(PERIOD_US * memory_mb / VCPU_MB))
        if self.layout.version == 2:
            _write(self.dirs["unified"] / "cpu.max", f"{quota} {PERIOD_US}")
            return
        _write(self.dirs["cpu"] / "cpu.cfs_period_us", str(PERIOD_US))
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def peak_memory_bytes(self) -> int:
        if self.layout.version == 2:
            peak = self.dirs["unified"] / "memory.peak"
            path = peak if peak.exists() else self.dirs["unified"] / "memory.current"
        else:
            path = self.dirs["memory"] / "memory.max_usage_in_bytes"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return 0

    def oom_kills(self) -> int:
        if self.layout.version == 2:
            path, key = self.dirs["unified"] / "memory.events", "oom_kill"
        else:
            path, key = self.dirs["memory"] / "memory.oom_control", "oom_kill"
        try:
            for line in path.read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def kill_all(self) -> None:
        for procs in self.procs_files():
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def destroy(self) -> None:
        """Kill what is left and remove the cgroup; safe to call twice."""
        for _ in range(50):
            self.kill_all()
            remaining = False
            for d in self.dirs.values():
                try:
                    d.rmdir()
                except FileNotFoundError:
                    pass
                except OSError:
                    remaining = True
            if not remaining:
                return
            time.sleep(0.02)


def _write(path: Path, value: str, optional: bool = False) -> None:
    try:
        path.write_text(value)
    except OSError:
        if not optional:
            raise
