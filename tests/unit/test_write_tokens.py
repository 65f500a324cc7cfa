"""Writes that keep RevisionId (reservations, provisioned concurrency, event-invoke
settings) still never overwrite a concurrent write they did not see."""

from __future__ import annotations

from pathlib import Path

import pytest

from loam.control.models import FunctionState
from loam.store import RevisionMismatch
from loam.store.sqlite import SqliteStore


def test_two_writers_from_the_same_state_cannot_both_win(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")
    fn = FunctionState(name="f", runtime="python3.12", role="r", handler="h",
                       code_digest="d", code_sha256="s", code_size=1, unzipped_size=1,
                       revision_id="rev-1")
    store.create_function(fn.to_record())
    reserved = fn.evolve(reserved_concurrency=5)  # RevisionId unchanged, as AWS
    store.replace_function(*reserved.record_replacing(fn))
    # A writer still holding the old state (same RevisionId) loses instead of erasing it.
    settled = fn.evolve(state="Active", revision_id="rev-2")
    with pytest.raises(RevisionMismatch):
        store.replace_function(*settled.record_replacing(fn))
    record = store.get_function("f")
    assert record is not None
    stored = FunctionState.from_json(record.document)
    assert stored.reserved_concurrency == 5 and stored.revision_id == "rev-1"
    # Re-read, it succeeds and keeps both changes.
    store.replace_function(*stored.evolve(state="Active").record_replacing(stored))
