"""Admission control: the account limit, reserved concurrency, throttling.

Invariants (per node):
- a function with reserved concurrency N never runs more than N invocations
  at once, and those never count against the unreserved pool;
- all other functions share ``account_limit - sum(reservations)``;
- a refused invocation raises ``TooManyRequestsException`` with AWS's
  ``Reason`` and never touches an environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from loam.errors import TooManyRequestsException

__all__ = ["Admission", "AdmissionStatistics"]


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
        self._running: dict[str, int] = {}
        self._unreserved_running = 0
        self._throttled = 0

    def set_reservations(self, reservations: dict[str, int]) -> None:
        self._reservations = dict(reservations)

    @property
    def unreserved_limit(self) -> int:
        return self.account_limit - sum(self._reservations.values())

    @contextlib.contextmanager
    def admit(self, function_name: str) -> Iterator[None]:
        reserved = self._reservations.get(function_name)
        running = self._running.get(function_name, 0)
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

    def statistics(self) -> AdmissionStatistics:
        return AdmissionStatistics(
            in_flight=sum(self._running.values()),
            unreserved_in_flight=self._unreserved_running,
            unreserved_limit=self.unreserved_limit,
            throttled=self._throttled,
        )
