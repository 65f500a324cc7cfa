"""Hostile functions: each attempt is contained inside its environment, and the
platform and other functions keep working afterwards."""

from __future__ import annotations

import errno
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, environment_ids
from tests.integration.sandbox_support import deploy, invoke

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def bystander(lam: Any) -> str:
    return deploy(lam, "bystander", "def handler(event, context):\n    return 'still here'\n")


def assert_platform_healthy(lam: Any, server: Server, bystander: str) -> None:
    """The server answers and an unrelated function still runs, promptly."""
    assert server.alive()
    started = time.monotonic()
    assert invoke(lam, bystander).ok() == "still here"
    assert time.monotonic() - started < 10


def environment_id(log_stream_name: str) -> str:
    """An environment's id is the hex suffix of its log stream name."""
    return log_stream_name.rsplit("]", 1)[1]


# -- file system ---------------------------------------------------------------

SEARCH_CODE = """
import os
import sys

SKIP = {"/proc", "/sys", "/dev", "/usr", sys.base_prefix}

def handler(event, context):
    found = []
    for top, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in SKIP]
        found += [os.path.join(top, f) for f in files if event["marker"] in f]
    mounts = open("/proc/self/mountinfo").read()
    return {
        "found": found,
        "task": sorted(os.listdir("/var/task")),
        "root": sorted(os.listdir("/")),
        "host_paths": {p: os.path.exists(p) for p in event["host_paths"]},
        "marker_in_mounts": event["marker"] in mounts,
    }
"""


def test_code_of_other_functions_is_invisible(lam: Any, server: Server, bystander: str) -> None:
    marker = f"secret_{time.monotonic_ns()}"
    victim = deploy(lam, "victim", {
        "index.py": "def handler(event, context):\n    return 'victim'\n",
        f"{marker}.py": "PASSWORD = 'hunter2'\n",
    })
    assert invoke(lam, victim).ok() == "victim"  # its environment is running too
    searcher = deploy(lam, "searcher", SEARCH_CODE, Timeout=30, MemorySize=512)
    host_paths = [str(server.data_dir), str(server.data_dir / "code"),
                  str(server.data_dir / "environments"), str(server.data_dir.parent)]
    body = invoke(lam, searcher, {"marker": marker, "host_paths": host_paths}).ok()
    assert body["found"] == []
    assert body["task"] == ["index.py"]
    assert body["host_paths"] == {p: False for p in host_paths}
    assert not body["marker_in_mounts"]
    assert ".oldroot" not in body["root"]
    assert_platform_healthy(lam, server, bystander)


def test_tmp_is_private_to_each_environment(lam: Any, server: Server, bystander: str) -> None:
    code = """
        import os

        def handler(event, context):
            if event.get("secret"):
                with open("/tmp/secret", "w") as fh:
                    fh.write(event["secret"])
            return sorted(os.listdir("/tmp"))
    """
    writer, reader = deploy(lam, "tmp-a", code), deploy(lam, "tmp-b", code)
    assert invoke(lam, writer, {"secret": "s3cr3t"}).ok() == ["secret"]
    assert invoke(lam, writer, {}).ok() == ["secret"]  # kept in its own warm environment
    assert invoke(lam, reader, {}).ok() == []
    assert_platform_healthy(lam, server, bystander)


def test_writes_outside_tmp_fail(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "readonly", """
        import os

        TARGETS = ["/var/task/x", "/var/task/index.py", "/x", "/etc/x", "/etc/passwd",
                   "/usr/x", "/usr/bin/x", "/var/runtime/bootstrap.py", "/opt/x", "/var/x"]

        def handler(event, context):
            result = {}
            for path in TARGETS:
                try:
                    with open(path, "a") as fh:
                        fh.write("owned")
                    result[path] = "written"
                except OSError as exc:
                    result[path] = exc.errno
            for path in ("/var/task", "/etc"):
                try:
                    os.mkdir(path + "/newdir")
                    result[path + "/newdir"] = "written"
                except OSError as exc:
                    result[path + "/newdir"] = exc.errno
            with open("/tmp/ok", "w") as fh:
                fh.write("fine")
            result["/tmp/ok"] = open("/tmp/ok").read()
            return result
    """)
    body = invoke(lam, name).ok()
    assert body.pop("/tmp/ok") == "fine"
    assert len(body) == 12
    assert all(code in (errno.EROFS, errno.EACCES) for code in body.values()), body
    assert_platform_healthy(lam, server, bystander)


