"""A real events service over SQLite in a temporary directory, with a fake
clock and a recording ``deliver``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loam.clock import FakeClock
from loam.services.events.service import EventsService
from loam.store.sql import Database, open_database

ACCOUNT = "123456789012"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:hello"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:inbox"
# 2023-11-14T22:13:20Z: not on a whole minute, like a real creation time.
START = 1_700_000_000.0


class Recorder:
    """The node's ``deliver``: records each delivery; fails while ``failing`` > 0."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes, Mapping[str, Any]]] = []
        self.failing = 0

    async def __call__(self, arn: str, payload: bytes, target: Mapping[str, Any],
                       delivery_id: str) -> None:
        if self.failing > 0:
            self.failing -= 1
            raise RuntimeError("target unavailable")
        self.calls.append((arn, payload, target))

    def documents(self) -> list[Any]:
        return [json.loads(payload) for _, payload, _ in self.calls]


def make_service(tmp_path: Path, clock: FakeClock, recorder: Recorder,
                 **kwargs: Any) -> tuple[EventsService, Database]:
    database = open_database("sqlite", tmp_path)
    service = EventsService(database, clock, REGION, ACCOUNT, recorder, **kwargs)
    return service, database
