"""The privileged half of an execution environment: runs as pid 1 inside
fresh mount/pid/ipc/uts/net namespaces (created by ``unshare``), builds the
environment's root file system, drops every privilege and ``exec``s the
runtime. Run as a script (``python -S -E jail.py SPEC_JSON``); it imports
only the standard library so it starts fast and stays small.

The root it builds is a read-only tmpfs holding:
- read-only bind mounts of the host's ``/usr`` (and ``/lib*``, ``/bin``,
  ``/sbin`` or their merged-/usr symlinks), the interpreter's prefix, the
  function's code at ``/var/task`` and the runtime at ``/var/runtime``;
- a private ``/tmp``: an ext4 loop disk of exactly EphemeralStorage MB when
  ``tmp_image`` is given, else a size-capped tmpfs;
- a fresh ``/proc`` (this pid namespace only), a minimal ``/dev`` and a
  generated ``/etc``.
Then: pivot_root, detach the host, uid/gid → unprivileged, no_new_privs,
rlimits, exec. Any failure exits 125 with the reason on stderr.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import socket
import struct
import subprocess
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
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
        "hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
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
    flags = MS_NOSUID | MS_NODEV
    image = spec.get("tmp_image")
    if image:
        # util-linux's mount allocates a loop device with autoclear, so the
        # device is released when this namespace's last reference goes.
        done = subprocess.run(["mount", "-t", "ext4", "-o", "loop,nosuid,nodev", image, target],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise OSError(f"mount /tmp disk: {done.stderr.strip()}")
    else:
        mount("tmpfs", target, "tmpfs", flags, f"size={spec['tmp_size_mb']}m,mode=1777")
    lost = os.path.join(target, "lost+found")
    if os.path.isdir(lost):
        os.rmdir(lost)
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


def drop_privileges(spec: dict) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (spec["nofile"], spec["nofile"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.setgroups([])
    os.setresgid(spec["gid"], spec["gid"], spec["gid"])
    os.setresuid(spec["uid"], spec["uid"], spec["uid"])
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise OSError("privileges were not dropped")


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        root = build_root(spec)
        enter_root(root)
        socket.sethostname(spec["hostname"])
        loopback_up()
        drop_privileges(spec)
        os.chdir("/var/task")
        os.set_inheritable(spec["channel_fd"], True)
        os.execve(spec["exec"][0], spec["exec"], spec["env"])
    except OSError as exc:
        sys.stderr.write(f"loam-jail: cannot set up the execution environment: {exc}\n")
        sys.stderr.flush()
        os._exit(125)


if __name__ == "__main__":
    main()
