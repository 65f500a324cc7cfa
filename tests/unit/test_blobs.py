from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from loam.store.blobs import BlobStore


def test_blobs_are_content_addressed(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    digest = blobs.put(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert blobs.put(b"hello") == digest
    assert blobs.get(digest) == b"hello"
    assert blobs.exists(digest)
    assert not list(tmp_path.rglob(".incoming-*"))


def test_blob_names_must_be_digests(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    for bad in ("../../etc/passwd", "x" * 64, ""):
        with pytest.raises(ValueError):
            blobs.path(bad)
