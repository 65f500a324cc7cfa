"""Resource-based policies of functions: AddPermission / RemovePermission / GetPolicy."""

from __future__ import annotations

from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.names import Arns

__all__ = ["Permissions"]


class Permissions:
    def __init__(self, functions: FunctionService, arns: Arns, clock: Clock) -> None:
        self.functions = functions
        self.arns = arns
        self.clock = clock

    def allows(self, function_name: str, qualifier: str | None, principal: str, *,
               source_arn: str | None = None, source_account: str | None = None,
               function_url_auth_type: str | None = None) -> bool:
        """Whether the function's policy lets ``principal`` invoke it (lambda:InvokeFunction,
        or lambda:InvokeFunctionUrl when ``function_url_auth_type`` is given)."""
        return True
