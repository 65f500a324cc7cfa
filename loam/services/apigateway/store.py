"""The ``apigw_*`` tables: APIs and their resources as JSON documents.

Every resource document is what the API returns for it, keyed by the model's
member names (``RouteId``, ``RouteKey``…), so reads need no mapping. An API's
routes, integrations, stages, authorizers and deployments live in
``apigw_resources`` under ``(api_id, kind, resource_id)`` and go with the API.
Timestamps are stored as epoch seconds and returned as such. A deployment's
``snapshot`` (kind ``snapshot``, under the deployment's id) holds the routes,
integrations and authorizers it froze; the API never returns it.

Every write names the API it changes to ``on_change`` once it has returned
(committed or not): the data plane's cached definitions follow the store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from loam.store.protocol import RecordExists
from loam.store.sql import Database

__all__ = ["SNAPSHOT", "ApiStore", "Document"]

Document = dict[str, Any]
Documents = list[Document]
SNAPSHOT = "snapshot"
# What a deployment freezes: a stage without auto-deploy serves these as deployed.
_DEPLOYED = ("route", "integration", "authorizer")

# One resource's statements, run alone or inside a transaction.
_INSERT = ("INSERT INTO apigw_resources (api_id, kind, resource_id, unique_key, created, "
           "document) VALUES (?, ?, ?, ?, ?, ?)")
_GET = "SELECT document FROM apigw_resources WHERE api_id = ? AND kind = ? AND resource_id = ?"
_LIST = ("SELECT document FROM apigw_resources WHERE api_id = ? AND kind = ? "
         "ORDER BY created, resource_id")
_UPDATE = ("UPDATE apigw_resources SET document = ? "
           "WHERE api_id = ? AND kind = ? AND resource_id = ?")
_DELETE = "DELETE FROM apigw_resources WHERE api_id = ? AND kind = ? AND resource_id = ?"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apigw_apis (
    api_id {text_key} PRIMARY KEY,
    created {real} NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS apigw_resources (
    api_id {text_key} NOT NULL,
    kind {text_key} NOT NULL,
    resource_id {text_key} NOT NULL,
    unique_key {text_key} NOT NULL,
    created {real} NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (api_id, kind, resource_id)
);
CREATE UNIQUE INDEX IF NOT EXISTS apigw_resources_unique
    ON apigw_resources (api_id, kind, unique_key)
"""


