"""Resource-based policies of functions: AddPermission / RemovePermission / GetPolicy,
and their evaluation for the invoke actions.

Invariants, as AWS keeps them:
- a policy belongs to one qualifier: the unqualified function (stored under
  ``$LATEST``), a version or an alias; it is kept on the function's ``$LATEST``
  document and never copied to a published version;
- statement ids are unique within one qualifier's policy;
- changing a policy renews the RevisionId of what it belongs to: the
  unqualified function's (in the same write), a version's or an alias's (a
  compare-and-swap on that version or alias first, so two changes made
  against one RevisionId cannot both succeed); GetPolicy reports that
  RevisionId, and a stale one given to AddPermission / RemovePermission is a
  ``PreconditionFailedException``;
- an invocation is judged by the policy of the qualifier it names: a statement
  applies when its Resource matches the invoked ARN, its Action covers the
  invoke action, its Principal names the caller and its conditions hold; an
  explicit Deny wins over any Allow.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from loam.clock import Clock
from loam.control.functions import FunctionService
from loam.control.models import FunctionState, new_revision
from loam.control.names import Arns, parse_function_name
from loam.errors import (
    InvalidParameterValueException,
    LoamError,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from loam.store import RecordNotFound, RevisionMismatch

__all__ = ["POLICY_LIMIT", "Permissions", "PolicyLengthExceededException", "Statement"]

UNQUALIFIED = "$LATEST"
POLICY_LIMIT = 20_480
_CACHE_LIMIT = 4096
_RENEW_ATTEMPTS = 5
_NO_POLICY = "The resource you requested does not exist."
_BAD_PRINCIPAL = "The provided principal was invalid. Please check the principal and try again."
_SERVICE = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.(amazonaws\.com|amazon\.com|aws\.internal)$")
_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:(iam|sts)::(\d{12}):\S+$")


class PolicyLengthExceededException(LoamError):
    code = "PolicyLengthExceededException"
    status = 400
    error_type = "User"
    message_key = "message"


def _dumps(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"))


def _principal(value: str) -> str | dict[str, str]:
    """A request's Principal in AWS's statement form."""
    if value == "*":
        return "*"
    if _ACCOUNT.match(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if _IAM_ARN.match(value):
        return {"AWS": value}
    if _SERVICE.match(value):
        return {"Service": value}
    raise InvalidParameterValueException(_BAD_PRINCIPAL)


def statement_of(params: Mapping[str, Any], resource: str) -> dict[str, Any]:
    """AddPermission's request as the statement AWS stores (and echoes back)."""
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    equals = {key: params[member] for member, key in (
        ("SourceAccount", "AWS:SourceAccount"),
        ("PrincipalOrgID", "aws:PrincipalOrgID"),
        ("EventSourceToken", "lambda:EventSourceToken"),
        ("FunctionUrlAuthType", "lambda:FunctionUrlAuthType"),
    ) if params.get(member)}
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if params.get("InvokedViaFunctionUrl") is not None:
        condition["Bool"] = {
            "lambda:InvokedViaFunctionUrl": str(bool(params["InvokedViaFunctionUrl"])).lower()}
    if condition:
        statement["Condition"] = condition
    return statement


