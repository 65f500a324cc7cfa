"""The fork server of a template (imported by bootstrap.py in template mode).

A template's runtime has run Init once; it then waits for ``fork`` commands
on its control socket. Each command brings (SCM_RIGHTS) the new
environment's channel, its status pipe's write end, its log pipe's write
end and, on cgroup v1, its cgroup's ``tasks`` files (``joins`` of them).
The template makes G, pid 1 of a new pid namespace, directly (a ``clone``
with CLONE_NEWPID: see ``_clone_pid1``), which:

1. joins the new environment's cgroup: on cgroup v1 it moves itself, writing
   ``0`` to the ``tasks`` files whose descriptors came with the command
   (loam opened them); otherwise it says ``hello`` on the new channel (loam
   reads G's host pid from the socket's SCM_CREDENTIALS and moves G) and
   waits for ``go``;
2. unshares mount, ipc, uts and net namespaces (it holds CAP_SYS_ADMIN
   and CAP_NET_ADMIN in the template's user namespace), says ``unshared``
   (loam reads G's pid from it and mounts the environment's own /tmp disk
   into G's mount namespace), waits for ``go``;
3. sets the hostname, mounts a fresh /dev/shm and /proc, brings the
   loopback up, forks H, drops every capability, then reaps orphans and
   reports how H ended on the status pipe, as the jail's init does.

Where the clone is not available (an architecture without its number
here), the template forks C instead, which does steps 1 and 2 with the
pid namespace among those it unshares, then forks G and exits. H drops
every capability, refuses itself signals to pid 1, says ``prepared`` and
waits for a last ``go`` (without a time limit: loam prepares one fork ahead
of need, a *spare*, and sends it when an environment is wanted); then it
re-seeds randomness, runs the after-restore hooks and returns to
bootstrap's invocation loop on the new channel.

Standard library only; runs on every supported Python (3.9+).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x20000, 0x4000000, 0x8000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_CAP_VERSION_3 = 0x20080522
_HEADER = struct.Struct("!II")

_libc = ctypes.CDLL(None, use_errno=True)
# The same library, called with the interpreter lock held (fork's own rule).
_pylibc = ctypes.PyDLL(None, use_errno=True)
_pylibc.syscall.restype = ctypes.c_long
_CLONE_SYSCALL = {"x86_64": 56, "aarch64": 220}


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str, dst: str, fstype: str, flags: int, data: str = "") -> None:
    _check(_libc.mount(src.encode(), dst.encode(), fstype.encode(), ctypes.c_ulong(flags),
                       data.encode() if data else None), "mount " + dst)


# kill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo: the calls that signal a pid.
_SIGNAL_CALLS = {
    "x86_64": (0xC000003E, (62, 234, 129, 297)),
    "aarch64": (0xC00000B7, (129, 131, 138, 240)),
}
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


def refuse_signalling_init() -> None:
    """Signalling pid 1 fails with EPERM, as in a fresh environment.

    There, pid 1 (the reaper) runs as another user; here G runs as the
    runtime's own user (changing it needs CAP_SETUID, which no template
    holds), so the kernel would accept and silently ignore the signal.
    A seccomp filter restores the fresh environment's answer.
    """
    machine = os.uname().machine
    if machine not in _SIGNAL_CALLS:
        raise OSError(f"no seccomp filter for the {machine} architecture")
    arch, numbers = _SIGNAL_CALLS[machine]
    ld, jeq, ret = 0x20, 0x15, 0x06
    allow, eperm = 0x7FFF0000, 0x00050000 | 1
    prog = [(ld, 0, 0, 4), (jeq, 0, 9, arch), (ld, 0, 0, 0)]
    prog += [(jeq, 7 - i, 0, nr) for i, nr in enumerate(numbers, start=3)]
    prog += [(ret, 0, 0, allow), (ld, 0, 0, 16), (jeq, 0, 1, 1), (ret, 0, 0, eperm),
             (ret, 0, 0, allow)]
    code = b"".join(struct.pack("=HBBI", *insn) for insn in prog)
    filters = (ctypes.c_ubyte * len(code)).from_buffer_copy(code)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(filters))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
           "seccomp")


def drop_capabilities() -> None:
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient")
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def _loopback_up() -> None:
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _send(sock: socket.socket, header: dict) -> None:
    head = json.dumps(header).encode()
    sock.sendall(_HEADER.pack(len(head), 0) + head)


def _exact(sock: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return out


def _recv(sock: socket.socket) -> dict:
    head_len, body_len = _HEADER.unpack(_exact(sock, _HEADER.size))
    header = json.loads(_exact(sock, head_len))
    if body_len:
        _exact(sock, body_len)
    return header


def _expect_go(sock: socket.socket) -> dict:
    header = _recv(sock)
    if header.get("type") != "go":
        raise OSError("loam refused the fork: {}".format(header.get("error", header)))
    return header


def forkable() -> str | None:
    """Why this process cannot serve as a template, or None."""
    if threading.active_count() > 1:
        return "Init left threads running"
    try:
        if os.listdir("/tmp"):
            return "Init left files in /tmp"
    except OSError as exc:
        return f"cannot list /tmp: {exc}"
    return None


def run_hooks(getter: str) -> None:
    module = sys.modules.get("snapshot_restore_py")
    if module is None:
        return
    for func, args, kwargs in getattr(module, getter)():
        func(*args, **kwargs)


def serve(channel, control_fd: int) -> None:
    """Fork environments until loam closes the control socket.

    Returns only in H, the new environment's runtime, with ``channel``
    rebound to the new environment's channel.
    """
    control = socket.socket(fileno=control_fd)
    # Each G is this process's child for as long as its environment lives: collect
    # it as soon as it ends (the blocking receive below resumes after the handler).
    signal.signal(signal.SIGCHLD, lambda _signum, _frame: _reap_forks())
    clone = _CLONE_SYSCALL.get(os.uname().machine)
    # Init's objects never move again: the collector leaves them alone, so forks
    # do not copy the pages they live on just by collecting (less memory each).
    gc.freeze()
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(control, 1 << 16, 16)
        except OSError:
            os._exit(0)
        if not msg:
            os._exit(0)
        request = json.loads(msg)
        request["received"] = time.monotonic()
        if len(fds) != 3 + request.get("joins", 0):
            for fd in fds:
                os.close(fd)
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        pid = _clone_pid1(clone) if clone is not None else os.fork()
        if pid == 0:
            try:
                _child(channel, control, request, fds, pid1=clone is not None)
                return  # H: serve invocations
            except BaseException as exc:  # the fork failed: tell loam, leave
                try:
                    os.write(2, (f"loam-template: fork failed: {exc!r}\n").encode())
                finally:
                    os._exit(125)
        for fd in fds:
            os.close(fd)
        _reap_forks()


def _clone_pid1(number: int) -> int:
    """``os.fork()``, except that the child is pid 1 of a new pid namespace.

    ``os.fork`` takes no flags, and ``unshare(CLONE_NEWPID)`` here would put
    every later fork in that one namespace. So: the ``clone`` system call as
    glibc's fork makes it (no new stack: the child runs on a copy of this
    one), between the interpreter's own before- and after-fork steps, the
    interpreter lock held throughout. What glibc's fork also does, the child
    does not need: the template has one thread, so no lock can be held
    elsewhere; glibc's record of the thread id stays the template's, which
    G never uses (a thread signalling itself asks the kernel for its id),
    and H, forked normally, gets its own.
    """
    _pylibc.PyOS_BeforeFork()
    pid = _pylibc.syscall(ctypes.c_long(number), ctypes.c_ulong(CLONE_NEWPID | signal.SIGCHLD),
                          ctypes.c_void_p(0), ctypes.c_void_p(0), ctypes.c_void_p(0),
                          ctypes.c_void_p(0))
    err = ctypes.get_errno()
    if pid == 0:
        _pylibc.PyOS_AfterFork_Child()
        return 0
    _pylibc.PyOS_AfterFork_Parent()
    if pid < 0:
        raise OSError(err, f"clone: {os.strerror(err)}")
    return pid


def _reap_forks() -> None:
    """Collect the children (G, or C) that ended; never wait for one.

    A fork prepared ahead of need waits for loam's last ``go`` for as long
    as it stays spare, so the template goes on serving meanwhile.
    """
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return


def _child(channel, control: socket.socket, request: dict, fds: list, pid1: bool) -> None:
    """G (``pid1``: already pid 1 of its pid namespace), or C, which makes G."""
    forked = time.monotonic()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # not the template's reaper: G waits for H
    chan_fd, status_fd, out_fd, *joins = fds
    stamps = {"received": request["received"], "forked": forked}
    # 1. Join the new environment's cgroup: this process moves itself, through the
    #    v1 ``tasks`` files loam opened (it has one thread), else loam moves it.
    for fd in joins:
        os.write(fd, b"0")
        os.close(fd)
    control.close()
    channel.sock.close()
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.close(out_fd)
    sock = socket.socket(fileno=chan_fd)
    sock.settimeout(10)
    if not joins:
        _send(sock, dict(stamps, type="hello"))
        _expect_go(sock)
        stamps = {}
    # 2. new namespaces; loam mounts /tmp into the new mount namespace.
    flags = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET
    _check(_libc.unshare(flags if pid1 else flags | CLONE_NEWPID), "unshare")
    _send(sock, dict(stamps, type="unshared"))
    go = _expect_go(sock)
    if go.get("tmpfs_mb"):
        _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
               "size={}m,mode=1777".format(go["tmpfs_mb"]))
    socket.sethostname(request["hostname"])
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")
    if not pid1 and os.fork() != 0:
        os._exit(0)  # C is done; the template reaps it
    # G: pid 1 of the new pid namespace.
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _loopback_up()
    runtime = os.fork()
    if runtime == 0:
        _become_runtime(channel, sock, status_fd, request)
        return
    sock.close()
    try:
        drop_capabilities()
        os.closerange(3, status_fd)
        os.closerange(status_fd + 1, 1024)
        _reap(runtime, status_fd)
    finally:
        os._exit(0)


def _reap(runtime: int, status_fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    while True:
        pid, status = os.wait()
        if pid == runtime:
            break
    if os.WIFSIGNALED(status):
        report = f"signal {os.WTERMSIG(status)}"
    else:
        report = f"exit {os.WEXITSTATUS(status)}"
    with contextlib.suppress(OSError):
        os.write(status_fd, report.encode())


def _become_runtime(channel, sock: socket.socket, status_fd: int, request: dict) -> None:
    """H: the new environment's runtime, unprivileged, on its own channel."""
    os.close(status_fd)
    drop_capabilities()
    refuse_signalling_init()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sock.settimeout(None)
    sock.set_inheritable(False)
    # Prepared: a spare waits here, isolated and unprivileged, until it is needed.
    _send(sock, {"type": "prepared"})
    _expect_go(sock)
    channel.rebind(sock)
    os.environ.update(request.get("env", {}))
    random.seed()
    run_hooks("get_after_restore")
