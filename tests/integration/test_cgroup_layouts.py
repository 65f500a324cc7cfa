"""The cgroup code against fake v1 and v2 hierarchies (plain directories), so the
layout this host does not have is exercised too. Real cgroups are covered by
the sandbox tests."""

from __future__ import annotations

from pathlib import Path

from loam.sandbox.cgroups import EnvironmentCgroup, detect_layout, remove_parent

MB = 1024 * 1024


def _fake_v2(root: Path) -> Path:
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma\n")
    (root / "cgroup.subtree_control").write_text("")
    return root


def _fake_v1(root: Path) -> Path:
    for controller in ("memory", "cpu", "pids"):
        (root / controller).mkdir(parents=True)
        (root / controller / "cgroup.procs").write_text("")
    return root


def test_v2_layout_limits_and_accounting(tmp_path: Path) -> None:
    root = _fake_v2(tmp_path / "cg")
    layout = detect_layout(root)
    assert layout is not None and layout.version == 2
    group = EnvironmentCgroup(layout, "env1")
    group.create(256, 1024)
    d = root / "loam" / "env1"
    assert (root / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (root / "loam" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (d / "memory.max").read_text() == str(256 * MB)
    assert (d / "memory.swap.max").read_text() == "0"
    assert (d / "pids.max").read_text() == "1024"
    group.limit_cpu(1769)
    assert (d / "cpu.max").read_text() == "100000 100000"
    group.limit_cpu(128)
    assert (d / "cpu.max").read_text() == "7235 100000"
    assert group.procs_files() == [d / "cgroup.procs"]
    assert group.self_join_files() == [d / "cgroup.procs"]  # no single-thread move on v2
    assert group.open_self_join() == []
    (d / "memory.peak").write_text(str(70 * MB))
    assert group.peak_memory_bytes() == 70 * MB
    (d / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert group.oom_kills() == 1
    group.kill_all()
    assert (d / "cgroup.kill").read_text() == "1"


def test_v2_without_the_controllers_is_unusable(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    root.mkdir()
    (root / "cgroup.controllers").write_text("cpu io\n")
    assert detect_layout(root) is None


def test_v1_layout_limits_and_accounting(tmp_path: Path) -> None:
    root = _fake_v1(tmp_path / "cg")
    layout = detect_layout(root)
    assert layout is not None and layout.version == 1
    group = EnvironmentCgroup(layout, "env1")
    group.create(128, 512)
    mem = root / "memory" / "loam" / "env1"
    assert (mem / "memory.limit_in_bytes").read_text() == str(128 * MB)
    assert (mem / "memory.memsw.limit_in_bytes").read_text() == str(128 * MB)
    assert (root / "pids" / "loam" / "env1" / "pids.max").read_text() == "512"
    group.limit_cpu(512)
    cpu = root / "cpu" / "loam" / "env1"
    # The quota is per the kernel's default period (100 ms), which loam leaves alone.
    assert not (cpu / "cpu.cfs_period_us").exists()
    assert (cpu / "cpu.cfs_quota_us").read_text() == "28942"
    (mem / "memory.max_usage_in_bytes").write_text(str(12 * MB))
    assert group.peak_memory_bytes() == 12 * MB
    (mem / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert group.oom_kills() == 2
    # A single-threaded process moves itself through each hierarchy's ``tasks`` file.
    assert group.self_join_files() == [
        root / c / "loam" / "env1" / "tasks" for c in ("memory", "cpu", "pids")]


def test_remove_parent_only_when_empty(tmp_path: Path) -> None:
    root = _fake_v1(tmp_path / "cg")
    layout = detect_layout(root)
    assert layout is not None
    for controller in ("memory", "cpu", "pids"):
        (root / controller / "loam").mkdir()
    (root / "pids" / "loam" / "busy").mkdir()
    remove_parent(layout)
    assert not (root / "memory" / "loam").exists()
    assert (root / "pids" / "loam" / "busy").exists()
