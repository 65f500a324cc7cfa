"""The privileged half of an execution environment: runs as pid 1 inside
fresh mount/pid/ipc/uts/net namespaces (created by ``unshare``), builds the
environment's root file system, then splits in two:

- the runtime (pid 2): drops every privilege and ``exec``s the runtime;
- the init (pid 1): drops to ``nobody`` and ``exec``s a tiny reaper that
  collects every orphan of the environment (so zombies never pile up against
  its pids limit) and, when the runtime exits, writes how it ended
  (``exit N`` / ``signal N``) to the status descriptor and exits; the kernel
  then kills whatever is left in the namespace.

Run as a script (``python -S -E jail.py SPEC_JSON``); it imports only the
standard library so it starts fast and stays small.

The root it builds is a read-only tmpfs holding:
- read-only bind mounts of the host's ``/usr`` (and ``/lib*``, ``/bin``,
  ``/sbin`` or their merged-/usr symlinks), the interpreter's prefix, the
  function's code at ``/var/task`` and the runtime at ``/var/runtime``;
- a private ``/tmp``: an ext4 loop disk of exactly EphemeralStorage MB when
  ``tmp_image`` is given, else a size-capped tmpfs;
- a fresh ``/proc`` (this pid namespace only), a minimal ``/dev`` and a
  generated ``/etc``.
Then: pivot_root, detach the host, uid/gid → unprivileged, no_new_privs,
rlimits, a seccomp filter, exec. Any failure exits 125 with the reason on
stderr.

The seccomp filter refuses (EPERM) what an unprivileged process could still
use to widen its reach: new user namespaces (``unshare``/``clone`` with
CLONE_NEWUSER; ``clone3`` answers ENOSYS so libc falls back to ``clone``,
whose flags the filter can read), the kernel keyring (shared by every
process of a uid), and any other syscall ABI than the native one.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
PR_SET_NO_NEW_PRIVS = 38
NOBODY = 65534
# What uid/gid 0 maps to in a template's user namespace: an id that owns nothing.
# Mapping it makes setuid(0)/setgid(0) fail with EPERM, as in a fresh
# environment, instead of EINVAL for an unmapped id.
TEMPLATE_ROOT = 65533
SYS_PIVOT_ROOT = 155  # x86_64
if os.uname().machine == "aarch64":
    SYS_PIVOT_ROOT = 41

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def mount(src: str, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None,
                       ctypes.c_ulong(flags), data.encode() if data else None), f"mount {dst}")


def bind_ro(src: str, dst: str) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    mount(src, dst, None, MS_BIND | MS_REC)
    mount("none", dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_REC)


def build_root(spec: dict) -> str:
    root = spec["root"]
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), os.path.join(root, name))
        elif os.path.isdir(host):
            bind_ro(host, os.path.join(root, name))
    for host, target in spec["ro_binds"]:
        bind_ro(host, root + target)
    make_dev(root)
    make_etc(root, spec)
    for d in ("proc", "tmp", "var/task", "var/runtime", "opt", ".oldroot"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    mount_tmp(spec, os.path.join(root, "tmp"))
    return root


def make_dev(root: str) -> None:
    dev = os.path.join(root, "dev")
    os.makedirs(dev)
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for node in ("null", "zero", "full", "random", "urandom", "tty"):
        target = os.path.join(dev, node)
        open(target, "a").close()
        mount("/dev/" + node, target, None, MS_BIND)
    os.symlink("/proc/self/fd", os.path.join(dev, "fd"))
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", os.path.join(dev, name))
    os.makedirs(os.path.join(dev, "shm"))
    mount("tmpfs", os.path.join(dev, "shm"), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=1777")


def make_etc(root: str, spec: dict) -> None:
    etc = os.path.join(root, "etc")
    os.makedirs(etc)
    uid, gid = spec["uid"], spec["gid"]
    files = {
        "passwd": f"root:x:0:0:root:/root:/sbin/nologin\n"
                  f"sbx_user1051:x:{uid}:{gid}::/tmp:/sbin/nologin\n",
        "group": f"root:x:0:\nsbx_user1051:x:{gid}:\n",
        # sandbox.localdomain: where extensions' Telemetry API listeners are (AWS's name).
        "hosts": "127.0.0.1\tlocalhost sandbox.localdomain sandbox\n::1\tlocalhost\n",
        "hostname": spec["hostname"] + "\n",
        "resolv.conf": "nameserver 127.0.0.1\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
    }
    for name, text in files.items():
        with open(os.path.join(etc, name), "w") as fh:
            fh.write(text)
    for shared in ("ssl", "ca-certificates", "alternatives", "ld.so.cache", "ld.so.conf",
                   "ld.so.conf.d", "localtime", "mime.types"):
        host = "/etc/" + shared
        if os.path.exists(host):
            bind_ro(os.path.realpath(host), os.path.join(etc, shared))


def mount_tmp(spec: dict, target: str) -> None:
    image = spec.get("tmp_image")
    if image:
        # The /tmp helper's own code, in this process: a loop device with autoclear
        # (released when this namespace's last reference goes), ext4 mounted with
        # fsopen/fsmount and moved onto /tmp, its root given to the runtime's uid
        # (ready images are formatted root-owned). No ``mount`` program to run.
        import tmpmount

        try:
            tmpmount.mount_here(image, target, spec["uid"])
        except OSError as exc:
            raise OSError(f"mount /tmp disk: {exc}") from exc
        return
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
          f"size={spec['tmp_size_mb']}m,mode=1777")
    os.chmod(target, 0o1777)


def enter_root(root: str) -> None:
    old = os.path.join(root, ".oldroot")
    _check(_libc.syscall(SYS_PIVOT_ROOT, root.encode(), old.encode()), "pivot_root")
    os.chdir("/")
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _check(_libc.umount2(b"/.oldroot", MNT_DETACH), "umount old root")
    os.rmdir("/.oldroot")
    mount("none", "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def loopback_up() -> None:
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(s, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


# The init's whole program, run by the runtime's interpreter (any Python 3). A failed
# status write means the server is gone: nobody is left to tell.
REAPER = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
runtime, status_fd = int(sys.argv[1]), int(sys.argv[2])
while True:
    pid, status = os.wait()
    if pid == runtime:
        break
if os.WIFSIGNALED(status):
    report = "signal %d" % os.WTERMSIG(status)
else:
    report = "exit %d" % os.WEXITSTATUS(status)
try:
    os.write(status_fd, report.encode())
except OSError:
    pass
os._exit(0)
"""