def _values(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return (str(value),)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's ``*`` / ``?`` wildcards (ArnLike, StringLike, Resource, Action)."""
    return re.compile("".join(
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


@dataclass(frozen=True)
class Request:
    """What one invocation offers a policy: the invoked ARN, action and caller."""

    resource: str
    action: str
    principal: str
    source_arn: str | None
    source_account: str | None
    function_url_auth_type: str | None

    def context(self, key: str) -> str | None:
        """The value of a condition key (case-insensitive, as IAM's keys are)."""
        known = {
            "aws:sourcearn": self.source_arn,
            "aws:sourceaccount": self.source_account,
            "lambda:functionurlauthtype": self.function_url_auth_type,
            "lambda:invokedviafunctionurl":
                "true" if self.function_url_auth_type is not None else "false",
        }
        return known.get(key.lower())


@dataclass(frozen=True)
class Statement:
    """One statement, compiled once for evaluation."""

    allow: bool
    actions: tuple[re.Pattern[str], ...]
    resources: tuple[re.Pattern[str], ...]
    anyone: bool
    services: frozenset[str]
    accounts: frozenset[str]  # principals named by account (…:root or the account id)
    arns: frozenset[str]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)

    @classmethod
    def compile(cls, doc: Mapping[str, Any]) -> Statement:
        principal = doc.get("Principal", {})
        anyone = principal == "*" or (isinstance(principal, dict)
                                      and "*" in _values(principal.get("AWS", ())))
        aws = _values(principal.get("AWS", ())) if isinstance(principal, dict) else ()
        services = _values(principal.get("Service", ())) if isinstance(principal, dict) else ()
        accounts = {a for a in aws if _ACCOUNT.match(a)}
        accounts |= {a.split(":")[4] for a in aws if a.endswith(":root") and _IAM_ARN.match(a)}
        conditions = tuple(
            (operator, key, _values(value))
            for operator, block in (doc.get("Condition") or {}).items()
            for key, value in block.items())
        return cls(
            allow=doc.get("Effect") == "Allow",
            actions=tuple(_wildcard(a.lower()) for a in _values(doc.get("Action", ()))),
            resources=tuple(_wildcard(r) for r in _values(doc.get("Resource", ()))),
            anyone=anyone, services=frozenset(services), accounts=frozenset(accounts),
            arns=frozenset(a for a in aws if not a.endswith(":root") and a != "*"),
            conditions=conditions,
        )

    def applies(self, request: Request) -> bool:
        return (any(p.match(request.action.lower()) for p in self.actions)
                and self._covers(request.resource)
                and self._names(request.principal)
                and all(_holds(op, request.context(key), values)
                        for op, key, values in self.conditions))

    def _covers(self, resource: str) -> bool:
        return any(p.match(resource) for p in self.resources)

    def _names(self, principal: str) -> bool:
        if self.anyone or principal in self.services or principal in self.arns:
            return True
        account = principal if _ACCOUNT.match(principal) else None
        if account is None and (m := _IAM_ARN.match(principal)):
            account = m.group(2)
        return account is not None and account in self.accounts


def _holds(operator: str, actual: str | None, expected: tuple[str, ...]) -> bool:
    """One condition, for the operators Lambda's policies use; an absent key fails
    every operator but the negated ones."""
    op = operator.removesuffix("IfExists")
    if actual is None:
        return operator.endswith("IfExists") or op.startswith(("StringNot", "ArnNot"))
    if op in ("StringEquals", "ArnEquals"):
        return actual in expected
    if op == "StringEqualsIgnoreCase":
        return actual.lower() in {e.lower() for e in expected}
    if op in ("ArnLike", "StringLike"):
        return any(_wildcard(e).match(actual) for e in expected)
    if op in ("StringNotEquals", "ArnNotEquals"):
        return actual not in expected
    if op in ("ArnNotLike", "StringNotLike"):
        return not any(_wildcard(e).match(actual) for e in expected)
    if op == "Bool":
        return actual.lower() in {e.lower() for e in expected}
    return False  # an operator loam does not evaluate never grants


def evaluate(statements: Iterable[Statement], request: Request) -> bool:
    """Allowed: some Allow statement applies and no Deny statement does."""
    allowed = False
    for statement in statements:
        if statement.applies(request):
            if not statement.allow:
                return False
            allowed = True
    return allowed


class Permissions:
    def __init__(self, functions: FunctionService, arns: Arns, clock: Clock) -> None:
        self.functions = functions
        self.arns = arns
        self.clock = clock
        self._compiled: dict[tuple[str, str, str], tuple[Statement, ...]] = {}
        self._lock = threading.Lock()

    # -- evaluation ------------------------------------------------------------

    def allows(self, function_name: str, qualifier: str | None, principal: str, *,
               source_arn: str | None = None, source_account: str | None = None,
               function_url_auth_type: str | None = None) -> bool:
        """Whether the function's policy lets ``principal`` invoke it (lambda:InvokeFunction,
        or lambda:InvokeFunctionUrl when ``function_url_auth_type`` is given).

        ``function_name`` may be a name or an ARN (qualified or not); the policy
        consulted is the one of the qualifier invoked. ``source_account``
        defaults to the account in ``source_arn``. False for a function that
        does not exist. Served from the function cache and compiled statements:
        no store read or JSON parsing on a warm path.
        """
        try:
            ref = parse_function_name(function_name, qualifier)
            latest = (self.functions.resolve_cached(ref.name, None)
                      or self.functions.resolve(ref.name))
        except LoamError:
            return False
        key = _key(ref.qualifier)
        statements = self._statements(latest, key)
        if not statements:
            return False
        if source_account is None and source_arn and source_arn.count(":") >= 5:
            source_account = source_arn.split(":")[4] or None
        action = ("lambda:InvokeFunctionUrl" if function_url_auth_type is not None
                  else "lambda:InvokeFunction")
        resources = [self.arns.function(ref.name, None if key == UNQUALIFIED else key)]
        if ref.qualifier == UNQUALIFIED:
            resources.append(self.arns.function(ref.name, UNQUALIFIED))
        return any(evaluate(statements, Request(resource, action, principal, source_arn,
                                                source_account, function_url_auth_type))
                   for resource in resources)

    def _statements(self, latest: FunctionState, key: str) -> tuple[Statement, ...]:
        docs = latest.policy.get(key)
        if not docs:
            return ()
        cache_key = (latest.name, latest.stored_token, key)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            compiled = tuple(Statement.compile(doc) for doc in docs)
            with self._lock:
                if len(self._compiled) >= _CACHE_LIMIT:
                    self._compiled.clear()
                self._compiled[cache_key] = compiled
        return compiled

    # -- the API ---------------------------------------------------------------

    def add_permission(self, params: Mapping[str, Any]) -> dict[str, Any]:
        ref = parse_function_name(params["FunctionName"], params.get("Qualifier"))
        if ref.qualifier == UNQUALIFIED:
            raise InvalidParameterValueException(
                "We currently do not support adding policies for $LATEST.")
        key = _key(ref.qualifier)
        statement = statement_of(params, self.arns.function(ref.name, ref.qualifier))
        sid = params["StatementId"]

        def change(latest: FunctionState) -> FunctionState:
            existing = latest.policy.get(key, ())
            if any(s.get("Sid") == sid for s in existing):
                raise ResourceConflictException(
                    f"The statement id ({sid}) provided already exists. Please provide a new "
                    "statement id, or remove the existing statement.")
            statements = (*existing, statement)
            size = len(_dumps(_document(statements)))
            if size > POLICY_LIMIT:
                raise PolicyLengthExceededException(
                    f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT}).")
            return _with_policy(latest, key, statements)

        self._change(ref.name, ref.qualifier, change, params.get("RevisionId"), "GetPolicy")
        return {"Statement": _dumps(statement)}

    def remove_permission(self, params: Mapping[str, Any]) -> None:
        ref = parse_function_name(params["FunctionName"], params.get("Qualifier"))
        key = _key(ref.qualifier)
        sid = params["StatementId"]

        def change(latest: FunctionState) -> FunctionState:
            existing = latest.policy.get(key, ())
            if not existing:
                raise ResourceNotFoundException(
                    "No policy is associated with the given resource.")
            kept = tuple(s for s in existing if s.get("Sid") != sid)
            if len(kept) == len(existing):
                raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
            return _with_policy(latest, key, kept)

        try:
            self.functions.resolve(ref.name)
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"No policy found for: {self.arns.function(ref.name)}") from None
        self._change(ref.name, ref.qualifier, change, params.get("RevisionId"),
                     "GetFunction/GetAlias", refusals_first=True)

    def get_policy(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        ref = parse_function_name(function_name, qualifier)
        latest = self.functions.resolve(ref.name)
        revision = self._revision(latest, ref.qualifier)
        statements = latest.policy.get(_key(ref.qualifier))
        if not statements:
            raise ResourceNotFoundException(_NO_POLICY)
        return {"Policy": _dumps(_document(statements)), "RevisionId": revision}

    # -- helpers -----------------------------------------------------------------

    def _change(self, name: str, qualifier: str | None,
                change: Callable[[FunctionState], FunctionState], expected: str | None,
                read_api: str, refusals_first: bool = False) -> None:
        """Apply ``change`` to ``$LATEST`` (re-applied if a concurrent write wins) and
        renew the RevisionId of the qualifier the policy belongs to.

        ``change`` is tried before anything is written, so a refused change (a
        duplicate or missing statement) renews nothing (and, with
        ``refusals_first``, is reported before a stale RevisionId, as
        RemovePermission does); then a version's or alias's RevisionId is
        renewed by compare-and-swap against the one ``expected`` (or read), which
        is what makes a stale RevisionId fail even against a concurrent change.
        """
        for _ in range(_RENEW_ATTEMPTS):
            latest = self.functions.resolve(name)
            revision = self._revision(latest, qualifier)
            stale = expected is not None and expected != revision
            if stale and not refusals_first:
                raise PreconditionFailedException.stale_revision(read_api)
            change(latest)
            if stale:
                raise PreconditionFailedException.stale_revision(read_api)
            if qualifier is None or qualifier == UNQUALIFIED:
                self._change_latest(name, change, expected, read_api)
                return
            if self._renew(name, qualifier, revision):
                self.functions.change_latest(name, change)
                return
            if expected is not None:
                raise PreconditionFailedException.stale_revision(read_api)
        raise ResourceConflictException(
            "The operation cannot be performed at this time. Concurrent updates to "
            f"{self.arns.function(name, qualifier)}; retry.")

    def _change_latest(self, name: str, change: Callable[[FunctionState], FunctionState],
                       expected: str | None, read_api: str) -> None:
        """The unqualified policy: its RevisionId is ``$LATEST``'s, renewed in the write."""
        def checked(latest: FunctionState) -> FunctionState:
            if expected is not None and expected != latest.revision_id:
                raise PreconditionFailedException.stale_revision(read_api)
            return change(latest)

        self.functions.change_latest(name, checked)

    def _renew(self, name: str, qualifier: str, revision: str) -> bool:
        """Give the version or alias a new RevisionId if it still has ``revision``."""
        store = self.functions.store
        try:
            if qualifier.isdigit():
                version = self.functions.resolve(name, qualifier)
                if version.revision_id != revision:
                    return False
                store.replace_function(*version.evolve(
                    revision_id=new_revision()).record_replacing(version))
            else:
                record = store.get_alias(name, qualifier)
                if record is None:
                    raise ResourceNotFoundException(
                        f"Function not found: {self.arns.function(name, qualifier)}")
                store.replace_alias(replace(record, revision_id=new_revision()), revision)
        except RevisionMismatch:
            return False
        except RecordNotFound as exc:
            raise ResourceNotFoundException(
                f"Function not found: {self.arns.function(name, qualifier)}") from exc
        return True

    def _revision(self, latest: FunctionState, qualifier: str | None) -> str:
        """The RevisionId of the function version or alias a policy belongs to."""
        if qualifier is None or qualifier == UNQUALIFIED:
            return latest.revision_id
        if not qualifier.isdigit():
            record = self.functions.store.get_alias(latest.name, qualifier)
            if record is None:
                raise ResourceNotFoundException(
                    f"Function not found: {self.arns.function(latest.name, qualifier)}")
            return record.revision_id
        return self.functions.resolve(latest.name, qualifier).revision_id


def _key(qualifier: str | None) -> str:
    return qualifier or UNQUALIFIED


def _document(statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": list(statements)}


def _with_policy(latest: FunctionState, key: str,
                 statements: tuple[dict[str, Any], ...]) -> FunctionState:
    """``latest`` with one qualifier's policy replaced (dropped when empty); the
    unqualified function's policy is part of its RevisionId, as on AWS."""
    policy = {q: s for q, s in latest.policy.items() if q != key}
    if statements:
        policy[key] = statements
    changes: dict[str, Any] = {"policy": policy}
    if key == UNQUALIFIED:
        changes["revision_id"] = new_revision()
    return latest.evolve(**changes)
