"""Stages and deployments.

The ``$default`` stage serves an API at its root, a named stage under
``/<stage-name>``. An auto-deploying stage serves the API's current routes,
integrations and authorizers; a stage without auto-deploy serves what its
deployment froze (CreateDeployment snapshots them in the transaction that
stores it), and nothing until a deployment names it. Turning AutoDeploy on
or off deploys the API as it is, so the stage goes on serving what it served.
"""

from __future__ import annotations

import re
from typing import Any

from loam.services.apigateway.context import ApiContext, page
from loam.services.apigateway.errors import BadRequestException, ConflictException
from loam.services.apigateway.models import new_id
from loam.services.apigateway.store import Document
from loam.services.base import Handler

__all__ = ["StageOperations", "deployment_document", "stage_document"]

_STAGE = "stage"
_DEPLOYMENT = "deployment"
_STAGE_NAME = re.compile(r"^(\$default|[A-Za-z0-9_-]{1,128})$")
_VARIABLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def deployment_document(deployment_id: str, now: str, description: str | None,
                        auto: bool) -> Document:
    doc: Document = {"AutoDeployed": auto, "CreatedDate": now, "DeploymentId": deployment_id,
                     "DeploymentStatus": "DEPLOYED"}
    if description is not None:
        doc["Description"] = description
    return doc


def stage_document(params: dict[str, Any], now: str, deployment_id: str | None,
                   managed: bool = False) -> Document:
    doc: Document = {
        "AutoDeploy": bool(params.get("AutoDeploy", False)),
        "CreatedDate": now,
        "DefaultRouteSettings": params.get("DefaultRouteSettings")
        or {"DetailedMetricsEnabled": False},
        "LastUpdatedDate": now,
        "RouteSettings": params.get("RouteSettings") or {},
        "StageName": params["StageName"],
        "StageVariables": params.get("StageVariables") or {},
        "Tags": params.get("Tags") or {},
    }
    if deployment_id is not None:
        doc["DeploymentId"] = deployment_id
        if doc["AutoDeploy"]:
            doc["LastDeploymentStatusMessage"] = (
                f"Successfully deployed stage with deployment ID '{deployment_id}'")
    if params.get("Description") is not None:
        doc["Description"] = params["Description"]
    if managed:
        doc["ApiGatewayManaged"] = True
    return doc


def check_stage(params: dict[str, Any]) -> None:
    if not _STAGE_NAME.match(params["StageName"]):
        raise BadRequestException(f"Stage name {params['StageName']} is invalid: letters, "
                                  "digits, hyphens and underscores, or $default")
    for name in params.get("StageVariables") or {}:
        if not _VARIABLE_NAME.match(name):
            raise BadRequestException(f"Stage variable name {name} is invalid: letters, digits "
                                      "and underscores, at most 64")


class StageOperations:
    def __init__(self, context: ApiContext) -> None:
        self.ctx = context

    def handlers(self) -> dict[str, Handler]:
        return {
            "CreateStage": self.create_stage, "GetStage": self.get_stage,
            "GetStages": self.get_stages, "UpdateStage": self.update_stage,
            "DeleteStage": self.delete_stage,
            "CreateDeployment": self.create_deployment,
            "GetDeployment": self.get_deployment, "GetDeployments": self.get_deployments,
            "UpdateDeployment": self.update_deployment,
            "DeleteDeployment": self.delete_deployment,
        }

    async def _deploy(self, api_id: str, description: str | None, auto: bool,
                      stage_name: str | None = None) -> str:
        """A new deployment of the API as it is now (pointing ``stage_name`` at it)."""
        deployment_id = new_id(6)
        now = self.ctx.now()
        doc = deployment_document(deployment_id, now, description, auto)
        await self.ctx.run(self.ctx.store.deploy, api_id, self.ctx.clock.time(), doc,
                           stage_name, now)
        return deployment_id

    async def create_stage(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        await self.ctx.api(api_id)
        check_stage(params)
        deployment_id = params.get("DeploymentId")
        if deployment_id is not None:
            await self.ctx.resource(api_id, _DEPLOYMENT, deployment_id)
        elif params.get("AutoDeploy"):
            deployment_id = await self._deploy(api_id, None, auto=True)
        doc = stage_document(params, self.ctx.now(), deployment_id)
        if not await self.ctx.run(self.ctx.store.insert, api_id, _STAGE, doc["StageName"],
                                  doc["StageName"], self.ctx.clock.time(), doc):
            raise ConflictException(f"Stage already exists: {doc['StageName']}")
        return doc

    async def get_stage(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.ctx.resource(params["ApiId"], _STAGE, params["StageName"])

    async def get_stages(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        return page(await self.ctx.run(self.ctx.store.list, params["ApiId"], _STAGE), params)

    async def update_stage(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        current = await self.ctx.resource(api_id, _STAGE, params["StageName"])
        changes = {k: v for k, v in params.items() if k not in ("ApiId", "StageName")}
        check_stage({**current, **changes})
        if changes.get("DeploymentId") is not None:
            await self.ctx.resource(api_id, _DEPLOYMENT, changes["DeploymentId"])
        elif "AutoDeploy" in changes and bool(changes["AutoDeploy"]) != bool(
                current.get("AutoDeploy")):
            # What auto-deploy last deployed, as AWS keeps it: the API as it is now.
            changes["DeploymentId"] = await self._deploy(api_id, None, auto=True)
        doc = {**current, **changes, "LastUpdatedDate": self.ctx.now()}
        await self.ctx.run(self.ctx.store.replace, api_id, _STAGE, doc["StageName"], doc)
        return doc

    async def delete_stage(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.resource(params["ApiId"], _STAGE, params["StageName"])
        await self.ctx.run(self.ctx.store.delete, params["ApiId"], _STAGE, params["StageName"])
        return {}

    async def create_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        await self.ctx.api(api_id)
        stage = None
        if params.get("StageName") is not None:
            stage = await self.ctx.resource(api_id, _STAGE, params["StageName"])
            if stage.get("AutoDeploy"):
                raise BadRequestException(f"Stage {params['StageName']} has AutoDeploy enabled; "
                                          "it cannot be deployed manually")
        deployment_id = await self._deploy(api_id, params.get("Description"), auto=False,
                                           stage_name=params.get("StageName"))
        return await self.ctx.resource(api_id, _DEPLOYMENT, deployment_id)

    async def get_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        return await self.ctx.resource(params["ApiId"], _DEPLOYMENT, params["DeploymentId"])

    async def get_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        await self.ctx.api(params["ApiId"])
        return page(await self.ctx.run(self.ctx.store.list, params["ApiId"], _DEPLOYMENT),
                    params)

    async def update_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id = params["ApiId"]
        current = await self.ctx.resource(api_id, _DEPLOYMENT, params["DeploymentId"])
        doc = {**current}
        if params.get("Description") is not None:
            doc["Description"] = params["Description"]
        await self.ctx.run(self.ctx.store.replace, api_id, _DEPLOYMENT, doc["DeploymentId"], doc)
        return doc

    async def delete_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        api_id, deployment_id = params["ApiId"], params["DeploymentId"]
        await self.ctx.resource(api_id, _DEPLOYMENT, deployment_id)
        stages = await self.ctx.run(self.ctx.store.list, api_id, _STAGE)
        if any(s.get("DeploymentId") == deployment_id for s in stages):
            raise BadRequestException("Active stages pointing to this deployment must be "
                                      "moved or deleted")
        await self.ctx.run(self.ctx.store.delete_deployment, api_id, deployment_id)
        return {}
