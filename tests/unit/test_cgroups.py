from __future__ import annotations

from pathlib import Path

from loam.sandbox.cgroups import EnvironmentCgroup, detect_layout


def _v1(root: Path) -> None:
    for controller in ("memory", "cpu", "pids"):
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("")


def test_detects_v1(tmp_path: Path) -> None:
    _v1(tmp_path)
    layout = detect_layout(tmp_path)
    assert layout is not None and layout.version == 1


def test_detects_v2(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    layout = detect_layout(tmp_path)
    assert layout is not None and layout.version == 2


def test_v2_without_memory_controller_is_unusable(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu pids\n")
    assert detect_layout(tmp_path) is None


def test_v2_limits_are_written(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    layout = detect_layout(tmp_path)
    assert layout is not None
    cg = EnvironmentCgroup(layout, "env1")
    cg.create(memory_mb=256, pids_max=100)
    cg.limit_cpu(1769)
    d = tmp_path / "loam" / "env1"
    assert (d / "memory.max").read_text() == str(256 * 1024 * 1024)
    assert (d / "pids.max").read_text() == "100"
    assert (d / "cpu.max").read_text() == "100000 100000"
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cg.oom_kills() == 1


def test_v1_cpu_share_follows_memory(tmp_path: Path) -> None:
    _v1(tmp_path)
    layout = detect_layout(tmp_path)
    assert layout is not None
    cg = EnvironmentCgroup(layout, "env1")
    cg.create(memory_mb=128, pids_max=64)
    cg.limit_cpu(3538)
    assert (tmp_path / "cpu" / "loam" / "env1" / "cpu.cfs_quota_us").read_text() == "200000"
    assert (tmp_path / "memory" / "loam" / "env1" / "memory.limit_in_bytes").read_text() == str(
        128 * 1024 * 1024
    )
