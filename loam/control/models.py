"""Frozen data models of the control plane, and their AWS wire shapes.

``FunctionState`` is what the store keeps (as JSON) for one function version;
``to_configuration`` renders it as the ``FunctionConfiguration`` AWS returns.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from loam.store import AliasRecord, FunctionRecord

__all__ = ["Alias", "EventInvokeSettings", "FunctionState", "FunctionUrlSettings", "aws_timestamp",
           "new_revision"]


def aws_timestamp(epoch: float) -> str:
    """``2024-05-01T12:00:00.000+0000``, the format of ``LastModified``."""
    seconds, ms = divmod(round(epoch * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class EventInvokeSettings:
    """One qualifier's PutFunctionEventInvokeConfig settings; None is "not set"."""

    max_retries: int | None = None
    max_age_s: int | None = None
    on_success: str | None = None
    on_failure: str | None = None
    last_modified: float = 0.0  # epoch seconds, as the API reports it


@dataclass(frozen=True)
class FunctionUrlSettings:
    """One qualifier's function URL configuration (``loam.control.function_urls``)."""

    url_id: str
    auth_type: str
    invoke_mode: str = "BUFFERED"
    cors: dict[str, Any] | None = None  # AWS's Cors document, as configured
    created: float = 0.0  # epoch seconds
    modified: float = 0.0


