"""Aliases: named pointers to a version, optionally splitting traffic with a second.

Invariants:
- an alias points at ``$LATEST`` or an existing published version, and may
  route a weight in [0, 1] to at most one other published version; ``$LATEST``
  cannot take part in weighted routing (AWS's rule);
- a version referenced by an alias cannot be deleted;
- every change writes a new RevisionId through the store's compare-and-swap.
"""

from __future__ import annotations

import random
from typing import Any

from loam.control.functions import FunctionService
from loam.control.models import Alias, new_revision
from loam.control.names import parse_function_name
from loam.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from loam.store import RecordExists, RecordNotFound, RevisionMismatch

__all__ = ["Alias", "AliasService"]

_PAGE = 50


class AliasService:
    def __init__(self, functions: FunctionService, rng: random.Random | None = None) -> None:
        self.functions = functions
        self.store = functions.store
        self.rng = rng or random.Random()

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self._function(params["FunctionName"])
        alias = Alias(function, params["Name"], params["FunctionVersion"],
                      params.get("Description", ""), _weights(params), new_revision())
        self._check_targets(alias)
        try:
            self.store.create_alias(alias.to_record())
        except RecordExists as exc:
            raise ResourceConflictException(
                f"Alias already exists: {self._arn(alias.function, alias.name)}"
            ) from exc
        return self.describe(alias)

    def get(self, function_name: str, name: str) -> Alias:
        function = self._function(function_name)
        record = self.store.get_alias(function, name)
        if record is None:
            raise ResourceNotFoundException(f"Alias not found: {self._arn(function, name)}")
        return Alias.from_record(record)

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        current = self.get(params["FunctionName"], params["Name"])
        expected = params.get("RevisionId")
        if expected is not None and expected != current.revision_id:
            raise PreconditionFailedException.stale_revision()
        updated = Alias(
            current.function, current.name,
            params.get("FunctionVersion", current.function_version),
            params.get("Description", current.description),
            _weights(params) if "RoutingConfig" in params else current.weights,
            new_revision(),
        )
        self._check_targets(updated)
        try:
            self.store.replace_alias(updated.to_record(), current.revision_id)
        except RevisionMismatch as exc:
            raise PreconditionFailedException.stale_revision() from exc
        except RecordNotFound as exc:
            raise ResourceNotFoundException(
                f"Alias not found: {self._arn(current.function, current.name)}"
            ) from exc
        return self.describe(updated)

    def delete(self, function_name: str, name: str) -> None:
        function = self._function(function_name)
        if not self.store.delete_alias(function, name):
            raise ResourceNotFoundException(f"Alias not found: {self._arn(function, name)}")
        self.functions.forget_qualifier(function, name)

    def list_aliases(self, function_name: str, version: str | None, marker: str | None,
             max_items: int | None) -> dict[str, Any]:
        function = self._function(function_name)
        aliases = [Alias.from_record(r) for r in self.store.list_aliases(function)]
        if version is not None:
            aliases = [a for a in aliases if a.function_version == version or version in a.weights]
        if marker:
            aliases = [a for a in aliases if a.name > marker]
        limit = min(max_items or _PAGE, _PAGE)
        out: dict[str, Any] = {"Aliases": [self.describe(a) for a in aliases[:limit]]}
        if len(aliases) > limit:
            out["NextMarker"] = aliases[limit - 1].name
        return out

    def describe(self, alias: Alias) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "AliasArn": self._arn(alias.function, alias.name),
            "Name": alias.name,
            "FunctionVersion": alias.function_version,
            "Description": alias.description,
            "RevisionId": alias.revision_id,
        }
        if alias.weights:
            doc["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.weights)}
        return doc

    # -- helpers -------------------------------------------------------------

    def _function(self, function_name: str) -> str:
        ref = parse_function_name(function_name)
        return self.functions.resolve(ref.name).name

    def _arn(self, function: str, name: str) -> str:
        return self.functions.arns.function(function, name)

    def _check_targets(self, alias: Alias) -> None:
        self._require_version(alias.function, alias.function_version)
        if not alias.weights:
            return
        if len(alias.weights) > 1:
            raise InvalidParameterValueException(
                "An alias can route traffic to at most one additional version."
            )
        if alias.function_version == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST is not supported for an alias pointing to more than 1 version"
            )
        for version in alias.weights:
            if version == alias.function_version:
                raise InvalidParameterValueException(
                    f"Invalid function version {version}. Function version {version} is already "
                    "included in routing configuration."
                )
            self._require_version(alias.function, version)

    def _require_version(self, function: str, version: str) -> None:
        if version != "$LATEST" and self.store.get_function(function, version) is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.functions.arns.function(function, version)}"
            )


def _weights(params: dict[str, Any]) -> dict[str, float]:
    routing = params.get("RoutingConfig") or {}
    return {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()}
