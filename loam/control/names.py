"""Function names, partial and full ARNs, and qualifiers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from loam.errors import InvalidParameterValueException

__all__ = ["Arns", "FunctionRef", "parse_function_name"]

_ARN = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>[^:]+))?$"
)


@dataclass(frozen=True)
class FunctionRef:
    name: str
    qualifier: str | None


@lru_cache(maxsize=4096)  # every invocation names its function (twice): parse it once
def parse_function_name(value: str, qualifier: str | None = None) -> FunctionRef:
    """Accept a name, ``account:function:name`` or a full ARN, each with ``:qualifier``."""
    m = _ARN.match(value)
    if m is None:
        raise InvalidParameterValueException(f"Invalid function name: {value}")
    derived = m.group("qualifier")
    if derived is not None and qualifier is not None and derived != qualifier:
        raise InvalidParameterValueException(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return FunctionRef(m.group("name"), derived or qualifier)


@dataclass(frozen=True)
class Arns:
    region: str
    account_id: str

    def function(self, name: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def runtime_version(self, identifier: str, detail: str) -> str:
        return f"arn:aws:lambda:{self.region}::runtime:{identifier}:{detail}"