# -- processes and privileges --------------------------------------------------

def test_host_processes_are_invisible(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "procs", """
        import os

        def cmdline(pid):
            try:
                return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\\0", b" ").decode()
            except OSError as exc:
                return f"unreadable: {exc.errno}"

        def handler(event, context):
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            return {"me": os.getpid(), "parent": os.getppid(),
                    "pids": {pid: cmdline(pid) for pid in pids}}
    """)
    body = invoke(lam, name).ok()
    pids = {int(pid): cmd for pid, cmd in body["pids"].items()}
    # Only the environment's init (pid 1) and the runtime itself.
    assert set(pids) == {1, body["me"]}, pids
    assert body["parent"] == 1
    assert "/var/runtime/bootstrap.py" in pids[body["me"]]
    assert "loam" not in pids[1] and "serve" not in pids[1]
    assert not any("pytest" in cmd or "loam serve" in cmd for cmd in pids.values())
    assert_platform_healthy(lam, server, bystander)


def test_no_host_file_descriptors_leak_in(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "fds", """
        import os
        import subprocess

        def handler(event, context):
            fds = {}
            for fd in os.listdir("/proc/self/fd"):
                try:
                    fds[fd] = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    pass  # the listing's own descriptor, already closed
            child = subprocess.run(["ls", "/proc/self/fd"], capture_output=True, text=True,
                                   close_fds=False)
            return {"fds": fds, "child": sorted(child.stdout.split(), key=int)}
    """)
    body = invoke(lam, name).ok()
    targets = sorted(body["fds"].values())
    assert targets[0] == "/dev/null"  # stdin
    assert [t.split(":")[0] for t in targets[1:]] == ["pipe", "pipe", "socket"], targets
    # Not even the channel to loam reaches a child process.
    assert len(body["child"]) == 4  # 0, 1, 2 and ls's own listing
    assert_platform_healthy(lam, server, bystander)


def test_runs_unprivileged(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "privs", """
        import ctypes
        import os
        import subprocess

        def attempt(action):
            try:
                action()
                return "allowed"
            except OSError as exc:
                return exc.errno

        def handler(event, context):
            libc = ctypes.CDLL(None, use_errno=True)

            def unshare_user():
                if libc.unshare(0x10000000) != 0:
                    raise OSError(ctypes.get_errno(), "unshare")

            def mount_tmpfs():
                if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
                    raise OSError(ctypes.get_errno(), "mount")

            def session_keyring():  # keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING)
                keyctl = {"x86_64": 250, "aarch64": 219}[os.uname().machine]
                if libc.syscall(keyctl, 0, -3, 0) < 0:
                    raise OSError(ctypes.get_errno(), "keyctl")

            status = dict(line.split(":\\t", 1) for line in
                          open("/proc/self/status").read().splitlines())
            tool = subprocess.run(["unshare", "--user", "--map-root-user", "id"],
                                  capture_output=True, text=True)
            return {
                "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
                "groups": os.getgroups(),
                "setuid": attempt(lambda: os.setuid(0)),
                "setgid": attempt(lambda: os.setgid(0)),
                "chroot": attempt(lambda: os.chroot("/tmp")),
                "mount": attempt(mount_tmpfs),
                "unshare_user": attempt(unshare_user),
                "unshare_tool": tool.returncode,
                "keyring": attempt(session_keyring),
                "kill_init": attempt(lambda: os.kill(1, 9)),
                "no_new_privs": status["NoNewPrivs"].strip(),
                "cap_eff": status["CapEff"].strip(),
                "cap_prm": status["CapPrm"].strip(),
                "seccomp": status["Seccomp"].strip(),
            }
    """)
    body = invoke(lam, name).ok()
    uid = body["ids"][0]
    assert uid != 0 and body["ids"] == [uid, uid, uid, uid]
    assert body["groups"] == []
    assert body["setuid"] == errno.EPERM
    assert body["setgid"] == errno.EPERM
    assert body["chroot"] == errno.EPERM
    assert body["mount"] == errno.EPERM
    assert body["unshare_user"] == errno.EPERM
    assert body["unshare_tool"] != 0
    assert body["keyring"] == errno.EPERM
    assert body["kill_init"] == errno.EPERM
    assert body["no_new_privs"] == "1"
    assert body["cap_eff"] == body["cap_prm"] == "0000000000000000"
    assert body["seccomp"] == "2"
    # The function still works after all that.
    assert invoke(lam, name).ok()["ids"] == body["ids"]
    assert_platform_healthy(lam, server, bystander)