# -- seccomp -------------------------------------------------------------------

CLONE_NEWUSER = 0x10000000
X32_SYSCALL_BIT = 0x40000000
# arch → (AUDIT_ARCH_*, {name: number}) for the syscalls the filter inspects.
_SYSCALLS = {
    "x86_64": (0xC000003E, {"unshare": 272, "clone": 56, "clone3": 435, "add_key": 248,
                            "request_key": 249, "keyctl": 250}),
    "aarch64": (0xC00000B7, {"unshare": 97, "clone": 220, "clone3": 435, "add_key": 217,
                             "request_key": 218, "keyctl": 219}),
}
_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _ERRNO, _KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_OFFSET_NR, _OFFSET_ARCH, _OFFSET_ARG0 = 0, 4, 16
EPERM, ENOSYS = 1, 38


def seccomp_program(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jt, jf, k) instructions; OSError for unknown machines."""
    if machine not in _SYSCALLS:
        raise OSError(f"no seccomp filter for the {machine} architecture")
    arch, nr = _SYSCALLS[machine]
    deny, nosys = _ERRNO | EPERM, _ERRNO | ENOSYS
    prog = [
        (_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_JEQ, 1, 0, arch),
        (_RET, 0, 0, _KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if machine == "x86_64":
        prog += [(_JGE, 0, 1, X32_SYSCALL_BIT), (_RET, 0, 0, deny)]
    for name in ("add_key", "request_key", "keyctl"):
        prog += [(_JEQ, 0, 1, nr[name]), (_RET, 0, 0, deny)]
    prog += [(_JEQ, 0, 1, nr["clone3"]), (_RET, 0, 0, nosys)]
    # unshare(flags) and clone(flags, ...): refuse CLONE_NEWUSER in the first argument.
    prog += [
        (_JEQ, 1, 0, nr["unshare"]),
        (_JEQ, 0, 3, nr["clone"]),
        (_LD_W_ABS, 0, 0, _OFFSET_ARG0),
        (_JSET, 0, 1, CLONE_NEWUSER),
        (_RET, 0, 0, deny),
        (_RET, 0, 0, _ALLOW),
    ]
    return prog


def install_seccomp() -> None:
    """Load the filter into this process; it is inherited by every child. Needs no_new_privs."""
    prog = seccomp_program(os.uname().machine)
    filters = (ctypes.c_ubyte * (8 * len(prog))).from_buffer_copy(
        b"".join(struct.pack("=HBBI", *insn) for insn in prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.addressof(filters))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
           "seccomp")


def drop_privileges(uid: int, gid: int, nofile: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("privileges were not dropped")
    install_seccomp()


def become_runtime(spec: dict) -> None:
    """pid 2: the unprivileged runtime, with only the channel and stdio open."""
    os.close(spec["status_fd"])
    for fd in spec.get("extra_fds", []):
        os.close(fd)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    drop_privileges(spec["uid"], spec["gid"], spec["nofile"])
    os.chdir("/var/task")
    os.set_inheritable(spec["channel_fd"], True)
    os.execve(spec["exec"][0], spec["exec"], spec["env"])


PR_SET_DUMPABLE = 4
PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 47, 2
CAP_NET_ADMIN, CAP_SYS_ADMIN = 12, 21
_CAP_VERSION_3 = 0x20080522


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def keep_ambient(caps: list[int]) -> None:
    """Make ``caps`` (held in this process's user namespace) survive ``execve``."""
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capget(header, data), "capget")
    for cap in caps:
        data[2 + 3 * (cap // 32)] |= 1 << (cap % 32)  # inheritable
    _check(_libc.capset(header, data), "capset")
    for cap in caps:
        _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0), "ambient caps")


