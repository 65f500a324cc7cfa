"""Lambda REQUEST authorizers of HTTP APIs.

An authorizer function gets the request (payload 1.0 or 2.0, with the values
of its identity sources) and answers either simply, ``{"isAuthorized": …,
"context": …}`` (``EnableSimpleResponses``), or with an IAM policy
(``principalId``, ``policyDocument``, ``context``) whose Allow statements must
cover the route's ARN and whose Deny statements win.

Outcomes: a missing identity source answers 401 before the function runs;
a refusal 403; a failed or malformed answer 500. A decision is cached per
authorizer and identity-source values for ``AuthorizerResultTtlInSeconds``
(by the injected clock; 0, or no identity source, disables the cache); a
cached policy is evaluated again for each route.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from loam.clock import Clock
from loam.http.apigw_payloads import authorizer_event_v1, authorizer_event_v2
from loam.http.apigw_request import ApiRequest, RequestFacts
from loam.services.apigateway.models import Authorizer

__all__ = ["AuthorizerCache", "AuthorizerFailed", "Decision", "Forbidden", "LambdaAuthorizers",
           "Unauthorized", "authorizer_context", "parse_decision"]

# Runs the authorizer's function (for an API id) on a payload → its answer; raises
# AuthorizerFailed when it cannot run or fails.
InvokeAuthorizer = Callable[[Authorizer, str, bytes], Awaitable[bytes]]

MAX_CACHED = 10_000
_ACTIONS = frozenset({"execute-api:Invoke", "execute-api:*", "*"})


class Unauthorized(Exception):
    """An identity source is missing: 401."""


class Forbidden(Exception):
    """The authorizer refused: 403."""


class AuthorizerFailed(Exception):
    """The authorizer could not run, failed, or answered nonsense: 500."""


@dataclass(frozen=True)
class Statement:
    effect: str
    resources: tuple[str, ...]

    def covers(self, arn: str) -> bool:
        return any(_glob(pattern).fullmatch(arn) for pattern in self.resources)


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern))


@dataclass(frozen=True)
class Decision:
    """What an authorizer answered: a simple verdict or an IAM policy, with context."""

    authorized: bool | None
    statements: tuple[Statement, ...]
    context: Mapping[str, Any] | None
    principal_id: str | None = None

    def allows(self, route_arn: str) -> bool:
        if self.authorized is not None:
            return self.authorized
        if any(s.effect == "Deny" and s.covers(route_arn) for s in self.statements):
            return False
        return any(s.effect == "Allow" and s.covers(route_arn) for s in self.statements)


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise AuthorizerFailed("policy members must be strings")
    return tuple(items)


def _statements(policy: Any) -> tuple[Statement, ...]:
    if not isinstance(policy, dict) or not isinstance(policy.get("Statement"), (list, dict)):
        raise AuthorizerFailed("policyDocument has no Statement")
    raw = policy["Statement"]
    statements = []
    for item in raw if isinstance(raw, list) else [raw]:
        if not isinstance(item, dict) or item.get("Effect") not in ("Allow", "Deny"):
            raise AuthorizerFailed("a statement's Effect must be Allow or Deny")
        if not set(_strings(item.get("Action", []))) & _ACTIONS:
            continue
        statements.append(Statement(item["Effect"], _strings(item.get("Resource", []))))
    return tuple(statements)


def parse_decision(payload: bytes, simple: bool) -> Decision:
    """An authorizer's answer; ``AuthorizerFailed`` if it is neither shape."""
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AuthorizerFailed("the authorizer's answer is not JSON") from exc
    if not isinstance(doc, dict):
        raise AuthorizerFailed("the authorizer's answer is not an object")
    context = doc.get("context")
    if context is not None and not isinstance(context, dict):
        raise AuthorizerFailed("context is not an object")
    if simple and "isAuthorized" in doc:
        if not isinstance(doc["isAuthorized"], bool):
            raise AuthorizerFailed("isAuthorized is not a boolean")
        return Decision(doc["isAuthorized"], (), context)
    if "policyDocument" not in doc:
        raise AuthorizerFailed("the answer has neither isAuthorized nor policyDocument")
    principal = doc.get("principalId")
    if principal is not None and not isinstance(principal, str):
        raise AuthorizerFailed("principalId is not a string")
    return Decision(None, _statements(doc["policyDocument"]), context, principal)


class AuthorizerCache:
    """Decisions by (API, authorizer, identity values), expiring on the clock's
    monotonic time; the oldest go first beyond ``max_entries``."""

    def __init__(self, clock: Clock, max_entries: int = MAX_CACHED) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, ...], tuple[float, Decision]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> Decision | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock.monotonic():
            del self._entries[key]
            return None
        return entry[1]

    def put(self, key: tuple[str, ...], decision: Decision, ttl_s: float) -> None:
        self._entries[key] = (self.clock.monotonic() + ttl_s, decision)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def identity_values(sources: tuple[str, ...], request: ApiRequest,
                    facts: RequestFacts) -> list[str]:
    """Each identity source's value; ``Unauthorized`` when one is missing or empty."""
    context = {"requestId": facts.request_id, "stage": facts.stage, "apiId": facts.api_id,
               "routeKey": facts.route_key, "accountId": facts.account_id,
               "domainName": facts.domain_name, "httpMethod": request.method}
    values = []
    for source in sources:
        value: str | None = None
        if source.startswith("$request.header."):
            value = request.header(source.removeprefix("$request.header.").lower())
        elif source.startswith("$request.querystring."):
            name = source.removeprefix("$request.querystring.")
            found = [v for k, v in parse_qsl(request.raw_query, keep_blank_values=True)
                     if k == name]
            value = ",".join(found) if found else None
        elif source.startswith("$context."):
            value = context.get(source.removeprefix("$context."))
        elif source.startswith("$stageVariables."):
            value = facts.stage_variables.get(source.removeprefix("$stageVariables."))
        if not value:
            raise Unauthorized(source)
        values.append(value)
    return values


class LambdaAuthorizers:
    def __init__(self, clock: Clock, invoke: InvokeAuthorizer) -> None:
        self.cache = AuthorizerCache(clock)
        self._invoke = invoke

    async def authorize(self, authorizer: Authorizer, request: ApiRequest, facts: RequestFacts,
                        route_arn: str) -> Decision:
        """The decision allowing this request; ``Unauthorized``, ``Forbidden`` or
        ``AuthorizerFailed`` otherwise."""
        identity = identity_values(authorizer.identity_source, request, facts)
        key = (facts.api_id, authorizer.authorizer_id, *identity)
        caching = authorizer.ttl_seconds > 0 and bool(authorizer.identity_source)
        decision = self.cache.get(key) if caching else None
        if decision is None:
            if authorizer.payload_format_version == "2.0":
                event = authorizer_event_v2(request, facts, identity)
            else:
                event = authorizer_event_v1(request, facts, identity)
            answer = await self._invoke(authorizer, facts.api_id, json.dumps(event).encode())
            decision = parse_decision(answer, authorizer.simple_responses)
            if caching:
                self.cache.put(key, decision, authorizer.ttl_seconds)
        if not decision.allows(route_arn):
            raise Forbidden(authorizer.authorizer_id)
        return decision


def authorizer_context(decision: Decision, payload_format_version: str) -> dict[str, Any]:
    """``requestContext.authorizer`` of the integration's event."""
    if payload_format_version == "2.0":
        return {"lambda": dict(decision.context) if decision.context is not None else None}
    context: dict[str, Any] = dict(decision.context or {})
    if decision.principal_id is not None:
        context["principalId"] = decision.principal_id
    context["integrationLatency"] = 0
    return context
