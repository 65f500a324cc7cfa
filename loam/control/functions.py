"""The function lifecycle: create, read, list, update, delete.

State transitions live here and only here:
- CreateFunction stores ``State=Pending / LastUpdateStatus=InProgress``; the
  package is unpacked in the background, then ``Active / Successful`` (or
  ``Failed``), with a new RevisionId;
- UpdateFunctionCode / UpdateFunctionConfiguration store
  ``LastUpdateStatus=InProgress`` and complete the same way; a second update
  while one is in progress is a ResourceConflictException, as on AWS;
- every change writes a new RevisionId through the store's compare-and-swap,
  so concurrent writers never lose an update silently.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import random
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from loam.clock import Clock
from loam.control.cache import CoherentStore, FunctionCache
from loam.control.code import UNZIPPED_LIMIT, ZIPPED_LIMIT, CodeCache, inspect_package
from loam.control.layers import LayerService
from loam.control.models import Alias, FunctionState, aws_timestamp, new_revision
from loam.control.names import Arns, FunctionRef, parse_function_name
from loam.control.validation import (
    check_environment,
    check_limits,
    check_runtime,
    check_snap_start,
)
from loam.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from loam.runtimes.registry import RuntimeRegistry
from loam.store import RecordExists, RecordNotFound, RevisionMismatch, Store
from loam.store.blobs import BlobStore

__all__ = ["FunctionCache", "FunctionService", "committed_concurrency"]

log = logging.getLogger("loam.control")

# ListFunctions returns at most 50 functions per page, whatever MaxItems asks for.
LIST_PAGE_LIMIT = 50
NAME_LIMIT = 64
CHANGE_ATTEMPTS = 5

_CONFIG_FIELDS = {
    "Role": "role", "Handler": "handler", "Description": "description", "Timeout": "timeout",
    "MemorySize": "memory_size", "Runtime": "runtime", "KMSKeyArn": "kms_key_arn",
}


class FunctionService:
    def __init__(
        self,
        store: Store,
        blobs: BlobStore,
        code: CodeCache,
        runtimes: RuntimeRegistry,
        arns: Arns,
        clock: Clock,
        account_concurrency: int = 1000,
        on_change: Callable[[str], None] = lambda name: None,
        layers: LayerService | None = None,
        cache_ttl: float | None = None,
    ) -> None:
        self.layers = layers or LayerService(store, blobs, arns, clock)
        self.cache = FunctionCache(clock, cache_ttl)
        # Every writer of functions and aliases (this service, versions, aliases,
        # reserved concurrency) writes through this: each write drops the cache.
        self.store: Store = cast(Store, CoherentStore(store, self.cache))
        self.blobs = blobs
        self.code = code
        self.runtimes = runtimes
        self.arns = arns
        self.clock = clock
        self.account_concurrency = account_concurrency
        self.on_change = on_change
        self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="loam-prepare")

    # -- reads ---------------------------------------------------------------

    def resolve(self, function_name: str, qualifier: str | None = None) -> FunctionState:
        ref = parse_function_name(function_name, qualifier)
        return self._load(ref)

    def resolve_for_invoke(self, function_name: str, qualifier: str | None,
                           rng: random.Random) -> FunctionState:
        """Like ``resolve``, but an alias picks one of its versions by routing weight."""
        ref = parse_function_name(function_name, qualifier)
        alias = self._alias(ref)
        if alias is None:
            return self._load(ref)
        return self._load(FunctionRef(ref.name, alias.pick_version(rng)))

    def resolve_cached(self, function_name: str, qualifier: str | None,
                       rng: random.Random | None = None) -> FunctionState | None:
        """``resolve_for_invoke`` (``resolve`` without ``rng``) from the cache alone.

        Never touches the store: None when something it needs is not cached,
        and the caller resolves from the store instead (which caches it).
        """
        ref = parse_function_name(function_name, qualifier)
        version = ref.qualifier or "$LATEST"
        if _names_alias(ref.qualifier):
            alias = self.cache.alias(ref.name, version)
            if alias is None:
                return None
            version = alias.pick_version(rng) if rng is not None else alias.function_version
        return self.cache.function(ref.name, version)

    def _alias(self, ref: FunctionRef) -> Alias | None:
        qualifier = ref.qualifier
        if qualifier is None or not _names_alias(qualifier):
            return None
        token = self.cache.token()
        record = self.store.get_alias(ref.name, qualifier)
        if record is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.arns.function(ref.name, qualifier)}"
            )
        alias = Alias.from_record(record)
        self.cache.put_alias(alias, token)
        return alias

    def _load(self, ref: FunctionRef) -> FunctionState:
        alias = self._alias(ref)
        version = alias.function_version if alias else ref.qualifier or "$LATEST"
        token = self.cache.token()
        record = self.store.get_function(ref.name, version)
        if record is None:
            raise ResourceNotFoundException(
                f"Function not found: {self.arns.function(ref.name, ref.qualifier)}"
            )
        fn = FunctionState.from_json(record.document)
        self.cache.put_function(fn, token)
        return fn

    def configuration(self, fn: FunctionState, listing: bool = False) -> dict[str, Any]:
        arn = self.arns.function(fn.name, None if fn.version == "$LATEST" else fn.version)
        return fn.to_configuration(arn, self._runtime_version_arn(fn.runtime), listing)

    def get_function(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        return self.describe(self.resolve(function_name, qualifier))

    def describe(self, fn: FunctionState) -> dict[str, Any]:
        """GetFunction's document for ``fn``; the caller fills in ``Code.Location``."""
        out: dict[str, Any] = {
            "Configuration": self.configuration(fn),
            "Code": {"RepositoryType": "S3", "Location": ""},
        }
        if fn.tags:
            out["Tags"] = dict(fn.tags)
        if fn.reserved_concurrency is not None:
            out["Concurrency"] = {"ReservedConcurrentExecutions": fn.reserved_concurrency}
        return out

    def list_functions(self, marker: str | None, max_items: int | None) -> dict[str, Any]:
        limit = min(max_items or LIST_PAGE_LIMIT, LIST_PAGE_LIMIT)
        after = _decode_marker(marker)
        records = self.store.list_functions(after, limit + 1)
        page = records[:limit]
        out: dict[str, Any] = {
            "Functions": [
                self.configuration(FunctionState.from_json(r.document), listing=True) for r in page
            ]
        }
        if len(records) > limit:
            out["NextMarker"] = base64.urlsafe_b64encode(page[-1].name.encode()).decode()
        return out

    def all_functions(self) -> Iterator[FunctionState]:
        after: str | None = None
        while batch := self.store.list_functions(after, 500):
            yield from (FunctionState.from_json(r.document) for r in batch)
            after = batch[-1].name

    def reserved_total(self, excluding: str | None = None) -> int:
        """Concurrency set aside from the unreserved pool, by every function but one.

        A function's reservation if it has one, else its provisioned
        concurrency (which AWS takes from the unreserved pool).
        """
        return sum(committed_concurrency(fn) for fn in self.all_functions()
                   if fn.name != excluding)

    def account_settings(self) -> dict[str, Any]:
        total = count = reserved = 0
        for fn in self.all_functions():
            total += fn.code_size
            count += 1
            reserved += committed_concurrency(fn)
        return {
            "AccountLimit": {
                "TotalCodeSize": 80_530_636_800,
                "CodeSizeUnzipped": UNZIPPED_LIMIT,
                "CodeSizeZipped": ZIPPED_LIMIT,
                "ConcurrentExecutions": self.account_concurrency,
                "UnreservedConcurrentExecutions": self.account_concurrency - reserved,
            },
            "AccountUsage": {"TotalCodeSize": total, "FunctionCount": count},
        }

    # -- writes --------------------------------------------------------------

    def change_latest(self, name: str,
                      change: Callable[[FunctionState], FunctionState]) -> FunctionState:
        """Store ``change($LATEST)`` through the store's compare-and-swap.

        For the settings kept beside the configuration (reservations, provisioned
        concurrency, event-invoke settings): when a concurrent write wins, ``$LATEST``
        is read again and ``change`` (which may raise to refuse) applied again.
        """
        for _ in range(CHANGE_ATTEMPTS):
            latest = self.resolve(name)
            updated = change(latest)
            try:
                self.store.replace_function(*updated.record_replacing(latest))
            except RevisionMismatch:
                continue
            return updated
        raise ResourceConflictException(
            "The operation cannot be performed at this time. Concurrent updates to "
            f"{self.arns.function(name)}; retry."
        )

    def create_function(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(params["FunctionName"])
        if ref.qualifier:
            raise InvalidParameterValueException(
                "Unsupported parameter: a qualifier is not allowed when creating a function."
            )
        if len(ref.name) > NAME_LIMIT:
            # The model allows 140 characters for an ARN; a bare name has 64.
            raise ValidationException.from_violations([
                f"Value '{params['FunctionName']}' at 'functionName' failed to satisfy "
                f"constraint: Member must have length less than or equal to {NAME_LIMIT}"
            ])
        check_limits(params)
        runtime, handler = params.get("Runtime"), params.get("Handler")
        if not runtime or not handler:
            raise InvalidParameterValueException(
                "Runtime and Handler are mandatory parameters for functions created with "
                "deployment packages."
            )
        check_runtime(runtime, self.runtimes)
        snap_start = params.get("SnapStart", {}).get("ApplyOn", "None")
        check_snap_start(snap_start, runtime)
        zip_bytes = self._zip_from(params.get("Code", {}))
        package = inspect_package(zip_bytes)
        variables = params.get("Environment", {}).get("Variables", {})
        check_environment(variables)
        layers = self._layers(params.get("Layers", []), package.unzipped_size)
        digest = self.blobs.put(zip_bytes)
        fn = FunctionState(
            name=ref.name,
            runtime=runtime,
            role=params["Role"],
            handler=handler,
            code_digest=digest,
            code_sha256=_b64sha(zip_bytes),
            code_size=package.size,
            unzipped_size=package.unzipped_size,
            description=params.get("Description", ""),
            timeout=params.get("Timeout", 3),
            memory_size=params.get("MemorySize", 128),
            environment=variables,
            ephemeral_storage=params.get("EphemeralStorage", {}).get("Size", 512),
            architectures=tuple(params.get("Architectures", ["x86_64"])),
            tracing_mode=params.get("TracingConfig", {}).get("Mode", "PassThrough"),
            layers=layers,
            dead_letter_target=params.get("DeadLetterConfig", {}).get("TargetArn"),
            kms_key_arn=params.get("KMSKeyArn"),
            tags=params.get("Tags", {}),
            snap_start=snap_start,
            revision_id=new_revision(),
            last_modified=aws_timestamp(self.clock.time()),
            **_logging_fields(params.get("LoggingConfig", {})),
        )
        try:
            if params.get("Publish"):
                fn = fn.evolve(last_published=1)
            self.store.create_function(fn.to_record())
        except RecordExists as exc:
            raise ResourceConflictException(
                f"Function already exist: {ref.name}"
            ) from exc
        published = self._publish_pending(fn) if params.get("Publish") else None
        self._workers.submit(self._prepare, fn.name)
        return self.configuration(published or fn)

    def update_code(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("ImageUri"):
            raise InvalidParameterValueException("PackageType Image is not supported by loam.")
        zip_bytes = self._zip_from(params)
        package = inspect_package(zip_bytes)
        fn = self._for_update(params)
        if params.get("DryRun"):
            return self.configuration(fn)
        digest = self.blobs.put(zip_bytes)
        changes: dict[str, Any] = {
            "code_digest": digest,
            "code_sha256": _b64sha(zip_bytes),
            "code_size": package.size,
            "unzipped_size": package.unzipped_size,
        }
        if params.get("Architectures"):
            changes["architectures"] = tuple(params["Architectures"])
        if params.get("Publish"):
            changes["last_published"] = fn.last_published + 1
        updated = self._begin_update(fn, changes)
        published = self._publish_pending(updated) if params.get("Publish") else None
        return self.configuration(published or updated)

    def update_configuration(self, params: dict[str, Any]) -> dict[str, Any]:
        check_limits(params)
        if "Runtime" in params:
            check_runtime(params["Runtime"], self.runtimes)
        fn = self._for_update(params)
        changes: dict[str, Any] = {
            attr: params[key] for key, attr in _CONFIG_FIELDS.items() if key in params
        }
        if "Environment" in params:
            variables = params["Environment"].get("Variables", {})
            check_environment(variables)
            changes["environment"] = variables
        if "EphemeralStorage" in params:
            changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
        if "Layers" in params:
            changes["layers"] = self._layers(params["Layers"], fn.unzipped_size)
        if "TracingConfig" in params:
            changes["tracing_mode"] = params["TracingConfig"].get("Mode", fn.tracing_mode)
        if "DeadLetterConfig" in params:
            changes["dead_letter_target"] = params["DeadLetterConfig"].get("TargetArn") or None
        if "LoggingConfig" in params:
            changes.update(_logging_fields(params["LoggingConfig"], fn))
        if "SnapStart" in params:
            changes["snap_start"] = params["SnapStart"].get("ApplyOn", "None")
        check_snap_start(changes.get("snap_start", fn.snap_start),
                         changes.get("runtime", fn.runtime))
        return self.configuration(self._begin_update(fn, changes))

    def delete_function(self, function_name: str, qualifier: str | None) -> None:
        ref = parse_function_name(function_name, qualifier)
        if ref.qualifier == "$LATEST":
            raise InvalidParameterValueException(
                "$LATEST version cannot be deleted without deleting the function."
            )
        if ref.qualifier is not None:
            self._load(ref)
            self._check_unreferenced(ref.name, ref.qualifier)
            self.store.delete_version(ref.name, ref.qualifier)
            self.forget_qualifier(ref.name, ref.qualifier)
        elif not self.store.delete_function(ref.name):
            raise ResourceNotFoundException(
                f"Function not found: {self.arns.function(ref.name)}"
            )
        self.on_change(ref.name)

    def forget_qualifier(self, name: str, qualifier: str) -> None:
        """Drop the settings kept on ``$LATEST`` for a deleted version or alias (its
        event-invoke settings, provisioned concurrency, resource policy and function URL),
        as AWS deletes them with it."""
        def drop(fn: FunctionState) -> FunctionState:
            return fn.evolve(
                event_invoke={q: v for q, v in fn.event_invoke.items() if q != qualifier},
                provisioned={q: v for q, v in fn.provisioned.items() if q != qualifier},
                policy={q: v for q, v in fn.policy.items() if q != qualifier},
                function_urls={q: v for q, v in fn.function_urls.items() if q != qualifier})
        with contextlib.suppress(ResourceNotFoundException):
            self.change_latest(name, drop)

    def _check_unreferenced(self, name: str, version: str) -> None:
        aliases = [a.name for a in map(Alias.from_record, self.store.list_aliases(name))
                   if a.function_version == version or version in a.weights]
        if aliases:
            raise ResourceConflictException(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(aliases)}]"
            )

    # -- state transitions ---------------------------------------------------

    def _for_update(self, params: dict[str, Any]) -> FunctionState:
        ref = parse_function_name(params["FunctionName"])
        fn = self._load(FunctionRef(ref.name, None))
        if fn.last_update_status == "InProgress":
            raise ResourceConflictException(
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {self.arns.function(fn.name)}"
            )
        expected = params.get("RevisionId")
        if expected is not None and expected != fn.revision_id:
            raise PreconditionFailedException.stale_revision()
        return fn

    def _begin_update(self, fn: FunctionState, changes: dict[str, Any]) -> FunctionState:
        updated = fn.evolve(
            **changes,
            revision_id=new_revision(),
            last_modified=aws_timestamp(self.clock.time()),
            last_update_status="InProgress",
            last_update_status_reason="The function is being created.",
            last_update_status_reason_code="Creating",
        )
        self._swap(fn, updated)
        self._workers.submit(self._prepare, fn.name)
        return updated

    def _layers(self, arns: list[str], code_unzipped: int) -> tuple[tuple[str, str, int, int], ...]:
        resolved = self.layers.resolve_for_function(arns)
        total = code_unzipped + sum(layer.unzipped_size for layer in resolved)
        if total > UNZIPPED_LIMIT:
            raise InvalidParameterValueException(
                "Function code combined with layers exceeds the maximum allowed size of "
                f"{UNZIPPED_LIMIT} bytes. The actual size is {total} bytes."
            )
        return tuple((arn, layer.code_digest, layer.code_size, layer.unzipped_size)
                     for arn, layer in zip(arns, resolved, strict=True))

    def _publish_pending(self, latest: FunctionState) -> FunctionState:
        """``Publish=true``: snapshot ``$LATEST`` as its next version, settled by ``_prepare``."""
        version = latest.evolve(version=str(latest.last_published), last_published=0,
                                reserved_concurrency=None, provisioned={},
                                event_invoke={}, policy={}, function_urls={},
                                revision_id=new_revision())
        self.store.create_function(version.to_record())
        return version

    def _settle_versions(self, latest: FunctionState) -> None:
        """Give versions published while ``$LATEST`` was being prepared its outcome."""
        for record in self.store.list_versions(latest.name)[1:]:
            version = FunctionState.from_json(record.document)
            if version.code_digest != latest.code_digest or (
                version.state != "Pending" and version.last_update_status != "InProgress"
            ):
                continue
            settled = version.evolve(
                state=latest.state, state_reason=latest.state_reason,
                state_reason_code=latest.state_reason_code,
                last_update_status=latest.last_update_status,
                last_update_status_reason=latest.last_update_status_reason,
                last_update_status_reason_code=latest.last_update_status_reason_code,
                revision_id=new_revision(),
            )
            with contextlib.suppress(RevisionMismatch, RecordNotFound):
                self.store.replace_function(*settled.record_replacing(version))

    def _swap(self, old: FunctionState, new: FunctionState) -> None:
        try:
            self.store.replace_function(*new.record_replacing(old))
        except RevisionMismatch as exc:
            raise PreconditionFailedException.stale_revision() from exc
        except RecordNotFound as exc:
            raise ResourceNotFoundException(
                f"Function not found: {self.arns.function(old.name)}"
            ) from exc

    def _prepare(self, name: str) -> None:
        """Background: unpack the package, then mark the function ready (or failed)."""
        for _ in range(10):
            record = self.store.get_function(name)
            if record is None:
                return
            fn = FunctionState.from_json(record.document)
            if fn.state != "Pending" and fn.last_update_status != "InProgress":
                return
            try:
                self.code.ensure(fn.code_digest)
                done = fn.evolve(
                    state="Active", state_reason=None, state_reason_code=None,
                    last_update_status="Successful", last_update_status_reason=None,
                    last_update_status_reason_code=None, revision_id=new_revision(),
                )
            except Exception as exc:  # supervisor: record the failure on the function
                log.exception("preparing %s failed", name)
                reason = f"The function could not be prepared: {type(exc).__name__}"
                done = fn.evolve(
                    state="Failed" if fn.state == "Pending" else fn.state,
                    state_reason=reason, state_reason_code="InternalError",
                    last_update_status="Failed", last_update_status_reason=reason,
                    last_update_status_reason_code="InternalError", revision_id=new_revision(),
                )
            try:
                self.store.replace_function(*done.record_replacing(fn))
            except RevisionMismatch:
                continue
            except RecordNotFound:
                return
            self._settle_versions(done)
            self.on_change(name)
            return

    def resume_pending(self) -> None:
        """After a restart: finish every preparation a stopped server left open."""
        after: str | None = None
        while batch := self.store.list_functions(after, 500):
            for record in batch:
                fn = FunctionState.from_json(record.document)
                if fn.state == "Pending" or fn.last_update_status == "InProgress":
                    self._workers.submit(self._prepare, fn.name)
            after = batch[-1].name

    def close(self) -> None:
        self._workers.shutdown(wait=True)

    # -- helpers -------------------------------------------------------------

    def _zip_from(self, code: dict[str, Any]) -> bytes:
        if code.get("ZipFile") is not None:
            return bytes(code["ZipFile"])
        if code.get("S3Bucket") or code.get("S3Key"):
            raise InvalidParameterValueException(
                "Code from S3 (S3Bucket/S3Key) is not available on this loam node yet; "
                "upload the package as ZipFile."
            )
        raise InvalidParameterValueException("Please provide a source for function code.")

    def _runtime_version_arn(self, runtime: str) -> str | None:
        if not self.runtimes.supports(runtime):
            return None
        spec = self.runtimes.resolve(runtime)
        detail = f"{spec.family}{spec.version}:{spec.interpreter}"
        return self.arns.runtime_version(runtime, detail)


def committed_concurrency(fn: FunctionState) -> int:
    """What ``fn`` ($LATEST) takes out of the account's unreserved concurrency."""
    if fn.reserved_concurrency is not None:
        return fn.reserved_concurrency
    return sum(requested for requested, _ in fn.provisioned.values())


def _names_alias(qualifier: str | None) -> bool:
    return qualifier is not None and qualifier != "$LATEST" and not qualifier.isdigit()



def _b64sha(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def _decode_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        return base64.b64decode(marker.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterValueException("Invalid Marker.") from exc


def _logging_fields(doc: dict[str, Any], current: FunctionState | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "LogFormat" in doc:
        out["log_format"] = doc["LogFormat"]
    if "LogGroup" in doc:
        out["log_group"] = doc["LogGroup"]
    if "ApplicationLogLevel" in doc:
        out["application_log_level"] = doc["ApplicationLogLevel"]
    if "SystemLogLevel" in doc:
        out["system_log_level"] = doc["SystemLogLevel"]
    return out
