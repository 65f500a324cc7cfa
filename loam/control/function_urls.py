"""Function URL configurations: Create / Get / Update / Delete / ListFunctionUrlConfig(s).

A configuration belongs to a qualifier: ``$LATEST`` (the request names no
qualifier) or an alias; a version number is refused, as AWS refuses it. The
configurations are kept on the function's ``$LATEST`` document, keyed by
qualifier (like event-invoke settings), so writing them leaves RevisionId
alone and deleting the function deletes them; an alias's configuration is
not reported once the alias is gone, and the next write drops it.

Each configuration has a URL id, 32 lower-case letters and digits like
AWS's, derived from (account, region, function, qualifier): the same
function and qualifier always get the same URL. The ``furl_ids`` table maps
an id back to its function and qualifier for the HTTP front; it is an index
only — the configuration on ``$LATEST`` is the truth, so a row left behind
by a deleted function matches nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.models import FunctionState, FunctionUrlSettings
from loam.control.names import FunctionRef, parse_function_name
from loam.control.paging import page_of
from loam.errors import (
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from loam.store.sql import Database

__all__ = ["FunctionUrlTarget", "FunctionUrls", "function_url", "url_id"]

LATEST = "$LATEST"
_PAGE = 50
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_QUALIFIER = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"
_NO_FUNCTION = "Function does not exist"
_NO_CONFIG = "The resource you requested does not exist."
_SCHEMA = """
CREATE TABLE IF NOT EXISTS furl_ids (
    url_id {text_key} PRIMARY KEY,
    function_name {text_key} NOT NULL,
    qualifier {text_key} NOT NULL
)
"""


def url_id(account_id: str, region: str, function: str, qualifier: str) -> str:
    """The URL id of (function, qualifier): 32 characters of ``[0-9a-z]``."""
    digest = hashlib.sha256(f"{account_id}:{region}:{function}:{qualifier}".encode()).digest()
    number = int.from_bytes(digest, "big")
    chars = []
    for _ in range(32):
        number, index = divmod(number, 36)
        chars.append(_ALPHABET[index])
    return "".join(chars)


def function_url(url_id: str, region: str, port: int) -> str:
    """Where a URL answers on this node (AWS: ``https://<id>.lambda-url.<region>.on.aws/``)."""
    return f"http://{url_id}.lambda-url.{region}.localhost:{port}/"


def iso_time(epoch: float) -> str:
    """``2021-10-27T17:11:27.143316Z``: CreationTime / LastModifiedTime as AWS writes them."""
    seconds = int(epoch)
    micros = round((epoch - seconds) * 1_000_000) % 1_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


@dataclass(frozen=True)
class FunctionUrlTarget:
    """What one URL id invokes: the function, its qualifier, and the configuration."""

    function: str
    qualifier: str  # "$LATEST" or an alias
    settings: FunctionUrlSettings

    @property
    def invoke_qualifier(self) -> str | None:
        return None if self.qualifier == LATEST else self.qualifier


class FunctionUrls:
    def __init__(self, functions: FunctionService, database: Database, clock: Clock,
                 port: int) -> None:
        self.functions = functions
        self.database = database
        self.clock = clock
        self.port = port
        self.arns = functions.arns
        # url id → (function, qualifier): fixed for ever, since ids are derived.
        self._index: dict[str, tuple[str, str]] = {}
        database.schema(_SCHEMA)

    # -- the API -------------------------------------------------------------

    def create(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ref = _ref(params)
        key = ref.qualifier or LATEST
        uid = self._url_id(ref.name, key)
        self._remember(uid, ref.name, key)

        def configure(latest: FunctionState) -> FunctionState:
            live = self._live_qualifiers(latest.name)
            if key in latest.function_urls and key in live:
                arn = self.arns.function(latest.name, ref.qualifier)
                raise ResourceConflictException(
                    f"Failed to create function url config for [functionArn = {arn}]. "
                    "Error message:  FunctionUrlConfig exists for this Lambda function")
            if key not in live:
                raise ResourceNotFoundException(_NO_FUNCTION)
            now = self.clock.time()
            settings = FunctionUrlSettings(uid, params["AuthType"],
                                           params.get("InvokeMode") or "BUFFERED",
                                           _cors(params.get("Cors")), now, now)
            return latest.evolve(function_urls={**self._live(latest, live), key: settings})

        updated = self._change(ref.name, configure)
        out = self._describe(updated.name, key, updated.function_urls[key])
        out.pop("LastModifiedTime")
        return out

    def get(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        ref = _ref({"FunctionName": function_name, "Qualifier": qualifier})
        latest, key = self._configured(ref)
        return self._describe(latest.name, key, latest.function_urls[key])

    def update(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ref = _ref(params)
        key = ref.qualifier or LATEST
        changes: dict[str, Any] = {}
        for member, attr in (("AuthType", "auth_type"), ("InvokeMode", "invoke_mode")):
            if params.get(member) is not None:
                changes[attr] = params[member]
        if params.get("Cors") is not None:
            changes["cors"] = _cors(params["Cors"])

        def configure(latest: FunctionState) -> FunctionState:
            live = self._live_qualifiers(latest.name)
            current = latest.function_urls.get(key)
            if current is None or key not in live:
                raise ResourceNotFoundException(_NO_CONFIG)
            settings = replace(current, **changes, modified=self.clock.time())
            return latest.evolve(function_urls={**self._live(latest, live), key: settings})

        updated = self._change(ref.name, configure)
        return self._describe(updated.name, key, updated.function_urls[key])

    def delete(self, function_name: str, qualifier: str | None) -> None:
        ref = _ref({"FunctionName": function_name, "Qualifier": qualifier})
        key = ref.qualifier or LATEST

        def remove(latest: FunctionState) -> FunctionState:
            live = self._live_qualifiers(latest.name)
            if key not in latest.function_urls or key not in live:
                raise ResourceNotFoundException(_NO_CONFIG)
            kept = {q: s for q, s in self._live(latest, live).items() if q != key}
            return latest.evolve(function_urls=kept)

        self._change(ref.name, remove)

    def list(self, function_name: str, marker: str | None,
             max_items: int | None) -> dict[str, Any]:
        name = parse_function_name(function_name).name
        latest = self._latest(name)
        configs = self._live(latest, self._live_qualifiers(name))
        items = [self._describe(name, q, s) for q, s in
                 sorted(configs.items(), key=lambda i: (i[0] != LATEST, i[0]))]
        return page_of(items, "FunctionUrlConfigs", marker, max_items, _PAGE)

    # -- the HTTP front's read -------------------------------------------------

    def known(self, uid: str) -> tuple[str, str] | None:
        """(function, qualifier) of a URL id this node has seen (None: not yet)."""
        return self._index.get(uid)

    def target(self, uid: str) -> FunctionUrlTarget | None:
        """The configuration URL id ``uid`` names (None if it names none).

        Warm: no store read (the index in memory, ``$LATEST`` and the alias
        from the function cache).
        """
        named = self._index.get(uid)
        if named is None:
            rows = self.database.execute(
                "SELECT function_name, qualifier FROM furl_ids WHERE url_id = ?", (uid,))
            if not rows:
                return None
            named = self._index[uid] = (str(rows[0][0]), str(rows[0][1]))
        name, key = named
        try:
            latest = (self.functions.resolve_cached(name, None)
                      or self.functions.resolve(name))
            if key != LATEST and self.functions.resolve_cached(name, key) is None:
                self.functions.resolve(name, key)  # the alias must still exist
        except ResourceNotFoundException:
            return None
        settings = latest.function_urls.get(key)
        if settings is None or settings.url_id != uid:
            return None
        return FunctionUrlTarget(name, key, settings)

    # -- helpers ---------------------------------------------------------------

    def _url_id(self, name: str, key: str) -> str:
        return url_id(self.arns.account_id, self.arns.region, name, key)

    def _remember(self, uid: str, name: str, key: str) -> None:
        self.database.execute(
            "INSERT INTO furl_ids (url_id, function_name, qualifier) VALUES (?, ?, ?) "
            "ON CONFLICT (url_id) DO NOTHING", (uid, name, key))
        self._index[uid] = (name, key)

    def _change(self, name: str, change: Any) -> FunctionState:
        try:
            self.functions.resolve(name)
        except ResourceNotFoundException as exc:
            raise ResourceNotFoundException(_NO_FUNCTION) from exc
        return self.functions.change_latest(name, change)

    def _configured(self, ref: FunctionRef) -> tuple[FunctionState, str]:
        key = ref.qualifier or LATEST
        latest = self._latest(ref.name)
        if key not in self._live(latest, self._live_qualifiers(ref.name)):
            raise ResourceNotFoundException(_NO_CONFIG)
        return latest, key

    def _latest(self, name: str) -> FunctionState:
        try:
            return self.functions.resolve(name)
        except ResourceNotFoundException as exc:
            raise ResourceNotFoundException(_NO_FUNCTION) from exc

    def _live_qualifiers(self, name: str) -> set[str]:
        live = {record.name for record in self.functions.store.list_aliases(name)}
        live.add(LATEST)
        return live

    @staticmethod
    def _live(latest: FunctionState, live: set[str]) -> dict[str, FunctionUrlSettings]:
        return {q: s for q, s in latest.function_urls.items() if q in live}

    def _describe(self, name: str, key: str, settings: FunctionUrlSettings) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "FunctionUrl": function_url(settings.url_id, self.arns.region, self.port),
            "FunctionArn": self.arns.function(name, None if key == LATEST else key),
            "AuthType": settings.auth_type,
            "CreationTime": iso_time(settings.created),
            "LastModifiedTime": iso_time(settings.modified),
            "InvokeMode": settings.invoke_mode,
        }
        if settings.cors is not None:
            doc["Cors"] = settings.cors
        return doc


def _ref(params: Mapping[str, Any]) -> FunctionRef:
    """The function and qualifier a request names; a version number is refused (the
    model's pattern catches ``Qualifier=1``, this a qualifier inside the ARN)."""
    ref = parse_function_name(params["FunctionName"], params.get("Qualifier"))
    qualifier = ref.qualifier
    if qualifier is not None and (qualifier.isdigit()
                                  or not re.match(r"^[0-9a-zA-Z_-]+$", qualifier)):
        raise ValidationException(
            f"1 validation error detected: Value '{ref.qualifier}' at 'qualifier' failed to "
            f"satisfy constraint: Member must satisfy regular expression pattern: {_QUALIFIER}")
    return ref


def _cors(cors: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The Cors document as stored and reported: the members the request set."""
    if cors is None:
        return None
    return {k: (list(v) if isinstance(v, list) else v) for k, v in cors.items()
            if v is not None}
