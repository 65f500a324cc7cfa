"""Reserved concurrency: Put / Get / DeleteFunctionConcurrency.

Invariant: the account keeps at least ``MIN_UNRESERVED`` (100) concurrent
executions unreserved, as AWS does. A reservation is part of the function's
stored document but not of its configuration, so setting it leaves the
RevisionId unchanged; writes go through ``FunctionService.change_latest``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loam.control.functions import FunctionService
from loam.control.names import parse_function_name
from loam.errors import InvalidParameterValueException

__all__ = ["MIN_UNRESERVED", "ReservedConcurrency"]

MIN_UNRESERVED = 100


class ReservedConcurrency:
    def __init__(self, functions: FunctionService,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.functions = functions
        self.on_change = on_change

    def put(self, function_name: str, reserved: int) -> dict[str, Any]:
        name = self._name(function_name)
        limit = self.functions.account_concurrency
        others = self.functions.reserved_total(excluding=name)
        if limit - others - reserved < MIN_UNRESERVED:
            raise InvalidParameterValueException(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}]."
            )
        self._set(name, reserved)
        return {"ReservedConcurrentExecutions": reserved}

    def get(self, function_name: str) -> dict[str, Any]:
        fn = self.functions.resolve(self._name(function_name))
        if fn.reserved_concurrency is None:
            return {}
        return {"ReservedConcurrentExecutions": fn.reserved_concurrency}

    def delete(self, function_name: str) -> None:
        self._set(self._name(function_name), None)

    def _name(self, function_name: str) -> str:
        ref = parse_function_name(function_name)
        if ref.qualifier is not None:
            raise InvalidParameterValueException(
                "Concurrency can only be configured on the unqualified function name."
            )
        return ref.name

    def _set(self, name: str, reserved: int | None) -> None:
        self.functions.change_latest(name, lambda fn: fn.evolve(reserved_concurrency=reserved))
        self.on_change()
