from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Server, client, start_server


def _sandbox_problems() -> list[str]:
    from loam.sandbox.host import HostCapabilities

    return HostCapabilities.detect().problems()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = _sandbox_problems()
    if not problems:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError("sandbox tests cannot run here: " + "; ".join(problems))
    skip = pytest.mark.skip(reason="; ".join(problems))
    for item in items:
        if "sandbox" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(Path(tmp_path_factory.mktemp("loam")) / "data")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def lam(server: Server) -> Any:
    return client(server)