class ApiStore:
    """Thread-safe (the Database serialises); callers run it off the event loop."""

    def __init__(self, database: Database,
                 on_change: Callable[[str], None] = lambda api_id: None) -> None:
        self.database = database
        self._on_change = on_change
        self._ready = False

    @contextmanager
    def _writing(self, api_id: str) -> Iterator[None]:
        try:
            yield
        finally:
            self._on_change(api_id)

    def create_schema(self) -> None:
        if not self._ready:
            self.database.schema(_SCHEMA)
            self._ready = True

    # -- APIs ------------------------------------------------------------------

    def put_api(self, api_id: str, created: float, document: Document,
                children: Sequence[tuple[str, str, str, Document]] = ()) -> None:
        """Insert or replace an API (with resources created alongside: quick create)."""
        with self._writing(api_id), self.database.transaction() as tx:
            tx.execute(
                "INSERT INTO apigw_apis (api_id, created, document) VALUES (?, ?, ?) "
                "ON CONFLICT (api_id) DO UPDATE SET document = excluded.document",
                (api_id, created, json.dumps(document)))
            for kind, resource_id, unique_key, doc in children:
                tx.execute(_INSERT,
                           (api_id, kind, resource_id, unique_key, created, json.dumps(doc)))

    def api(self, api_id: str) -> Document | None:
        rows = self.database.execute("SELECT document FROM apigw_apis WHERE api_id = ?",
                                     (api_id,))
        return json.loads(rows[0][0]) if rows else None

    def apis(self) -> list[Document]:
        rows = self.database.execute("SELECT document FROM apigw_apis ORDER BY created, api_id")
        return [json.loads(row[0]) for row in rows]

    def delete_api(self, api_id: str) -> bool:
        with self._writing(api_id), self.database.transaction() as tx:
            tx.execute("DELETE FROM apigw_resources WHERE api_id = ?", (api_id,))
            return tx.rowcount("DELETE FROM apigw_apis WHERE api_id = ?", (api_id,)) > 0

    # -- an API's resources ----------------------------------------------------

    def insert(self, api_id: str, kind: str, resource_id: str, unique_key: str,
               created: float, document: Document) -> bool:
        """False when ``unique_key`` (a route key, a stage name) is taken in the API."""
        with self._writing(api_id):
            try:
                self.database.execute(_INSERT, (api_id, kind, resource_id, unique_key, created,
                                                json.dumps(document)))
            except RecordExists:
                return False
            return True

    def replace(self, api_id: str, kind: str, resource_id: str, document: Document) -> bool:
        with self._writing(api_id):
            return self.database.rowcount(
                _UPDATE, (json.dumps(document), api_id, kind, resource_id)) > 0

    def get(self, api_id: str, kind: str, resource_id: str) -> Document | None:
        rows = self.database.execute(_GET, (api_id, kind, resource_id))
        return json.loads(rows[0][0]) if rows else None

    def list(self, api_id: str, kind: str) -> list[Document]:
        rows = self.database.execute(_LIST, (api_id, kind))
        return [json.loads(row[0]) for row in rows]

    def resources(self, api_id: str, kinds: Sequence[str]) -> dict[str, Documents]:
        """Several kinds of an API's resources in one read, each in creation order."""
        found: dict[str, Documents] = {kind: [] for kind in kinds}
        marks = ", ".join("?" for _ in kinds)
        rows = self.database.execute(
            f"SELECT kind, document FROM apigw_resources WHERE api_id = ? AND kind IN ({marks}) "
            "ORDER BY created, resource_id", (api_id, *kinds))
        for kind, document in rows:
            if kind in found:
                found[kind].append(json.loads(document))
        return found

    def delete(self, api_id: str, kind: str, resource_id: str) -> bool:
        with self._writing(api_id):
            return self.database.rowcount(_DELETE, (api_id, kind, resource_id)) > 0

    # -- deployments ----------------------------------------------------------------

    def deploy(self, api_id: str, created: float, deployment: Document,
               stage_name: str | None, stage_updated: str) -> None:
        """Store ``deployment`` with a snapshot of the API's routes, integrations and
        authorizers as they are in this transaction, and point ``stage_name`` at it."""
        deployment_id = deployment["DeploymentId"]
        with self._writing(api_id), self.database.transaction() as tx:
            snapshot: Document = {}
            for kind in _DEPLOYED:
                rows = tx.execute(_LIST, (api_id, kind))
                snapshot[kind] = [json.loads(row[0]) for row in rows]
            for kind, doc in (("deployment", deployment), (SNAPSHOT, snapshot)):
                tx.execute(_INSERT, (api_id, kind, deployment_id, deployment_id, created,
                                     json.dumps(doc)))
            if stage_name is None:
                return
            rows = tx.execute(_GET, (api_id, "stage", stage_name))
            if rows:
                stage = {**json.loads(rows[0][0]), "DeploymentId": deployment_id,
                         "LastUpdatedDate": stage_updated}
                tx.execute(_UPDATE, (json.dumps(stage), api_id, "stage", stage_name))

    def delete_deployment(self, api_id: str, deployment_id: str) -> bool:
        with self._writing(api_id), self.database.transaction() as tx:
            tx.execute(_DELETE, (api_id, SNAPSHOT, deployment_id))
            return tx.rowcount(_DELETE, (api_id, "deployment", deployment_id)) > 0