THREAD_BOMB = """
import os
import subprocess
import threading
import time

def handler(event, context):
    started = 0
    try:
        for _ in range(2000):
            threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
            started += 1
    except RuntimeError as exc:
        thread_error = str(exc)
    else:
        thread_error = None
    try:
        os.fork() or os._exit(0)
        fork_error = None
    except OSError as exc:
        fork_error = exc.errno
    try:
        subprocess.run(["true"])
        spawn_error = None
    except OSError as exc:
        spawn_error = exc.errno
    return {"started": started, "thread_error": thread_error, "fork_error": fork_error,
            "spawn_error": spawn_error}
"""


def test_thread_and_fork_bomb_hit_the_pids_limit(
    lam: Any, server: Server, bystander: str
) -> None:
    name = deploy(lam, "threadbomb", THREAD_BOMB, Timeout=30, MemorySize=512)
    body = invoke(lam, name).ok()
    assert 900 < body["started"] < 1024
    assert body["thread_error"] == "can't start new thread"
    assert body["fork_error"] == errno.EAGAIN
    assert body["spawn_error"] == errno.EAGAIN
    assert_platform_healthy(lam, server, bystander)
    lam.delete_function(FunctionName=name)


def test_shell_fork_bomb_is_contained(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "forkbomb", """
        import subprocess
        import time

        def handler(event, context):
            print(context.log_stream_name, flush=True)
            subprocess.Popen(["/bin/sh", "-c", "bomb() { bomb | bomb & }; bomb"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
            return "returned"
    """, Timeout=5)
    result = invoke(lam, name)
    stream = result.log.splitlines()[1]
    env = environment_id(stream)
    # The bomb may starve its own runtime (CPU is shared within the environment):
    # either way it stays inside, capped in pids and CPU ...
    if result.function_error is None:
        assert result.payload == "returned"
        assert_platform_healthy(lam, server, bystander)
        assert env in environment_ids(server.data_dir)
    else:
        assert result.payload["errorType"] == "Sandbox.Timedout"
    assert_platform_healthy(lam, server, bystander)
    # ... until the environment is destroyed, all of it.
    lam.delete_function(FunctionName=name)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _cgroups_of(env):
        time.sleep(0.2)
    assert not _cgroups_of(env)
    assert not (server.data_dir / "environments" / env).exists()
    assert_platform_healthy(lam, server, bystander)


