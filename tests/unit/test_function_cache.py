"""The invoke path's function cache: what it keeps, and when it lets go."""

from __future__ import annotations

import random
from pathlib import Path

from loam.clock import FakeClock
from loam.control.code import CodeCache
from loam.control.functions import FunctionCache, FunctionService
from loam.control.models import Alias, FunctionState
from loam.control.names import Arns
from loam.runtimes.registry import RuntimeRegistry
from loam.store import AliasRecord, FunctionRecord
from loam.store.blobs import BlobStore


def _fn(name: str = "f", version: str = "$LATEST", revision: str = "r1") -> FunctionState:
    return FunctionState(name=name, runtime="python3.12", role="arn:aws:iam::1:role/r",
                         handler="index.handler", code_digest="d", code_sha256="s", code_size=1,
                         unzipped_size=1, version=version, revision_id=revision, state="Active")


class MemoryStore:
    """Just the store calls the read path and these tests make; counts reads."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], FunctionRecord] = {}
        self.aliases: dict[tuple[str, str], AliasRecord] = {}
        self.reads = 0

    def get_function(self, name: str, version: str = "$LATEST") -> FunctionRecord | None:
        self.reads += 1
        return self.functions.get((name, version))

    def get_alias(self, function: str, name: str) -> AliasRecord | None:
        self.reads += 1
        return self.aliases.get((function, name))

    def replace_function(self, record: FunctionRecord, expected_revision: str) -> None:
        self.functions[(record.name, record.version)] = record

    def replace_alias(self, record: AliasRecord, expected_revision: str) -> None:
        self.aliases[(record.function, record.name)] = record


def _service(tmp_path: Path, store: MemoryStore, ttl: float | None = None,
             clock: FakeClock | None = None) -> FunctionService:
    blobs = BlobStore(tmp_path / "blobs")
    return FunctionService(store, blobs, CodeCache(blobs, tmp_path / "code"),  # type: ignore[arg-type]
                           RuntimeRegistry(), Arns("us-east-1", "123456789012"),
                           clock or FakeClock(), cache_ttl=ttl)


def _put(store: MemoryStore, fn: FunctionState) -> None:
    store.functions[(fn.name, fn.version)] = FunctionRecord(fn.name, fn.version, fn.revision_id,
                                                            fn.to_json())


def test_cache_returns_what_was_put_and_nothing_else() -> None:
    cache = FunctionCache(FakeClock())
    fn = _fn()
    cache.put_function(fn, cache.token())
    assert cache.function("f", "$LATEST") is fn
    assert cache.function("f", "1") is None
    assert cache.function("g", "$LATEST") is None


def test_a_read_that_raced_a_write_is_not_cached() -> None:
    cache = FunctionCache(FakeClock())
    token = cache.token()  # a reader starts reading the store ...
    cache.invalidate()  # ... a write lands ...
    cache.put_function(_fn(), token)  # ... and the reader's (old) document must not stick
    assert cache.function("f", "$LATEST") is None


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = FunctionCache(clock, ttl=1.0)
    cache.put_function(_fn(), cache.token())
    clock.advance(0.9)
    assert cache.function("f", "$LATEST") is not None
    clock.advance(0.2)
    assert cache.function("f", "$LATEST") is None


def test_resolving_fills_the_cache_and_writes_empty_it(tmp_path: Path) -> None:
    store = MemoryStore()
    _put(store, _fn(revision="r1"))
    service = _service(tmp_path, store)
    assert service.resolve_cached("f", None) is None
    first = service.resolve("f")
    reads = store.reads
    assert service.resolve_cached("f", None) is first
    assert service.resolve_cached("arn:aws:lambda:us-east-1:123456789012:function:f",
                                  None) is first
    assert store.reads == reads  # served without touching the store
    service.store.get_function("f")  # a read through the service's store keeps it
    assert service.resolve_cached("f", None) is first
    updated = first.evolve(revision_id="r2", memory_size=256)
    service.store.replace_function(
        FunctionRecord("f", "$LATEST", "r2", updated.to_json()), "r1")
    assert service.resolve_cached("f", None) is None
    assert service.resolve("f").memory_size == 256


def test_aliases_resolve_from_the_cache_with_their_weights(tmp_path: Path) -> None:
    store = MemoryStore()
    for version in ("1", "2"):
        _put(store, _fn(version=version))
    alias = Alias("f", "live", "1", weights={"2": 0.5}, revision_id="a1")
    store.aliases[("f", "live")] = alias.to_record()
    service = _service(tmp_path, store)
    rng = random.Random(7)
    service.resolve_for_invoke("f", "live", rng)
    for version in ("1", "2"):  # both targets read once, so both are cached
        service.resolve("f", version)
    picked = {service.resolve_cached("f", "live", rng).version  # type: ignore[union-attr]
              for _ in range(50)}
    assert picked == {"1", "2"}
    assert service.resolve_cached("f", "live").version == "1"  # type: ignore[union-attr]
    service.store.replace_alias(Alias("f", "live", "2", revision_id="a2").to_record(), "a1")
    assert service.resolve_cached("f", "live") is None
    assert service.resolve_for_invoke("f", "live", rng).version == "2"


def test_a_shared_store_is_read_again_after_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore()
    _put(store, _fn(revision="r1"))
    service = _service(tmp_path, store, ttl=1.0, clock=clock)
    service.resolve("f")
    _put(store, _fn(revision="r2"))  # another node's write: no invalidation here
    assert service.resolve_cached("f", None).revision_id == "r1"  # type: ignore[union-attr]
    clock.advance(1.5)
    assert service.resolve_cached("f", None) is None
    assert service.resolve("f").revision_id == "r2"
