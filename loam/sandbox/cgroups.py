"""One cgroup per execution environment, on cgroup v1 or v2.

v1 uses the ``memory``, ``cpu`` and ``pids`` hierarchies; v2 the unified one
with those controllers enabled. Either way an environment gets:
memory limit = MemorySize (no swap), CPU share proportional to memory
(1,769 MB = one full vCPU, as AWS), and a pids limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupLayout", "EnvironmentCgroup", "detect_layout", "remove_parent"]

ROOT = Path("/sys/fs/cgroup")
MB = 1024 * 1024
VCPU_MB = 1769
PERIOD_US = 100_000
DESTROY_PATIENCE_S = 15.0


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
        self._peak_fd: int | None = None

    def create(self, memory_mb: int, pids_max: int) -> None:
        """Create with memory and pids limits; the CPU cap comes after Init (``limit_cpu``)."""
        if self.layout.version == 2:
            root = self.layout.mounts["unified"]
            parent = root / self.layout.parent
            # The controllers must be enabled on every level down to the environment.
            _write(root / "cgroup.subtree_control", "+memory +pids +cpu", optional=True)
            parent.mkdir(exist_ok=True)
            _write(parent / "cgroup.subtree_control", "+memory +pids +cpu")
            d = self.dirs["unified"]
            d.mkdir(exist_ok=True)
            _write(d / "memory.max", str(memory_mb * MB))
            _write(d / "memory.swap.max", "0", optional=True)
            _write(d / "pids.max", str(pids_max))
            return
        for d in self.dirs.values():
            try:
                os.mkdir(d)
            except FileNotFoundError:  # the node's parent cgroup is not there yet
                d.mkdir(parents=True, exist_ok=True)
            except FileExistsError:
                pass
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", str(memory_mb * MB))
        if not _write(mem / "memory.memsw.limit_in_bytes", str(memory_mb * MB), optional=True):
            # No swap accounting here: keep the kernel from swapping it out instead.
            _write(mem / "memory.swappiness", "0", optional=True)
        # A process moved in (a template's fork) brings the charges of the pages it
        # copied before the move, where the kernel still moves charges (newer ones,
        # 6.18 here, refuse the setting). Otherwise they stay on the template's
        # cgroup, which is why its limit grows with its forks (``_fit_memory``);
        # a fork joins its cgroup first thing, so it has copied little by then.
        _write(mem / "memory.move_charge_at_immigrate", "3", optional=True)
        _write(self.dirs["pids"] / "pids.max", str(pids_max))

    def limit_cpu(self, memory_mb: int) -> None:
        """CPU proportional to memory: 1,769 MB is one full vCPU, at the default weight.

        Init runs uncapped, as AWS boosts the Init phase; invocations run capped.
        """
        self._weigh_cpu(1)
        self._cap_cpu(max(1000, int(PERIOD_US * memory_mb / VCPU_MB)))

    def prioritise_cpu(self, factor: float, vcpus: int = 1) -> None:
        """``factor`` times the default CPU weight, within a cap of ``vcpus`` CPUs.

        For a fork server, and a fork until it is ready: serial work many
        environments wait on, which an equal share among hundreds of busy
        environments would starve.
        """
        self._weigh_cpu(factor)
        self._cap_cpu(PERIOD_US * vcpus)

    def _weigh_cpu(self, factor: float) -> None:
        if self.layout.version == 2:
            _write(self.dirs["unified"] / "cpu.weight",
                   str(max(1, min(10_000, round(100 * factor)))))
        else:
            _write(self.dirs["cpu"] / "cpu.shares", str(max(2, round(1024 * factor))))

    def _cap_cpu(self, quota: int) -> None:
        """At most ``quota`` µs of CPU time per ``PERIOD_US``."""
        if self.layout.version == 2:
            _write(self.dirs["unified"] / "cpu.max", f"{quota} {PERIOD_US}")
            return
        # cpu.cfs_period_us stays at the kernel's default for a new cgroup: PERIOD_US.
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", str(quota))

    def set_memory_limit(self, limit_bytes: int) -> None:
        """Change the memory limit (v1: with memory+swap kept equal to it, in the
        order the kernel accepts: memsw ≥ memory at every step)."""
        if self.layout.version == 2:
            _write(self.dirs["unified"] / "memory.max", str(limit_bytes))
            return
        mem = self.dirs["memory"]
        limit, memsw = mem / "memory.limit_in_bytes", mem / "memory.memsw.limit_in_bytes"
        if int(limit.read_text()) < limit_bytes:
            _write(memsw, str(limit_bytes), optional=True)
            _write(limit, str(limit_bytes))
        else:
            _write(limit, str(limit_bytes))
            _write(memsw, str(limit_bytes), optional=True)

    def procs_files(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    def move(self, pid: int) -> None:
        """Move process ``pid`` (all its threads) in. Blocking: the kernel may wait for
        an RCU grace period first (see ``self_join_files``)."""
        for procs in self.procs_files():
            _write(procs, str(pid))

    def self_join_files(self) -> list[Path]:
        """The files a single-threaded process writes ``0`` to, to move itself in.

        On v1, a thread writing to a hierarchy's ``tasks`` file moves only itself,
        without the global lock that a move through ``cgroup.procs`` takes; that
        lock waits for an RCU grace period after a quiet spell (5–20 ms, against
        ~0.1 ms here). v2 has no such move across domain cgroups
        (``cgroup.threads`` stays within one): there it is ``cgroup.procs``.
        """
        if self.layout.version == 2:
            return self.procs_files()
        return [d / "tasks" for d in self.dirs.values()]

    def open_self_join(self) -> list[int]:
        """Descriptors of ``self_join_files`` (v1), or [] on v2, where a process
        that has not joined yet is moved by loam (``procs_files``).

        The files are opened here (by root): the kernel checks the opener's
        credentials, so an unprivileged process can use them, and only on tasks
        it can name in its own pid namespace.
        """
        if self.layout.version == 2:
            return []
        fds: list[int] = []
        try:
            for path in self.self_join_files():
                fds.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def peak_memory_bytes(self) -> int:
        """The cgroup's peak memory use; read on every invocation, so the file
        stays open (one ``pread`` instead of open, read, close)."""
        try:
            if self._peak_fd is None:
                self._peak_fd = os.open(self._peak_path(), os.O_RDONLY | os.O_CLOEXEC)
            return int(os.pread(self._peak_fd, 64, 0).strip())
        except (OSError, ValueError):
            return 0

    def _peak_path(self) -> Path:
        if self.layout.version == 2:
            peak = self.dirs["unified"] / "memory.peak"
            return peak if peak.exists() else self.dirs["unified"] / "memory.current"
        return self.dirs["memory"] / "memory.max_usage_in_bytes"

    def close(self) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None

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
        """SIGKILL every process in the cgroup (atomically where v2 offers ``cgroup.kill``)."""
        if self.layout.version == 2:
            with contextlib.suppress(OSError):
                (self.dirs["unified"] / "cgroup.kill").write_text("1")
        for procs in self.procs_files():
            try:
                pids = [int(p) for p in procs.read_text().split()]
            except OSError:
                continue
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def destroy(self, patience_s: float = DESTROY_PATIENCE_S) -> bool:
        """Kill what is left and remove the cgroup; safe to call twice. Blocking.

        The CPU cap is lifted first: killed processes still need CPU to exit,
        and a thousand of them sharing a small quota die slowly. Returns
        whether the cgroup is gone (else a later sweep removes it).
        """
        self.close()
        self.unlimit_cpu()
        deadline = time.monotonic() + patience_s
        delay = 0.005
        while True:
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
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def unlimit_cpu(self) -> None:
        if self.layout.version == 2:
            _write(self.dirs["unified"] / "cpu.max", f"max {PERIOD_US}", optional=True)
        else:
            _write(self.dirs["cpu"] / "cpu.cfs_quota_us", "-1", optional=True)


def remove_parent(layout: CgroupLayout) -> None:
    """Remove the node's parent cgroup(s) once no environment is left in them."""
    for mount in layout.mounts.values():
        with contextlib.suppress(OSError):
            (mount / layout.parent).rmdir()


def _write(path: Path, value: str, optional: bool = False) -> bool:
    """Write one control file (a few system calls: no buffered text file around
    them, which costs more than the write on the path of every new environment).
    Returns whether it was written; an optional file that cannot be is skipped."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError:
        if not optional:
            raise
        return False
    return True
