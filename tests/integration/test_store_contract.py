"""The ``Store`` contract (see ``loam.store.protocol``), run on every backend.

SQLite always runs. PostgreSQL runs against ``LOAM_TEST_DATABASE_URL``
(default ``postgresql://postgres@127.0.0.1:5432/test``), each test in its own
throwaway schema; it is skipped when unreachable unless
``LOAM_REQUIRE_POSTGRES=1``, which turns the skip into a failure.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from loam.store.postgres import PostgresStore
from loam.store.protocol import (
    LATEST,
    AliasRecord,
    AsyncEventRecord,
    FunctionRecord,
    RecordExists,
    RecordNotFound,
    RevisionMismatch,
    Store,
    StoreError,
)
from loam.store.sqlite import SqliteStore

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

Opener = Callable[[], Store]


@pytest.fixture(scope="session")
def pg_url() -> str:
    url = os.environ.get("LOAM_TEST_DATABASE_URL", DEFAULT_PG_URL)
    try:
        with psycopg.connect(url, connect_timeout=5):
            pass
    except psycopg.Error as exc:
        reason = f"PostgreSQL unreachable at LOAM_TEST_DATABASE_URL ({exc})"
        if os.environ.get("LOAM_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; LOAM_REQUIRE_POSTGRES=1 forbids skipping")
        pytest.skip(reason)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """A factory opening a new store on the same underlying data each call."""
    opened: list[Store] = []

    if request.param == "sqlite":

        def make() -> Store:
            return SqliteStore(tmp_path / "loam.db")

        def cleanup() -> None:
            pass
    else:
        base: str = request.getfixturevalue("pg_url")
        schema = f"loam_test_{uuid.uuid4().hex}"
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options={quote(f'-csearch_path={schema}', safe='')}"

        def make() -> Store:
            return PostgresStore(url)

        def cleanup() -> None:
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')

    def opener() -> Store:
        store = make()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()
    cleanup()


@pytest.fixture
def store(open_store: Opener) -> Store:
    return open_store()


def rec(name: str, version: str = LATEST, revision: str = "r1", doc: str = "{}") -> FunctionRecord:
    return FunctionRecord(name=name, version=version, revision_id=revision, document=doc)


def test_create_then_get(store: Store) -> None:
    record = rec("fn", doc='{"runtime": "python3.12", "ünï": "✓"}')
    store.create_function(record)
    assert store.get_function("fn") == record
    assert store.get_function("fn", LATEST) == record


def test_versions_are_distinct_records(store: Store) -> None:
    store.create_function(rec("fn"))
    store.create_function(rec("fn", version="1", revision="r-v1"))
    assert store.get_function("fn", "1") == rec("fn", version="1", revision="r-v1")
    assert store.get_function("fn") == rec("fn")


def test_list_versions_latest_first_then_by_number(store: Store) -> None:
    for version in ("10", "2", LATEST, "1"):
        store.create_function(rec("fn", version=version))
    store.create_function(rec("other", version="3"))
    assert [r.version for r in store.list_versions("fn")] == [LATEST, "1", "2", "10"]
    assert store.list_versions("missing") == []


def test_delete_version_removes_only_that_version(store: Store) -> None:
    store.create_function(rec("fn"))
    store.create_function(rec("fn", version="1"))
    assert store.delete_version("fn", "1") is True
    assert store.delete_version("fn", "1") is False
    assert store.get_function("fn", "1") is None
    assert store.get_function("fn") == rec("fn")


def alias(function: str, name: str, revision: str = "a1", doc: str = "{}") -> AliasRecord:
    return AliasRecord(function=function, name=name, revision_id=revision, document=doc)


def test_aliases_create_get_list_replace_delete(store: Store) -> None:
    store.create_function(rec("fn"))
    store.create_alias(alias("fn", "prod"))
    store.create_alias(alias("fn", "beta"))
    store.create_alias(alias("other", "prod"))
    with pytest.raises(RecordExists):
        store.create_alias(alias("fn", "prod"))
    assert store.get_alias("fn", "prod") == alias("fn", "prod")
    assert store.get_alias("fn", "nope") is None
    assert [a.name for a in store.list_aliases("fn")] == ["beta", "prod"]
    store.replace_alias(alias("fn", "prod", "a2", '{"v": 2}'), "a1")
    with pytest.raises(RevisionMismatch):
        store.replace_alias(alias("fn", "prod", "a3"), "a1")
    with pytest.raises(RecordNotFound):
        store.replace_alias(alias("fn", "gone", "a3"), "a1")
    assert store.get_alias("fn", "prod") == alias("fn", "prod", "a2", '{"v": 2}')
    assert store.delete_alias("fn", "beta") is True
    assert store.delete_alias("fn", "beta") is False
    store.delete_function("fn")
    assert store.list_aliases("fn") == []
    assert store.get_alias("other", "prod") is not None


def test_layer_versions_number_from_one_and_never_reuse(store: Store) -> None:
    assert store.publish_layer_version("lib", '{"n": 1}') == 1
    assert store.publish_layer_version("lib", '{"n": 2}') == 2
    assert store.publish_layer_version("other", "{}") == 1
    assert store.delete_layer_version("lib", 2) is True
    assert store.delete_layer_version("lib", 2) is False
    assert store.publish_layer_version("lib", '{"n": 3}') == 3
    assert store.list_layer_versions("lib") == [(3, '{"n": 3}'), (1, '{"n": 1}')]
    assert store.get_layer_version("lib", 1) == '{"n": 1}'
    assert store.get_layer_version("lib", 2) is None
    assert store.list_layer_names() == ["lib", "other"]


def test_layer_version_compare_and_swap(store: Store) -> None:
    version = store.publish_layer_version("lib", "a")
    store.replace_layer_version("lib", version, "b", expected="a")
    with pytest.raises(RevisionMismatch):
        store.replace_layer_version("lib", version, "c", expected="a")
    with pytest.raises(RecordNotFound):
        store.replace_layer_version("lib", 99, "c", expected="a")
    assert store.get_layer_version("lib", version) == "b"


def test_duplicate_create_raises_record_exists(store: Store) -> None:
    store.create_function(rec("fn"))
    with pytest.raises(RecordExists):
        store.create_function(rec("fn", revision="r2", doc='{"x": 1}'))
    assert store.get_function("fn") == rec("fn")


def test_get_missing_returns_none(store: Store) -> None:
    assert store.get_function("nope") is None
    store.create_function(rec("fn"))
    assert store.get_function("fn", "7") is None


def test_list_orders_by_code_point_and_pages(store: Store) -> None:
    names = ["b", "B-x", "a_1", "a-1", "A", "ab", "a", "Z9", "z"]
    for name in names:
        store.create_function(rec(name))
    expected = sorted(names)
    assert [r.name for r in store.list_functions(None, 100)] == expected
    assert [r.name for r in store.list_functions(None, 3)] == expected[:3]

    paged: list[str] = []
    after: str | None = None
    while page := store.list_functions(after, 2):
        assert len(page) <= 2
        paged += [r.name for r in page]
        after = page[-1].name
    assert paged == expected
    assert store.list_functions(expected[-1], 10) == []
    assert [r.name for r in store.list_functions("a-", 2)] == [n for n in expected if n > "a-"][:2]


def test_list_returns_only_latest(store: Store) -> None:
    store.create_function(rec("fn"))
    store.create_function(rec("fn", version="1"))
    store.create_function(rec("fn", version="2"))
    store.create_function(rec("only-published", version="1"))
    assert store.list_functions(None, 10) == [rec("fn")]


def test_replace_with_expected_revision(store: Store) -> None:
    store.create_function(rec("fn"))
    updated = rec("fn", revision="r2", doc='{"memory": 256}')
    store.replace_function(updated, expected_revision="r1")
    assert store.get_function("fn") == updated
    store.replace_function(rec("fn", revision="r3"), expected_revision="r2")
    assert store.get_function("fn") == rec("fn", revision="r3")


def test_replace_with_stale_revision_raises_mismatch(store: Store) -> None:
    store.create_function(rec("fn"))
    store.replace_function(rec("fn", revision="r2"), expected_revision="r1")
    with pytest.raises(RevisionMismatch):
        store.replace_function(rec("fn", revision="r3", doc='{"lost": 1}'), expected_revision="r1")
    assert store.get_function("fn") == rec("fn", revision="r2")


def test_replace_missing_raises_not_found(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.replace_function(rec("ghost", revision="r2"), expected_revision="r1")
    store.create_function(rec("fn"))
    with pytest.raises(RecordNotFound):
        store.replace_function(rec("fn", version="1", revision="r2"), expected_revision="r1")
    assert store.get_function("ghost") is None


def test_delete_removes_every_version(store: Store) -> None:
    store.create_function(rec("fn"))
    store.create_function(rec("fn", version="1"))
    store.create_function(rec("other"))
    assert store.delete_function("fn") is True
    assert store.get_function("fn") is None
    assert store.get_function("fn", "1") is None
    assert store.get_function("other") == rec("other")
    assert store.delete_function("fn") is False
    assert store.delete_function("never-existed") is False


def test_data_survives_reopen(open_store: Opener) -> None:
    first = open_store()
    first.create_function(rec("fn", doc='{"kept": true}'))
    first.create_function(rec("fn", version="1"))
    first.close()
    second = open_store()
    assert second.get_function("fn") == rec("fn", doc='{"kept": true}')
    assert second.get_function("fn", "1") == rec("fn", version="1")
    assert second.list_functions(None, 10) == [rec("fn", doc='{"kept": true}')]


def test_closed_store_raises_store_error(open_store: Opener) -> None:
    store = open_store()
    store.close()
    with pytest.raises(StoreError):
        store.get_function("fn")


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_concurrent_create_exactly_one_wins(open_store: Opener, shared: bool) -> None:
    threads_n = 8
    stores = [open_store()] * threads_n if shared else [open_store() for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    outcomes: list[str] = []
    outcomes_lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        try:
            stores[i].create_function(rec("race", revision=f"r{i}"))
            outcome = f"won:r{i}"
        except RecordExists:
            outcome = "exists"
        except StoreError as exc:
            outcome = f"error:{type(exc).__name__}:{exc}"
        with outcomes_lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(outcomes) == threads_n
    assert len(winners) == 1, outcomes
    assert outcomes.count("exists") == threads_n - 1, outcomes
    stored = stores[0].get_function("race")
    assert stored is not None and f"won:{stored.revision_id}" == winners[0]


def test_postgres_unreachable_raises_store_error() -> None:
    with pytest.raises(StoreError):
        PostgresStore("postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")


# -- the async-event queue ------------------------------------------------------

def _event(i: int, not_before: float = 0.0) -> AsyncEventRecord:
    return AsyncEventRecord(f"ev-{i}", "fn", bytes([i]) * 3, 100.0 + i, 0, not_before, "{}")


def test_queue_claims_due_events_once_until_their_lease_ends(open_store: Opener) -> None:
    store = open_store()
    store.enqueue_events([_event(1), _event(2), _event(3, not_before=50.0)])
    store.enqueue_events([_event(1)])  # the same id again is ignored
    assert store.count_events() == 3
    claimed = store.claim_events(now=10.0, leased_until=20.0, limit=10)
    assert [e.id for e in claimed] == ["ev-1", "ev-2"]
    assert claimed[0].payload == b"\x01\x01\x01" and claimed[0].enqueued_at == 101.0
    # Leased: nobody else gets them before the lease ends.
    assert store.claim_events(now=15.0, leased_until=30.0, limit=10) == []
    again = store.claim_events(now=21.0, leased_until=40.0, limit=1)
    assert [e.id for e in again] == ["ev-1"]


def test_queue_retry_finish_and_restart(open_store: Opener) -> None:
    store = open_store()
    store.enqueue_events([_event(1), _event(2)])
    first, second = store.claim_events(now=1.0, leased_until=100.0, limit=10)
    store.retry_event(AsyncEventRecord(first.id, first.function, first.payload,
                                       first.enqueued_at, 1, 60.0, '{"error": "x"}'))
    store.finish_events([second.id])
    assert store.claim_events(now=59.0, leased_until=200.0, limit=10) == []
    (retried,) = store.claim_events(now=60.0, leased_until=200.0, limit=10)
    assert retried.attempts == 1 and retried.document == '{"error": "x"}'
    # A crash leaves it leased; the restarted node releases what it held.
    reopened = open_store()
    assert reopened.release_event_leases() == 1
    assert [e.id for e in reopened.claim_events(now=61.0, leased_until=300.0, limit=10)] == [
        "ev-1"]
    reopened.finish_events(["ev-1"])
    assert reopened.count_events() == 0
