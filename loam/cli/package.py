"""Deployment packages for ``loam deploy``: a directory zipped deterministically, and a
request body that reports the bytes sent as botocore uploads it.

The same files always make the same zip, byte for byte, so an unchanged
directory has an unchanged ``CodeSha256`` and ``loam deploy`` skips
UpdateFunctionCode: entries are sorted, dated 1980-01-01, and carry only
``0644`` or ``0755`` (owner-executable files) as permissions. Byte-code caches
and version-control directories are left out.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["SKIPPED_DIRECTORIES", "ProgressBody", "code_sha256", "zip_directory"]

SKIPPED_DIRECTORIES = frozenset({"__pycache__", ".git", ".hg", ".svn"})
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
_REGULAR_FILE = 0o100000


def package_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(name in the zip, path)`` for every file under ``root``, in a stable order."""
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRECTORIES)
        base = Path(directory)
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = base / name
            yield path.relative_to(root).as_posix(), path


def zip_directory(root: Path) -> bytes:
    """The directory's files as a deterministic zip (see the module docstring)."""
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in package_files(root):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix: the permissions below are honoured
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (_REGULAR_FILE | mode) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def code_sha256(package: bytes) -> str:
    """Lambda's ``CodeSha256``: the base64 of the package's SHA-256."""
    return base64.b64encode(hashlib.sha256(package).digest()).decode()


class ProgressBody(io.RawIOBase):
    """A request body read in blocks, calling ``report(sent, total)`` after each.

    Seekable, so botocore can rewind it for a retry (``reset_stream``).
    """

    def __init__(self, data: bytes, report: Callable[[int, int], None]) -> None:
        super().__init__()
        self._data = data
        self._position = 0
        self._report = report

    def __len__(self) -> int:
        return len(self._data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._data)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._position + size
        chunk = self._data[self._position:end]
        self._position += len(chunk)
        if chunk:
            self._report(self._position, len(self._data))
        return chunk

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)