def test_output_flood_is_contained(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "flood", """
        import subprocess
        import time

        def handler(event, context):
            if event.get("start"):
                subprocess.Popen(["yes", "flood"])  # writes to the log pipe, forever
            time.sleep(event["sleep"])
            return "ok"
    """, Timeout=10)
    before = _rss_mb(server.process.pid)
    first = invoke(lam, name, {"start": True, "sleep": 0.5})
    assert first.ok() == "ok"
    assert "flood\n" in first.log and len(first.log.encode()) == 4096
    # Between invocations the flood is held back, and other functions run as usual.
    for _ in range(3):
        assert_platform_healthy(lam, server, bystander)
    second = invoke(lam, name, {"sleep": 0.5})
    assert second.ok() == "ok"
    assert second.report.request_id and not second.report.cold
    assert _rss_mb(server.process.pid) - before < 150
    lam.delete_function(FunctionName=name)
    assert_platform_healthy(lam, server, bystander)


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def _cgroups_of(environment: str) -> list[Path]:
    """The environment's cgroups that still exist (v1: one per controller; v2: one)."""
    root = Path("/sys/fs/cgroup")
    found = []
    for pattern in ("loam-*", "*/loam-*"):
        try:
            parents = list(root.glob(pattern))
        except FileNotFoundError:  # a node's parent cgroup went while listing
            parents = []
        found += [parent / environment for parent in parents
                  if (parent / environment).is_dir()]
    return found


# -- resources -----------------------------------------------------------------

def test_tmp_is_capped_at_ephemeral_storage(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "filltmp", """
        import os

        def handler(event, context):
            written = 0
            chunk = b"x" * (4 << 20)
            fd = os.open("/tmp/fill", os.O_WRONLY | os.O_CREAT)
            try:
                while written < (600 << 20):
                    written += os.write(fd, chunk)
                os.fsync(fd)
            except OSError as exc:
                return {"errno": exc.errno, "written_mb": written >> 20,
                        "stream": context.log_stream_name}
            finally:
                os.close(fd)
            return {"errno": None, "written_mb": written >> 20}
    """, Timeout=60, MemorySize=1769, EphemeralStorage={"Size": 512})  # a full vCPU: fast
    body = invoke(lam, name).ok()
    assert body["errno"] == errno.ENOSPC
    # All of the 512 MB are usable, and not much more.
    assert 512 <= body["written_mb"] < 560
    # On the host, the environment's disk never grows past its (sparse) size.
    image = server.data_dir / "environments" / environment_id(body["stream"]) / "tmp.img"
    if image.exists():  # a sized ext4 disk (else /tmp is a capped tmpfs)
        assert image.stat().st_size < 560 << 20
        assert image.stat().st_blocks * 512 <= image.stat().st_size
    assert_platform_healthy(lam, server, bystander)
    lam.delete_function(FunctionName=name)  # frees the disk now


def test_no_host_network(lam: Any, server: Server, bystander: str) -> None:
    name = deploy(lam, "network", """
        import socket

        def connect(host, port):
            try:
                socket.create_connection((host, port), timeout=2).close()
                return "connected"
            except OSError as exc:
                return exc.errno or type(exc).__name__

        def handler(event, context):
            listener = socket.create_server(("127.0.0.1", 0))
            port = listener.getsockname()[1]
            client = socket.create_connection(("127.0.0.1", port), timeout=2)
            peer, _ = listener.accept()
            client.sendall(b"ping")
            loopback = peer.recv(4).decode()
            try:
                socket.getaddrinfo("example.com", 443)
                dns = "resolved"
            except OSError as exc:
                dns = type(exc).__name__
            interfaces = [name for _, name in socket.if_nameindex()]
            return {
                "loopback": loopback,
                "interfaces": interfaces,
                "server": connect("127.0.0.1", event["port"]),
                "host": connect(event["host_ip"], event["port"]),
                "outside": connect("192.0.2.1", 80),
                "dns": dns,
            }
    """, Timeout=20)
    body = invoke(lam, name, {"port": server.port, "host_ip": _host_ip()}).ok()
    assert body["loopback"] == "ping"
    assert body["interfaces"] == ["lo"]
    assert body["server"] == errno.ECONNREFUSED
    unreachable = (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED)
    assert body["host"] in unreachable
    assert body["outside"] in unreachable
    assert body["dns"] == "gaierror"
    assert_platform_healthy(lam, server, bystander)


def _host_ip() -> str:
    """An address of this host other than loopback (a placeholder if it has none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            return str(s.getsockname()[0])
        except OSError:
            return "10.0.0.1"
