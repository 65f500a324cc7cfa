"""Published versions: PublishVersion and ListVersionsByFunction.

Invariants:
- a published version is an immutable copy of ``$LATEST`` stored under its
  number; numbers grow by one and are never reused (``$LATEST`` remembers the
  last one), even after a version is deleted;
- publishing when code and configuration are unchanged since the last
  version returns that version instead of a new one, as AWS does;
- ``CodeSha256`` and ``RevisionId`` in the request are preconditions on
  ``$LATEST``.
"""

from __future__ import annotations

from typing import Any

from loam.control.functions import FunctionService
from loam.control.models import FunctionState, new_revision
from loam.control.names import parse_function_name
from loam.control.paging import page_of
from loam.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
)
from loam.store import FunctionRecord, RecordExists, RevisionMismatch

__all__ = ["VersionService"]

_ATTEMPTS = 10
_PAGE = 50
# Fields that make two versions "the same" for PublishVersion.
_IDENTITY = ("code_sha256", "runtime", "role", "handler", "timeout", "memory_size",
             "environment", "ephemeral_storage", "architectures", "tracing_mode", "log_format",
             "log_group", "application_log_level", "system_log_level", "dead_letter_target",
             "kms_key_arn", "snap_start", "layers")


class VersionService:
    def __init__(self, functions: FunctionService) -> None:
        self.functions = functions

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(params["FunctionName"])
        for _ in range(_ATTEMPTS):
            latest = self.functions.resolve(ref.name)
            self._check_preconditions(latest, params)
            unchanged = self._unchanged_version(latest)
            if unchanged is not None:
                return self.functions.configuration(unchanged)
            number = latest.last_published + 1
            try:
                self._record_number(latest, number)
                version = self._snapshot(latest, number, params.get("Description"))
                self.functions.store.create_function(version.to_record())
            except (RevisionMismatch, RecordExists):
                continue
            return self.functions.configuration(version)
        raise ResourceConflictException(
            "The operation cannot be performed at this time. Concurrent publications of "
            f"{self.functions.arns.function(ref.name)}; retry."
        )

    def list_versions(self, function_name: str, marker: str | None,
                      max_items: int | None) -> dict[str, Any]:
        ref = parse_function_name(function_name)
        self.functions.resolve(ref.name)
        records = self.functions.store.list_versions(ref.name)
        out = page_of(records, "Versions", marker, max_items, _PAGE)
        out["Versions"] = [self._listed(r) for r in out["Versions"]]
        return out

    def _listed(self, record: FunctionRecord) -> dict[str, Any]:
        fn = FunctionState.from_json(record.document)
        config = self.functions.configuration(fn, listing=True)
        if fn.version == "$LATEST":
            config["FunctionArn"] = self.functions.arns.function(fn.name, "$LATEST")
        return config

    def _check_preconditions(self, latest: FunctionState, params: dict[str, Any]) -> None:
        arn = self.functions.arns.function(latest.name)
        if latest.state != "Active" or latest.last_update_status == "InProgress":
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {arn}"
            )
        expected = params.get("RevisionId")
        if expected is not None and expected != latest.revision_id:
            raise PreconditionFailedException.stale_revision()
        sha = params.get("CodeSha256")
        if sha is not None and sha != latest.code_sha256:
            raise InvalidParameterValueException(
                f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again."
            )

    def _unchanged_version(self, latest: FunctionState) -> FunctionState | None:
        if not latest.last_published:
            return None
        record = self.functions.store.get_function(latest.name, str(latest.last_published))
        if record is None:
            return None
        previous = FunctionState.from_json(record.document)
        same = all(getattr(previous, f) == getattr(latest, f) for f in _IDENTITY)
        return previous if same else None

    def _record_number(self, latest: FunctionState, number: int) -> None:
        bumped = latest.evolve(last_published=number)
        self.functions.store.replace_function(*bumped.record_replacing(latest))

    def _snapshot(self, latest: FunctionState, number: int,
                  description: str | None) -> FunctionState:
        return latest.evolve(
            version=str(number),
            description=latest.description if description is None else description,
            revision_id=new_revision(),
            reserved_concurrency=None,
            provisioned={},
            event_invoke={}, policy={}, function_urls={},
            last_published=0,
        )
