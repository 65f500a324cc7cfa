"""Deployment packages: checked on upload, unpacked once per content.

A package is inspected before anything is stored: it must be a zip, every
entry must stay inside the package (no absolute paths, no ``..``), and the
unzipped size must respect the 250 MB limit by declaration *and* in fact
(a zip bomb that lies in its headers is cut off while unpacking). Unpacked
code lives at ``<data>/code/<sha256>``, read-only to functions, built in a
temporary directory and renamed into place, so it is complete or absent.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from loam.errors import InvalidParameterValueException, RequestTooLargeException
from loam.store.blobs import BlobStore

__all__ = ["UNZIPPED_LIMIT", "ZIPPED_LIMIT", "CodeCache", "PackageInfo", "inspect_package"]

ZIPPED_LIMIT = 50 * 1024 * 1024
UNZIPPED_LIMIT = 262_144_000
_STAGING = ".unpack-"
_UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class PackageInfo:
    size: int
    unzipped_size: int


def _safe_name(name: str) -> PurePosixPath | None:
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return None
    path = PurePosixPath(name)
    if not path.parts or any(part in ("..", "") for part in path.parts) or "\x00" in name:
        return None
    return path


def inspect_package(data: bytes) -> PackageInfo:
    if len(data) > ZIPPED_LIMIT:
        raise RequestTooLargeException(
            f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidParameterValueException(_UNZIP_ERROR) from exc
    total = 0
    for info in infos:
        if _safe_name(info.filename) is None:
            raise InvalidParameterValueException(_UNZIP_ERROR)
        total += info.file_size
    if total > UNZIPPED_LIMIT:
        raise InvalidParameterValueException(
            f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
        )
    return PackageInfo(size=len(data), unzipped_size=total)


class CodeCache:
    def __init__(self, blobs: BlobStore, root: Path) -> None:
        self.blobs = blobs
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        self._lock = threading.Lock()
        for leftover in root.glob(_STAGING + "*"):  # cut short by a crash
            shutil.rmtree(leftover, ignore_errors=True)

    def path(self, digest: str) -> Path:
        return self.root / digest

    def ensure(self, digest: str) -> Path:
        """Unpack the package with this digest if not done yet; return its directory."""
        return self._build(self.path(digest), lambda staging: _unpack(self.blobs.get(digest),
                                                                      staging))

    def ensure_layers(self, digests: tuple[str, ...]) -> Path | None:
        """The merged ``/opt`` of these layers, in order (later layers win), or None.

        Built once per sequence of digests next to the unpacked packages, from
        hard links to them, so it costs directory entries, not copies.
        """
        if not digests:
            return None
        name = "opt-" + hashlib.sha256(":".join(digests).encode()).hexdigest()
        layers = [self.ensure(digest) for digest in digests]

        def merge(staging: Path) -> None:
            for layer in layers:
                shutil.copytree(layer, staging, symlinks=True, dirs_exist_ok=True,
                                copy_function=_link_over)

        return self._build(self.root / name, merge)

    def _build(self, target: Path, fill: Callable[[Path], None]) -> Path:
        """Make ``target`` once: fill a staging directory, then rename it into place."""
        if target.is_dir():
            return target
        with self._lock:
            if target.is_dir():
                return target
            staging = Path(tempfile.mkdtemp(dir=self.root, prefix=_STAGING))
            try:
                fill(staging)
                os.chmod(staging, 0o755)
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


def _link_over(src: str, dst: str) -> None:
    if os.path.lexists(dst):
        os.unlink(dst)
    os.link(src, dst)


def _unpack(data: bytes, dest: Path) -> None:
    budget = UNZIPPED_LIMIT
    links: list[tuple[PurePosixPath, str]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            rel = _safe_name(info.filename)
            if rel is None:
                raise InvalidParameterValueException(_UNZIP_ERROR)
            mode = (info.external_attr >> 16) & 0xFFFF
            target = dest.joinpath(*rel.parts)
            if info.is_dir():
                target.mkdir(mode=0o755, parents=True, exist_ok=True)
                continue
            if stat.S_ISLNK(mode):
                links.append((rel, archive.read(info).decode("utf-8", "replace")))
                continue
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            perm = 0o755 if mode & 0o111 else 0o644
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, perm)
            with os.fdopen(fd, "wb") as out, archive.open(info) as src:
                while chunk := src.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise InvalidParameterValueException(
                            f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes"
                        )
                    out.write(chunk)
            os.chmod(target, perm)
    for rel, link_target in links:
        target = dest.joinpath(*rel.parts)
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        if not target.exists() and not target.is_symlink():
            os.symlink(link_target, target)
    for dirpath, dirnames, _ in os.walk(dest):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
