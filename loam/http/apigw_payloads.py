"""The events an HTTP API sends its Lambda integrations and authorizers.

Payload format 2.0 (``routeKey``, ``rawPath``, ``cookies``, headers joined by
commas) and 1.0 (the REST API proxy shape, with ``multiValue…`` members), as
API Gateway documents them for HTTP APIs; both validate against
aws-lambda-powertools' parser models. ``rawPath`` and ``path`` keep a named
stage's segment, as AWS's do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from loam.http.apigw_request import ApiRequest, RequestFacts, body_text

__all__ = ["authorizer_event_v1", "authorizer_event_v2", "event_v1", "event_v2"]


def _path(request: ApiRequest) -> str:
    return unquote(request.raw_path)


def _context_v2(request: ApiRequest, facts: RequestFacts) -> dict[str, Any]:
    return {
        "accountId": facts.account_id,
        "apiId": facts.api_id,
        "domainName": facts.domain_name,
        "domainPrefix": facts.api_id,
        "http": {"method": request.method, "path": _path(request),
                 "protocol": request.protocol, "sourceIp": request.source_ip,
                 "userAgent": request.user_agent},
        "requestId": facts.request_id,
        "routeKey": facts.route_key,
        "stage": facts.stage,
        "time": facts.request_time,
        "timeEpoch": facts.epoch_ms,
    }


def _base_v2(request: ApiRequest, facts: RequestFacts) -> dict[str, Any]:
    headers = {name: ",".join(values) for name, values in request.header_lists().items()
               if name != "cookie"}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": facts.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    cookies = request.cookies()
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    query = request.query_lists()
    if query:
        event["queryStringParameters"] = {k: ",".join(v) for k, v in query.items()}
    if facts.path_parameters:
        event["pathParameters"] = dict(facts.path_parameters)
    if facts.stage_variables:
        event["stageVariables"] = dict(facts.stage_variables)
    event["requestContext"] = _context_v2(request, facts)
    return event


def event_v2(request: ApiRequest, facts: RequestFacts,
             authorizer: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Payload format 2.0; ``authorizer`` is ``requestContext.authorizer``
    (``{"lambda": context}`` after a Lambda authorizer)."""
    event = _base_v2(request, facts)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    body, encoded = body_text(request)
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def _identity(request: ApiRequest) -> dict[str, Any]:
    return {"accessKey": None, "accountId": None, "caller": None,
            "cognitoAuthenticationProvider": None, "cognitoAuthenticationType": None,
            "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
            "principalOrgId": None, "sourceIp": request.source_ip, "user": None,
            "userAgent": request.user_agent, "userArn": None}


def _base_v1(request: ApiRequest, facts: RequestFacts) -> dict[str, Any]:
    header_lists = request.header_lists()
    query = request.query_lists()
    path = _path(request)
    return {
        "version": "1.0",
        "resource": facts.resource_path,
        "path": path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in header_lists.items()},
        "multiValueHeaders": header_lists,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": query or None,
        "requestContext": {
            "accountId": facts.account_id,
            "apiId": facts.api_id,
            "domainName": facts.domain_name,
            "domainPrefix": facts.api_id,
            "extendedRequestId": facts.request_id,
            "httpMethod": request.method,
            "identity": _identity(request),
            "path": path,
            "protocol": request.protocol,
            "requestId": facts.request_id,
            "requestTime": facts.request_time,
            "requestTimeEpoch": facts.epoch_ms,
            "resourceId": facts.route_key,
            "resourcePath": facts.resource_path,
            "stage": facts.stage,
        },
        "pathParameters": dict(facts.path_parameters) or None,
        "stageVariables": dict(facts.stage_variables) or None,
    }


def event_v1(request: ApiRequest, facts: RequestFacts,
             authorizer: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Payload format 1.0; ``authorizer`` is ``requestContext.authorizer`` (a Lambda
    authorizer's context with its ``principalId``)."""
    event = _base_v1(request, facts)
    if authorizer is not None:
        event["requestContext"]["authorizer"] = dict(authorizer)
    body, encoded = body_text(request)
    event["body"] = body
    event["isBase64Encoded"] = encoded
    return event


def authorizer_event_v2(request: ApiRequest, facts: RequestFacts,
                        identity: list[str]) -> dict[str, Any]:
    event = _base_v2(request, facts)
    return {"version": "2.0", "type": "REQUEST",
            "routeArn": facts.route_arn(request.method, _route_path(request, facts)),
            "identitySource": identity,
            **{k: v for k, v in event.items() if k != "version"}}


def authorizer_event_v1(request: ApiRequest, facts: RequestFacts,
                        identity: list[str]) -> dict[str, Any]:
    event = _base_v1(request, facts)
    joined = ",".join(identity)
    return {"version": "1.0", "type": "REQUEST",
            "methodArn": facts.route_arn(request.method, _route_path(request, facts)),
            "identitySource": joined, "authorizationToken": joined,
            **{k: v for k, v in event.items() if k != "version"}}


def _route_path(request: ApiRequest, facts: RequestFacts) -> str:
    """The request's path without its stage segment (what the route ARN names)."""
    path = _path(request)
    if facts.stage != "$default":
        path = path[len(facts.stage) + 1:] or "/"
    return path
