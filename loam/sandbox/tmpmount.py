"""The privileged helper that gives a forked environment its own /tmp disk.

ext4 cannot be mounted inside a user namespace, so loam keeps this small,
single-threaded root process (``setns`` into a mount namespace is refused to
multi-threaded processes such as the server). Per request line
``TICKET HOST_PID UID IMAGE`` on stdin it attaches the pre-formatted ext4 image to
a loop device (autoclear), mounts it detached (``fsopen``/``fsmount``, never
visible on the host), gives its root to ``UID`` (mode 1777; images are
formatted root-owned so one serves every environment), enters the mount
namespace of ``HOST_PID``, moves the mount onto its ``/tmp`` (``move_mount``)
and returns to its own namespace; the image file goes once mounted (its loop
device keeps the disk). A request
``TICKET stock - IMAGE`` instead mounts the image ahead of need and keeps it;
``-`` as the IMAGE of a later request places the oldest disk so kept. It answers
``TICKET ok`` or ``TICKET error: …`` on one line (the ticket pairs answers with
requests). The loop device goes when the last mount of the
disk does, with the environment's mount namespace.

Run as a script (``python -S -E tmpmount.py``); standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import struct
import sys

# The same numbers on x86_64 and aarch64.
SYS_MOVE_MOUNT, SYS_FSOPEN, SYS_FSCONFIG, SYS_FSMOUNT = 429, 430, 431, 432
FSOPEN_CLOEXEC, FSMOUNT_CLOEXEC = 1, 1
FSCONFIG_SET_STRING, FSCONFIG_CMD_CREATE = 1, 6
MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x2, 0x4
AT_FDCWD = -100
MOVE_MOUNT_F_EMPTY_PATH = 0x4
CLONE_NEWNS = 0x20000
LOOP_CTL_GET_FREE, LOOP_CONFIGURE = 0x4C82, 0x4C0A
LO_FLAGS_AUTOCLEAR = 4
# struct loop_config: fd, block_size, struct loop_info64 (232 bytes), 8 reserved u64.
LOOP_CONFIG_SIZE, LO_FLAGS_OFFSET = 8 + 232 + 64, 8 + 52

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


def _syscall(nr: int, *args: object, what: str) -> int:
    ret = int(_libc.syscall(nr, *args))
    if ret < 0:
        raise _fail(what)
    return ret


def _loop_device(image: str) -> int:
    """A free loop device backed by ``image`` (autoclear), opened; its descriptor."""
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(100):  # other helpers and jails race for the same free device
                number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
                device = os.open(f"/dev/loop{number}", os.O_RDWR | os.O_CLOEXEC)
                config = bytearray(LOOP_CONFIG_SIZE)
                struct.pack_into("=II", config, 0, backing, 0)
                struct.pack_into("=I", config, LO_FLAGS_OFFSET, LO_FLAGS_AUTOCLEAR)
                try:
                    fcntl.ioctl(device, LOOP_CONFIGURE, bytes(config))
                except OSError as exc:
                    os.close(device)
                    if exc.errno == errno.EBUSY:
                        continue
                    raise
                return device
            raise OSError("no free loop device")
        finally:
            os.close(control)
    finally:
        os.close(backing)


def _detached_mount(image: str) -> int:
    """The image's ext4 as a mount not attached anywhere yet (fsopen/fsmount)."""
    device = _loop_device(image)
    try:
        fs = _syscall(SYS_FSOPEN, b"ext4", FSOPEN_CLOEXEC, what="fsopen")
        try:
            source = f"/dev/loop{os.minor(os.fstat(device).st_rdev)}".encode()
            _syscall(SYS_FSCONFIG, fs, FSCONFIG_SET_STRING, b"source", source, 0,
                     what="fsconfig source")
            _syscall(SYS_FSCONFIG, fs, FSCONFIG_CMD_CREATE, None, None, 0, what="mount ext4")
            return _syscall(SYS_FSMOUNT, fs, FSMOUNT_CLOEXEC,
                            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, what="fsmount")
        finally:
            os.close(fs)
    finally:
        os.close(device)  # the mount holds the device now; autoclear frees it after


def _prepare_root(tree: int, uid: int) -> None:
    """The disk's root as /tmp wants it: no lost+found, owned by ``uid``, mode 1777."""
    with contextlib.suppress(FileNotFoundError):
        os.rmdir("lost+found", dir_fd=tree)
    os.chown(f"/proc/self/fd/{tree}", uid, uid)
    os.chmod(f"/proc/self/fd/{tree}", 0o1777)


def mount_here(image: str, target: str, uid: int) -> None:
    """Mount ``image`` on ``target`` in this process's own mount namespace (a fresh
    environment's jail: no ``mount`` program, no loop device search by hand)."""
    tree = _detached_mount(image)
    try:
        _prepare_root(tree, uid)
        _syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(), MOVE_MOUNT_F_EMPTY_PATH,
                 what="move_mount")
    finally:
        os.close(tree)


# Disks mounted ahead of need (``stock`` requests), oldest first: detached mounts
# held by descriptor only, so they vanish, loop devices and all, if this process does.
_STOCK: list[int] = []


def stock(image: str) -> None:
    """Mount ``image`` detached and keep it for a later ``place`` of ``-``; the image
    file goes (its loop device keeps the disk until the mount is gone)."""
    tree = _detached_mount(image)
    os.unlink(image)
    _STOCK.append(tree)


def place(pid: int, image: str, uid: int) -> None:
    """Mount ``image`` (``-``: the oldest stocked disk) on /tmp in ``pid``'s mount
    namespace, its root owned by ``uid``."""
    if image == "-":
        if not _STOCK:
            raise OSError("no stocked disk")
        tree = _STOCK.pop(0)
    else:
        tree = _detached_mount(image)
    try:
        if image != "-":
            # As ``stock``: the disk now lives exactly as long as its mount. (loam
            # unlinks it itself when it gives up a request being served.)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(image)
        _prepare_root(tree, uid)
        own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        target = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        try:
            if _libc.setns(target, CLONE_NEWNS) != 0:
                raise _fail("setns")
            try:
                _syscall(SYS_MOVE_MOUNT, tree, b"", AT_FDCWD, b"/tmp", MOVE_MOUNT_F_EMPTY_PATH,
                         what="move_mount")
            finally:
                if _libc.setns(own, CLONE_NEWNS) != 0:
                    os._exit(1)  # stranded in another namespace: loam starts a new helper
                os.chdir("/")
        finally:
            os.close(target)
            os.close(own)
    finally:
        os.close(tree)


def main() -> None:
    for line in sys.stdin:
        ticket = "?"
        try:
            ticket, pid, uid, image = line.split(None, 3)
            image = image.strip()
            if pid == "stock":
                stock(image)
            else:
                place(int(pid), image, int(uid))
            answer = "ok"
        except (OSError, ValueError) as exc:
            answer = f"error: {exc}"
        sys.stdout.write(f"{ticket} {answer}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
