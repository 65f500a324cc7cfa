"""Layers: versioned, shared archives mounted read-only at ``/opt``.

Invariants:
- layer version numbers start at 1 and are never reused (the store counts);
- a layer version's archive is content-addressed in the blob store; a
  function pins the digests of the layers it references, so deleting a layer
  version never breaks a function that uses it (as on AWS);
- the permission policy is part of the version's document and changes by
  compare-and-swap, with a RevisionId of its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from loam.clock import Clock
from loam.control.code import inspect_package
from loam.control.models import aws_timestamp, new_revision
from loam.control.names import Arns
from loam.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from loam.store import RecordNotFound, RevisionMismatch, Store
from loam.store.blobs import BlobStore

__all__ = ["MAX_LAYERS", "LayerService", "LayerVersion"]

MAX_LAYERS = 5
_PAGE = 50
_NOT_FOUND = "The resource you requested does not exist."
_LAYER_ARN = re.compile(
    r"^arn:[a-zA-Z-]+:lambda:[a-z0-9-]+:\d{12}:layer:(?P<name>[a-zA-Z0-9_-]+)"
    r"(?::(?P<version>\d+))?$"
)


@dataclass(frozen=True)
class LayerVersion:
    name: str
    version: int
    code_digest: str
    code_sha256: str
    code_size: int
    unzipped_size: int
    created_date: str
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None
    statements: tuple[dict[str, Any], ...] = ()
    policy_revision: str = field(default_factory=new_revision)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LayerVersion:
        raw = json.loads(text)
        for key in ("compatible_runtimes", "compatible_architectures", "statements"):
            raw[key] = tuple(raw.get(key, ()))
        return cls(**raw)


class LayerService:
    def __init__(self, store: Store, blobs: BlobStore, arns: Arns, clock: Clock) -> None:
        self.store = store
        self.blobs = blobs
        self.arns = arns
        self.clock = clock

    # -- versions ------------------------------------------------------------

    def publish(self, params: dict[str, Any]) -> LayerVersion:
        name = self._name(params["LayerName"])
        content = params.get("Content", {})
        if content.get("ZipFile") is None:
            raise InvalidParameterValueException(
                "Layer content from S3 is not available on this loam node yet; upload ZipFile."
            )
        data = bytes(content["ZipFile"])
        package = inspect_package(data)
        draft = LayerVersion(
            name=name, version=0, code_digest=self.blobs.put(data),
            code_sha256=base64.b64encode(hashlib.sha256(data).digest()).decode(),
            code_size=package.size, unzipped_size=package.unzipped_size,
            created_date=aws_timestamp(self.clock.time()),
            description=params.get("Description", ""),
            compatible_runtimes=tuple(params.get("CompatibleRuntimes", ())),
            compatible_architectures=tuple(params.get("CompatibleArchitectures", ())),
            license_info=params.get("LicenseInfo"),
        )
        number = self.store.publish_layer_version(name, draft.to_json())
        published = replace(draft, version=number)
        self.store.replace_layer_version(name, number, published.to_json(), draft.to_json())
        return published

    def get(self, layer_name: str, version: int) -> LayerVersion:
        name = self._name(layer_name)
        document = self.store.get_layer_version(name, version)
        if document is None:
            raise ResourceNotFoundException(_NOT_FOUND)
        return LayerVersion.from_json(document)

    def get_by_arn(self, arn: str) -> LayerVersion:
        m = _LAYER_ARN.match(arn)
        if m is None or m.group("version") is None:
            raise InvalidParameterValueException(f"Invalid layer version ARN: {arn}")
        return self.get(m.group("name"), int(m.group("version")))

    def delete(self, layer_name: str, version: int) -> None:
        self.store.delete_layer_version(self._name(layer_name), version)

    def list_versions(self, layer_name: str, runtime: str | None, architecture: str | None,
                      marker: str | None, max_items: int | None) -> dict[str, Any]:
        name = self._name(layer_name)
        found = [LayerVersion.from_json(d) for _, d in self.store.list_layer_versions(name)]
        found = [v for v in found if _matches(v, runtime, architecture)]
        page, next_marker = _page(found, marker, max_items, key=lambda v: str(v.version))
        out: dict[str, Any] = {"LayerVersions": [self.list_item(v) for v in page]}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    def list_layers(self, runtime: str | None, architecture: str | None, marker: str | None,
                    max_items: int | None) -> dict[str, Any]:
        latest: list[LayerVersion] = []
        for name in self.store.list_layer_names():
            versions = [LayerVersion.from_json(d) for _, d in self.store.list_layer_versions(name)]
            matching = [v for v in versions if _matches(v, runtime, architecture)]
            if matching:
                latest.append(matching[0])
        page, next_marker = _page(latest, marker, max_items, key=lambda v: v.name)
        out: dict[str, Any] = {"Layers": [
            {"LayerName": v.name, "LayerArn": self.layer_arn(v.name),
             "LatestMatchingVersion": self.list_item(v)} for v in page
        ]}
        if next_marker:
            out["NextMarker"] = next_marker
        return out

    # -- what functions use --------------------------------------------------

    def resolve_for_function(self, arns: list[str]) -> list[LayerVersion]:
        if len(arns) > MAX_LAYERS:
            raise InvalidParameterValueException(
                f"Cannot reference more than {MAX_LAYERS} layers."
            )
        resolved = []
        for arn in arns:
            m = _LAYER_ARN.match(arn)
            document = None
            if m is not None and m.group("version") is not None:
                document = self.store.get_layer_version(m.group("name"), int(m.group("version")))
            if document is None:
                raise InvalidParameterValueException(f"Layer version {arn} does not exist.")
            resolved.append(LayerVersion.from_json(document))
        return resolved

    # -- permissions ---------------------------------------------------------

    def add_permission(self, params: dict[str, Any]) -> dict[str, Any]:
        layer = self.get(params["LayerName"], params["VersionNumber"])
        self._check_revision(layer, params.get("RevisionId"))
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in layer.statements):
            raise ResourceConflictException(
                "The statement id (sid) provided already exists. Please provide a new statement "
                "id, or remove the existing statement."
            )
        statement = self._statement(layer, params)
        updated = replace(layer, statements=(*layer.statements, statement),
                          policy_revision=new_revision())
        self._swap(layer, updated)
        return {"Statement": json.dumps(statement), "RevisionId": updated.policy_revision}

    def get_policy(self, layer_name: str, version: int) -> dict[str, Any]:
        layer = self.get(layer_name, version)
        if not layer.statements:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": list(layer.statements)}
        return {"Policy": json.dumps(policy), "RevisionId": layer.policy_revision}

    def remove_permission(self, params: dict[str, Any]) -> None:
        layer = self.get(params["LayerName"], params["VersionNumber"])
        self._check_revision(layer, params.get("RevisionId"))
        kept = tuple(s for s in layer.statements if s["Sid"] != params["StatementId"])
        if len(kept) == len(layer.statements):
            raise ResourceNotFoundException("Statement sid is not found in resource policy.")
        self._swap(layer, replace(layer, statements=kept, policy_revision=new_revision()))

    # -- shapes --------------------------------------------------------------

    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.arns.region}:{self.arns.account_id}:layer:{name}"

    def version_arn(self, layer: LayerVersion) -> str:
        return f"{self.layer_arn(layer.name)}:{layer.version}"

    def describe(self, layer: LayerVersion, location: str) -> dict[str, Any]:
        doc = self.list_item(layer)
        doc.update({
            "LayerArn": self.layer_arn(layer.name),
            "Content": {"Location": location, "CodeSha256": layer.code_sha256,
                        "CodeSize": layer.code_size},
        })
        return doc

    def list_item(self, layer: LayerVersion) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "LayerVersionArn": self.version_arn(layer),
            "Version": layer.version,
            "Description": layer.description,
            "CreatedDate": layer.created_date,
        }
        if layer.compatible_runtimes:
            doc["CompatibleRuntimes"] = list(layer.compatible_runtimes)
        if layer.compatible_architectures:
            doc["CompatibleArchitectures"] = list(layer.compatible_architectures)
        if layer.license_info is not None:
            doc["LicenseInfo"] = layer.license_info
        return doc

    # -- helpers -------------------------------------------------------------

    def _name(self, layer_name: str) -> str:
        m = _LAYER_ARN.match(layer_name)
        return m.group("name") if m else layer_name

    def _check_revision(self, layer: LayerVersion, expected: str | None) -> None:
        if expected is not None and expected != layer.policy_revision:
            raise PreconditionFailedException.stale_revision("GetLayerVersionPolicy")

    def _statement(self, layer: LayerVersion, params: dict[str, Any]) -> dict[str, Any]:
        principal = params["Principal"]
        statement: dict[str, Any] = {
            "Sid": params["StatementId"],
            "Effect": "Allow",
            "Principal": principal if principal == "*" else {
                "AWS": principal if principal.startswith("arn:")
                else f"arn:aws:iam::{principal}:root"},
            "Action": params["Action"],
            "Resource": self.version_arn(layer),
        }
        if params.get("OrganizationId"):
            statement["Condition"] = {
                "StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}}
        return statement

    def _swap(self, old: LayerVersion, new: LayerVersion) -> None:
        try:
            self.store.replace_layer_version(old.name, old.version, new.to_json(), old.to_json())
        except (RevisionMismatch, RecordNotFound) as exc:
            raise PreconditionFailedException.stale_revision("GetLayerVersionPolicy") from exc


def _matches(layer: LayerVersion, runtime: str | None, architecture: str | None) -> bool:
    if runtime is not None and runtime not in layer.compatible_runtimes:
        return False
    return architecture is None or architecture in layer.compatible_architectures


def _page(items: list[LayerVersion], marker: str | None, max_items: int | None,
          key: Any) -> tuple[list[LayerVersion], str | None]:
    start = 0
    if marker:
        keys = [key(item) for item in items]
        start = keys.index(marker) + 1 if marker in keys else len(items)
    limit = min(max_items or _PAGE, _PAGE)
    page = items[start:start + limit]
    more = start + limit < len(items)
    return page, (key(page[-1]) if more and page else None)