def become_template_runtime(spec: dict, created: int, mapped: int) -> None:
    """pid 2 of a template: unprivileged uid inside a user namespace of its own.

    Its uid maps to itself (Init sees what a fresh environment's runtime
    sees) and 0 to ``TEMPLATE_ROOT``; pid 1, still privileged, writes the
    maps (``map_template_ids``) between ``created`` and ``mapped``. It keeps
    CAP_SYS_ADMIN and CAP_NET_ADMIN there, as ambient capabilities, so the
    forks it makes can create their own namespaces. The user namespace is
    created before the seccomp filter, which refuses any further one.
    """
    os.close(spec["status_fd"])
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    uid, gid, nofile = spec["uid"], spec["gid"], spec["nofile"]
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
    _check(_libc.unshare(CLONE_NEWUSER), "unshare user namespace")
    os.write(created, b"u")
    os.close(created)
    if os.read(mapped, 1) != b"m":
        raise OSError("the user namespace's id maps were not written")
    os.close(mapped)
    keep_ambient([CAP_SYS_ADMIN, CAP_NET_ADMIN])
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError("privileges were not dropped")
    install_seccomp()
    os.chdir("/var/task")
    for fd in [spec["channel_fd"], *spec.get("extra_fds", [])]:
        os.set_inheritable(fd, True)
    os.execve(spec["exec"][0], spec["exec"], spec["env"])


def map_template_ids(spec: dict, runtime: int, created: int, mapped: int) -> None:
    """Write the template runtime's id maps from outside its user namespace.

    Only a process privileged in the parent namespace may map more than its
    own id; the runtime, already unprivileged, cannot.
    """
    if os.read(created, 1) != b"u":
        raise OSError("the template runtime did not create its user namespace")
    uid, gid = spec["uid"], spec["gid"]
    _write_file(f"/proc/{runtime}/setgroups", "deny")
    _write_file(f"/proc/{runtime}/uid_map", f"0 {TEMPLATE_ROOT} 1\n{uid} {uid} 1\n")
    _write_file(f"/proc/{runtime}/gid_map", f"0 {TEMPLATE_ROOT} 1\n{gid} {gid} 1\n")
    os.write(mapped, b"m")
    os.close(created)
    os.close(mapped)


def become_init(spec: dict, runtime: int) -> None:
    """pid 1: reap orphans until the runtime exits, then report how it ended."""
    os.close(spec["channel_fd"])
    for fd in spec.get("extra_fds", []):
        os.close(fd)
    drop_privileges(NOBODY, NOBODY, 64)
    # Changing credentials cleared the parent-death signal ``unshare`` set.
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    os.set_inheritable(spec["status_fd"], True)
    interpreter = spec.get("init_python") or spec["exec"][0]
    os.execve(interpreter, [interpreter, "-I", "-S", "-c", REAPER, str(runtime),
                            str(spec["status_fd"])], {})


def close_strays(keep: list[int]) -> None:
    """Close every descriptor but stdio and ``keep``: whatever else this process
    inherited (another environment's pipe, spawned at the same moment by a loop
    that marks passed descriptors inheritable for a while) stays outside."""
    low = 0
    for fd in sorted({0, 1, 2, *keep}):
        if low < fd:  # an empty range must not reach it: closerange(0, 0) closes all
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        close_strays([spec["channel_fd"], spec["status_fd"], *spec.get("extra_fds", [])])
        root = build_root(spec)
        enter_root(root)
        socket.sethostname(spec["hostname"])
        loopback_up()
        template = bool(spec.get("template"))
        if template:
            created_r, created_w = os.pipe()
            mapped_r, mapped_w = os.pipe()
        runtime = os.fork()
        if runtime == 0 and template:
            os.close(created_r)
            os.close(mapped_w)
            become_template_runtime(spec, created_w, mapped_r)
        elif runtime == 0:
            become_runtime(spec)
        else:
            if template:
                os.close(created_w)
                os.close(mapped_r)
                map_template_ids(spec, runtime, created_r, mapped_w)
            become_init(spec, runtime)
    except OSError as exc:
        sys.stderr.write(f"loam-jail: cannot set up the execution environment: {exc}\n")
        sys.stderr.flush()
        os._exit(125)


if __name__ == "__main__":
    main()
