"""Lambda REQUEST authorizers: simple and IAM-policy answers, identity sources, and the
result cache on a fake clock."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from loam.clock import FakeClock
from loam.http.apigw_authorizers import (
    AuthorizerFailed,
    Forbidden,
    LambdaAuthorizers,
    Unauthorized,
    authorizer_context,
    parse_decision,
)
from loam.http.apigw_request import ApiRequest, RequestFacts
from loam.services.apigateway.models import Authorizer

FACTS = RequestFacts("123456789012", "us-east-1", "abcdef1234", "$default", "GET /items/{id}",
                     "/items/{id}", "req", 1_700_000_000.0, {"id": "1"})
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/GET/items/1"


def request(token: str | None = None, query: str = "") -> ApiRequest:
    headers = (("authorization", token),) if token is not None else ()
    return ApiRequest("GET", "/items/1", query, headers)


def authorizer(ttl: int = 300, simple: bool = True, version: str = "2.0",
               sources: tuple[str, ...] = ("$request.header.Authorization",)) -> Authorizer:
    return Authorizer("auth01", "auth", "arn:aws:lambda:us-east-1:123456789012:function:a",
                      version, simple, sources, ttl)


class FakeFunction:
    """Answers like an authorizer function and counts its invocations."""

    def __init__(self, answer: dict[str, Any] | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.answer = answer

    async def __call__(self, auth: Authorizer, api_id: str, payload: bytes) -> bytes:
        event = json.loads(payload)
        self.calls.append(event)
        if self.answer is not None:
            return json.dumps(self.answer).encode()
        token = event["identitySource"][0]
        return json.dumps({"isAuthorized": token == "good", "context": {"who": token}}).encode()


def authorize(authorizers: LambdaAuthorizers, auth: Authorizer, req: ApiRequest,
              arn: str = ARN) -> Any:
    return asyncio.run(authorizers.authorize(auth, req, FACTS, arn))


def test_cached_per_identity_value_until_the_ttl() -> None:
    clock, function = FakeClock(), FakeFunction()
    authorizers = LambdaAuthorizers(clock, function)
    auth = authorizer(ttl=60)
    decision = authorize(authorizers, auth, request("good"))
    assert decision.context == {"who": "good"}
    authorize(authorizers, auth, request("good"))
    assert len(function.calls) == 1                       # served from the cache
    with pytest.raises(Forbidden):
        authorize(authorizers, auth, request("bad"))      # another identity: invoked
    with pytest.raises(Forbidden):
        authorize(authorizers, auth, request("bad"))      # a cached refusal
    assert len(function.calls) == 2
    clock.advance(59)
    authorize(authorizers, auth, request("good"))
    assert len(function.calls) == 2
    clock.advance(1)
    authorize(authorizers, auth, request("good"))        # expired: invoked again
    assert len(function.calls) == 3


def test_ttl_zero_disables_the_cache() -> None:
    function = FakeFunction()
    authorizers = LambdaAuthorizers(FakeClock(), function)
    for _ in range(3):
        authorize(authorizers, authorizer(ttl=0), request("good"))
    assert len(function.calls) == 3


def test_missing_identity_source_is_unauthorized_without_invoking() -> None:
    function = FakeFunction()
    authorizers = LambdaAuthorizers(FakeClock(), function)
    with pytest.raises(Unauthorized):
        authorize(authorizers, authorizer(), request())
    with pytest.raises(Unauthorized):
        authorize(authorizers, authorizer(), request(""))
    query = authorizer(sources=("$request.querystring.key",))
    with pytest.raises(Unauthorized):
        authorize(authorizers, query, request())
    authorize(authorizers, query, request(query="key=good"))
    assert [c["identitySource"] for c in function.calls] == [["good"]]


def test_policy_allow_and_deny_by_route() -> None:
    policy = {"principalId": "user", "context": {"tier": "gold"}, "policyDocument": {
        "Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow",
             "Resource": ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*/GET/*"]},
            {"Action": "execute-api:Invoke", "Effect": "Deny",
             "Resource": "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*/GET/admin"},
        ]}}
    function = FakeFunction(policy)
    authorizers = LambdaAuthorizers(FakeClock(), function)
    auth = authorizer(simple=False, version="1.0")
    decision = authorize(authorizers, auth, request("t"))
    assert authorizer_context(decision, "1.0") == {
        "tier": "gold", "principalId": "user", "integrationLatency": 0}
    assert authorizer_context(decision, "2.0") == {"lambda": {"tier": "gold"}}
    assert function.calls[0]["methodArn"] == ARN and function.calls[0]["identitySource"] == "t"
    deny_arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/GET/admin"
    with pytest.raises(Forbidden):
        authorize(authorizers, auth, request("t"), deny_arn)   # the cached policy, re-evaluated
    post_arn = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/$default/POST/items"
    with pytest.raises(Forbidden):
        authorize(authorizers, auth, request("t"), post_arn)   # no Allow covers it
    assert len(function.calls) == 1


@pytest.mark.parametrize("answer", [
    b"not json", b"[]", b'{"isAuthorized": "yes"}', b'{"context": {}}',
    b'{"policyDocument": {"Statement": [{"Effect": "Maybe"}]}}',
    b'{"isAuthorized": true, "context": "x"}',
])
def test_malformed_answers_fail(answer: bytes) -> None:
    with pytest.raises(AuthorizerFailed):
        parse_decision(answer, simple=True)


def test_failures_are_not_cached() -> None:
    class Flaky(FakeFunction):
        async def __call__(self, auth: Authorizer, api_id: str, payload: bytes) -> bytes:
            self.calls.append({})
            if len(self.calls) == 1:
                raise AuthorizerFailed("boom")
            return b'{"isAuthorized": true}'

    function = Flaky()
    authorizers = LambdaAuthorizers(FakeClock(), function)
    with pytest.raises(AuthorizerFailed):
        authorize(authorizers, authorizer(), request("good"))
    authorize(authorizers, authorizer(), request("good"))
    authorize(authorizers, authorizer(), request("good"))
    assert len(function.calls) == 2