@dataclass(frozen=True)
class FunctionState:
    name: str
    runtime: str
    role: str
    handler: str
    code_digest: str  # hex sha256: the blob's key
    code_sha256: str  # base64 sha256, as AWS reports it
    code_size: int
    unzipped_size: int
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    ephemeral_storage: int = 512
    architectures: tuple[str, ...] = ("x86_64",)
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group: str = ""
    application_log_level: str | None = None
    system_log_level: str | None = None
    dead_letter_target: str | None = None
    kms_key_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None
    # SnapStart ApplyOn: "PublishedVersions" restores each environment of a published
    # version from that version's initialised template; "None" does not.
    snap_start: str = "None"
    # On $LATEST: provisioned concurrency per qualifier (version or alias):
    # qualifier → (requested environments, LastModified).
    provisioned: dict[str, tuple[int, str]] = field(default_factory=dict)
    # On $LATEST: asynchronous-invocation settings per qualifier ($LATEST, version or alias).
    event_invoke: dict[str, EventInvokeSettings] = field(default_factory=dict)
    # On $LATEST: PutFunctionRecursionConfig's RecursiveLoop ("Allow" | "Terminate").
    recursive_loop: str = "Terminate"
    # On $LATEST: resource-based policy statements per qualifier ("$LATEST" is the
    # unqualified function's), in AWS's statement shape; never copied to versions.
    policy: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    # On $LATEST: function URL configurations per qualifier ($LATEST or an alias).
    function_urls: dict[str, FunctionUrlSettings] = field(default_factory=dict)
    # On $LATEST: the number of the last version published (numbers are never reused).
    last_published: int = 0
    # Referenced layer versions, in order: (version ARN, blob digest, zipped, unzipped size).
    layers: tuple[tuple[str, str, int, int], ...] = ()
    version: str = "$LATEST"
    revision_id: str = ""
    # Changes with every stored write (the store's compare-and-swap is on it), where
    # RevisionId changes only with the configuration: settings kept beside it
    # (reservations, provisioned concurrency, event-invoke settings) keep RevisionId
    # as AWS does, yet must not overwrite a concurrent write unseen.
    write_token: str = ""
    last_modified: str = ""
    state: str = "Pending"
    state_reason: str | None = "The function is being created."
    state_reason_code: str | None = "Creating"
    last_update_status: str = "InProgress"
    last_update_status_reason: str | None = "The function is being created."
    last_update_status_reason_code: str | None = "Creating"

    def evolve(self, **changes: Any) -> FunctionState:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def to_record(self) -> FunctionRecord:
        return FunctionRecord(self.name, self.version, self.stored_token, self.to_json())

    @property
    def stored_token(self) -> str:
        """The value the store compares on (documents from before write tokens: RevisionId)."""
        return self.write_token or self.revision_id

    def record_replacing(self, old: FunctionState) -> tuple[FunctionRecord, str]:
        """This state as the write that replaces ``old``: (record, expected token)."""
        return self.evolve(write_token=uuid.uuid4().hex).to_record(), old.stored_token

    @classmethod
    def from_json(cls, text: str) -> FunctionState:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["architectures"] = tuple(values.get("architectures", ("x86_64",)))
        values["layers"] = tuple(tuple(layer) for layer in values.get("layers", ()))
        values["provisioned"] = {q: (int(n), str(t))
                                 for q, (n, t) in values.get("provisioned", {}).items()}
        values["event_invoke"] = {q: EventInvokeSettings(**c)
                                  for q, c in values.get("event_invoke", {}).items()}
        values["policy"] = {q: tuple(s) for q, s in values.get("policy", {}).items()}
        values["function_urls"] = {q: FunctionUrlSettings(**c)
                                   for q, c in values.get("function_urls", {}).items()}
        return cls(**values)

    @property
    def restores_from_snapshot(self) -> bool:
        """SnapStart is on for this version: published, with ApplyOn PublishedVersions."""
        return self.snap_start == "PublishedVersions" and self.version != "$LATEST"

    @property
    def effective_log_group(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    def to_configuration(self, arn: str, runtime_version_arn: str | None,
                         listing: bool = False) -> dict[str, Any]:
        config: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version,
            "TracingConfig": {"Mode": self.tracing_mode},
            "RevisionId": self.revision_id,
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {"ApplyOn": self.snap_start,
                          "OptimizationStatus": "On" if self.restores_from_snapshot else "Off"},
            "LoggingConfig": self._logging_config(),
        }
        if self.environment:
            config["Environment"] = {"Variables": dict(self.environment)}
        if self.layers:
            config["Layers"] = [{"Arn": arn, "CodeSize": size} for arn, _, size, _ in self.layers]
        if self.dead_letter_target:
            config["DeadLetterConfig"] = {"TargetArn": self.dead_letter_target}
        if self.kms_key_arn:
            config["KMSKeyArn"] = self.kms_key_arn
        if runtime_version_arn:
            config["RuntimeVersionConfig"] = {"RuntimeVersionArn": runtime_version_arn}
        if not listing:
            config.update(self._status())
        return config

    def _logging_config(self) -> dict[str, str]:
        doc = {"LogFormat": self.log_format, "LogGroup": self.effective_log_group}
        if self.application_log_level:
            doc["ApplicationLogLevel"] = self.application_log_level
        if self.system_log_level:
            doc["SystemLogLevel"] = self.system_log_level
        return doc

    def _status(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"State": self.state, "LastUpdateStatus": self.last_update_status}
        for key, value in (
            ("StateReason", self.state_reason),
            ("StateReasonCode", self.state_reason_code),
            ("LastUpdateStatusReason", self.last_update_status_reason),
            ("LastUpdateStatusReasonCode", self.last_update_status_reason_code),
        ):
            if value is not None:
                doc[key] = value
        return doc


@dataclass(frozen=True)
class Alias:
    function: str
    name: str
    function_version: str
    description: str = ""
    weights: dict[str, float] = field(default_factory=dict)
    revision_id: str = ""

    def to_record(self) -> AliasRecord:
        doc = {"function_version": self.function_version, "description": self.description,
               "weights": self.weights}
        return AliasRecord(self.function, self.name, self.revision_id, json.dumps(doc))

    @classmethod
    def from_record(cls, record: AliasRecord) -> Alias:
        doc = json.loads(record.document)
        return cls(record.function, record.name, doc["function_version"],
                   doc.get("description", ""), doc.get("weights", {}), record.revision_id)

    def pick_version(self, rng: random.Random) -> str:
        """The version one invocation runs: weighted between the two targets."""
        for version, weight in self.weights.items():
            if rng.random() < weight:
                return version
        return self.function_version
