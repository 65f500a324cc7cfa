from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.functional.support import unique_name
from tests.helpers import Server


@pytest.fixture(scope="session")
def unchecked(server: Server) -> Any:
    """A client that sends whatever it is given, so the server does the validating."""
    return boto3.client(
        "lambda",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(parameter_validation=False, retries={"max_attempts": 1},
                      read_timeout=120),
    )


# What the server logs when something escaped its error handling.
SERVER_FAULTS = ("Exception in ASGI application", "loam.api: unhandled error",
                 "loam.api: store failure")


@pytest.fixture(autouse=True)
def no_server_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail any test during which the shared server logged an unhandled error."""
    if "server" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("server")
    start = len(server.log())
    yield
    new = server.log()[start:]
    faults = [f for f in SERVER_FAULTS if f in new]
    assert not faults, f"the server logged {faults}:\n{new[-4000:]}"


@pytest.fixture
def name(lam: Any) -> Iterator[str]:
    """A fresh function name; the function is deleted afterwards if it exists."""
    value = unique_name()
    yield value
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
        lam.delete_function(FunctionName=value)
