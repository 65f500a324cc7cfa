"""Admission control: the account limit, reserved concurrency, throttling.

Invariants (per node):
- a function with reserved concurrency N never runs more than N invocations
  at once, and those never count against the unreserved pool;
- invocations of a version with provisioned concurrency run on it first (up
  to its size) outside the unreserved pool, then spill over into it;
- all other functions share ``account_limit - sum(reservations)`` minus the
  provisioned concurrency of functions without a reservation;
- a refused invocation raises ``TooManyRequestsException`` with AWS's
  ``Reason`` and never touches an environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from loam.errors import TooManyRequestsException

__all__ = ["Admission", "AdmissionStatistics", "on_provisioned_now"]

# True inside an invocation admitted on provisioned concurrency (read by the metrics
# observer for AWS's ProvisionedConcurrency* metrics and provisioned billing).
on_provisioned_now: ContextVar[bool] = ContextVar("on_provisioned_now", default=False)


@dataclass(frozen=True)
class AdmissionStatistics:
    in_flight: int
    unreserved_in_flight: int
    unreserved_limit: int
    throttled: int


class Admission:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._reservations: dict[str, int] = {}
        # (function, version) → provisioned environments, and invocations running on them.
        self._provisioned: dict[tuple[str, str], int] = {}
        self._provisioned_total = 0
        self._on_provisioned: dict[tuple[str, str], int] = {}
        self._running: dict[str, int] = {}
        self._unreserved_running = 0
        self._throttled = 0

    def set_reservations(self, reservations: dict[str, int]) -> None:
        self._reservations = dict(reservations)

    def set_provisioned(self, provisioned: dict[tuple[str, str], int]) -> None:
        """Provisioned concurrency per (function, version), as configured."""
        self._provisioned = dict(provisioned)
        self._provisioned_total = sum(
            n for (name, _), n in provisioned.items() if name not in self._reservations
        )

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self._reservations.values()) - self._provisioned_total

    @contextlib.contextmanager
    def admit(self, function_name: str, version: str | None = None) -> Iterator[None]:
        reserved = self._reservations.get(function_name)
        running = self._running.get(function_name, 0)
        if self._provisioned and reserved is None and version is not None:
            key = (function_name, version)
            on_provisioned = self._on_provisioned.get(key, 0)
            if on_provisioned < self._provisioned.get(key, 0):
                with self._admit_provisioned(key, on_provisioned):
                    yield
                return
            on_provisioned_now.set(False)  # spill-over, also in a context that ran one on it
        if reserved is not None:
            if running >= reserved:
                self._throttled += 1
                raise TooManyRequestsException(
                    "Rate Exceeded.", reason="ReservedFunctionConcurrentInvocationLimitExceeded"
                )
        elif self._unreserved_running >= self.unreserved_limit:
            self._throttled += 1
            raise TooManyRequestsException(
                "Rate Exceeded.", reason="ConcurrentInvocationLimitExceeded"
            )
        shared = reserved is None
        self._running[function_name] = running + 1
        self._unreserved_running += shared
        try:
            yield
        finally:
            self._unreserved_running -= shared
            left = self._running[function_name] - 1
            if left:
                self._running[function_name] = left
            else:
                del self._running[function_name]

    @contextlib.contextmanager
    def _admit_provisioned(self, key: tuple[str, str], running: int) -> Iterator[None]:
        """Runs on the function's provisioned concurrency: outside the unreserved pool."""
        self._on_provisioned[key] = running + 1
        self._running[key[0]] = self._running.get(key[0], 0) + 1
        on_provisioned_now.set(True)
        try:
            yield
        finally:
            on_provisioned_now.set(False)  # not reset(): the exit may run in another context
            left = self._on_provisioned[key] - 1
            if left:
                self._on_provisioned[key] = left
            else:
                del self._on_provisioned[key]
            left = self._running[key[0]] - 1
            if left:
                self._running[key[0]] = left
            else:
                del self._running[key[0]]

    def provisioned(self, function_name: str, version: str) -> tuple[int, int]:
        """(invocations running on the version's provisioned concurrency, its size)."""
        key = (function_name, version)
        return self._on_provisioned.get(key, 0), self._provisioned.get(key, 0)

    def provisioned_targets(self) -> dict[tuple[str, str], int]:
        return dict(self._provisioned)

    def statistics(self) -> AdmissionStatistics:
        return AdmissionStatistics(
            in_flight=sum(self._running.values()),
            unreserved_in_flight=self._unreserved_running,
            unreserved_limit=self.unreserved_limit,
            throttled=self._throttled,
        )
