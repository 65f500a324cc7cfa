"""The SQS service over a real database, for the SQS unit tests (and its own checks).

SQLite always runs (a file in ``tmp_path``). PostgreSQL runs against
``LOAM_TEST_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``)
in a throwaway schema, and is skipped when unreachable unless
``LOAM_REQUIRE_POSTGRES=1``, as the store contract tests decide.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
import pytest

from loam.clock import FakeClock
from loam.services.sqs import SqsService
from loam.store.sql import Database, open_database

__all__ = ["ACCOUNT", "BASE", "Sqs", "open_sqs", "run"]

ACCOUNT = "123456789012"
BASE = "http://localhost:9000"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


class Sqs:
    """The service, its fake clock, and shorthands for calling its handlers."""

    def __init__(self, database: Database, clock: FakeClock) -> None:
        self.clock = clock
        self.service = SqsService(database, clock, "us-east-1", ACCOUNT, BASE,
                                  poll_interval=0.01)
        self.service.create_schema()

    async def call(self, operation: str, **params: Any) -> dict[str, Any]:
        return await self.service.operations[operation](params)

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return run(self.call(operation, **params))

    def create(self, name: str, **attributes: str) -> str:
        return str(self("CreateQueue", QueueName=name, Attributes=attributes)["QueueUrl"])

    def attributes(self, url: str, *names: str) -> dict[str, str]:
        out = self("GetQueueAttributes", QueueUrl=url, AttributeNames=list(names or ["All"]))
        return dict(out.get("Attributes", {}))

    def receive(self, url: str, **params: Any) -> list[dict[str, Any]]:
        return list(self("ReceiveMessage", QueueUrl=url, **params).get("Messages", []))


def _pg_url() -> str:
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


@contextmanager
def open_sqs(kind: str, tmp_path: Path) -> Iterator[Callable[[], Sqs]]:
    """A factory of services over one database (several = several nodes sharing it)."""
    clock = FakeClock()
    opened: list[Database] = []
    schema = f"loam_sqs_{uuid.uuid4().hex}"
    base = ""
    url = "sqlite"
    if kind == "postgres":
        base = _pg_url()
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in base else "?"
        url = f"{base}{sep}options={quote(f'-csearch_path={schema}', safe='')}"

    def make() -> Sqs:
        database = open_database(url, tmp_path)
        opened.append(database)
        return Sqs(database, clock)

    try:
        yield make
    finally:
        for database in opened:
            database.close()
        if kind == "postgres":
            with psycopg.connect(base, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_two_services_share_one_database(tmp_path: Path) -> None:
    with open_sqs("sqlite", tmp_path) as make:
        first, second = make(), make()
        url = first.create("shared")
        second("SendMessage", QueueUrl=url, MessageBody="from the second node")
        assert [m["Body"] for m in first.receive(url)] == ["from the second node"]
