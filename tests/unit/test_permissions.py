"""Resource-based policies: AWS's statement shapes and answers, RevisionIds, and
the evaluation every function URL, HTTP API and event bus delivery relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loam.clock import FakeClock
from loam.control.code import CodeCache
from loam.control.functions import FunctionService
from loam.control.models import Alias, FunctionState
from loam.control.names import Arns
from loam.control.permissions import (
    Permissions,
    PolicyLengthExceededException,
    Request,
    Statement,
    evaluate,
    statement_of,
)
from loam.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
)
from loam.runtimes.registry import RuntimeRegistry
from loam.store import open_store
from loam.store.blobs import BlobStore

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"
RULE = "arn:aws:events:us-east-1:123456789012:rule/nightly"


@pytest.fixture
def permissions(tmp_path: Path) -> Iterator[Permissions]:
    store = open_store("sqlite", tmp_path)
    blobs = BlobStore(tmp_path / "blobs")
    arns = Arns("us-east-1", "123456789012")
    functions = FunctionService(store, blobs, CodeCache(blobs, tmp_path / "code"),
                                RuntimeRegistry(), arns, FakeClock())
    latest = FunctionState(name="f", runtime="python3.12", role="arn:aws:iam::1:role/r",
                           handler="index.handler", code_digest="d", code_sha256="s",
                           code_size=1, unzipped_size=1, revision_id="r-latest",
                           state="Active", last_published=1)
    store.create_function(latest.to_record())
    store.create_function(latest.evolve(version="1", revision_id="r-1",
                                        last_published=0).to_record())
    store.create_alias(Alias("f", "live", "1", revision_id="r-live").to_record())
    yield Permissions(functions, arns, FakeClock())
    functions.close()
    store.close()


def _add(permissions: Permissions, sid: str = "s1", **params: Any) -> dict[str, Any]:
    request = {"FunctionName": "f", "StatementId": sid, "Action": "lambda:InvokeFunction",
               "Principal": "events.amazonaws.com", **params}
    return permissions.add_permission(request)


def test_statements_take_aws_shapes() -> None:
    params = {"StatementId": "s3", "Action": "lambda:InvokeFunction",
              "Principal": "s3.amazonaws.com", "SourceArn": "arn:aws:s3:::bucket",
              "SourceAccount": "123456789012"}
    assert json.dumps(statement_of(params, ARN), separators=(",", ":")) == (
        '{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},'
        '"Action":"lambda:InvokeFunction","Resource":"' + ARN + '","Condition":'
        '{"StringEquals":{"AWS:SourceAccount":"123456789012"},'
        '"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}}')
    account = statement_of({**params, "Principal": "210987654321", "SourceArn": None,
                            "SourceAccount": None}, ARN)
    assert account["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert "Condition" not in account
    url = statement_of({"StatementId": "u", "Action": "lambda:InvokeFunctionUrl",
                        "Principal": "*", "FunctionUrlAuthType": "NONE"}, ARN)
    assert url["Principal"] == "*"
    assert url["Condition"] == {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}
    org = statement_of({"StatementId": "o", "Action": "lambda:GetFunction", "Principal": "*",
                        "PrincipalOrgID": "o-abcdefghij"}, ARN)
    assert org["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    role = "arn:aws:iam::210987654321:role/caller"
    assert statement_of({**params, "Principal": role}, ARN)["Principal"] == {"AWS": role}


def test_a_principal_aws_would_not_accept_is_refused() -> None:
    with pytest.raises(InvalidParameterValueException, match="The provided principal was invalid"):
        statement_of({"StatementId": "x", "Action": "lambda:InvokeFunction",
                      "Principal": "not a principal"}, ARN)


def test_add_get_remove_round_trip(permissions: Permissions) -> None:
    added = _add(permissions, SourceArn=RULE)
    statement = json.loads(added["Statement"])
    assert statement["Resource"] == ARN
    answer = permissions.get_policy("f", None)
    policy = json.loads(answer["Policy"])
    assert policy == {"Version": "2012-10-17", "Id": "default", "Statement": [statement]}
    permissions.remove_permission({"FunctionName": "f", "StatementId": "s1"})
    with pytest.raises(ResourceNotFoundException,
                       match=r"^The resource you requested does not exist\.$"):
        permissions.get_policy("f", None)


def test_aws_refusals(permissions: Permissions) -> None:
    _add(permissions)
    with pytest.raises(ResourceConflictException) as dup:
        _add(permissions)
    assert dup.value.message == (
        "The statement id (s1) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.")
    with pytest.raises(ResourceNotFoundException) as gone:
        permissions.remove_permission({"FunctionName": "f", "StatementId": "nope"})
    assert gone.value.message == "Statement nope is not found in resource policy."
    with pytest.raises(ResourceNotFoundException) as none:
        permissions.remove_permission({"FunctionName": "f", "StatementId": "s1",
                                       "Qualifier": "1"})
    assert none.value.message == "No policy is associated with the given resource."
    with pytest.raises(InvalidParameterValueException,
                       match=r"do not support adding policies for \$LATEST"):
        _add(permissions, Qualifier="$LATEST")
    with pytest.raises(ResourceNotFoundException, match=r"Function not found: .*:f:7$"):
        _add(permissions, Qualifier="7")
    with pytest.raises(ResourceNotFoundException, match="No policy found for"):
        permissions.remove_permission({"FunctionName": "ghost", "StatementId": "s1"})


def test_the_unqualified_policy_moves_the_function_revision(permissions: Permissions) -> None:
    before = permissions.functions.resolve("f").revision_id
    _add(permissions)
    after = permissions.functions.resolve("f").revision_id
    assert after != before
    assert permissions.get_policy("f", None)["RevisionId"] == after
    with pytest.raises(PreconditionFailedException, match="Call the GetPolicy API"):
        _add(permissions, "s2", RevisionId=before)
    _add(permissions, "s2", RevisionId=after)
    with pytest.raises(PreconditionFailedException):
        permissions.remove_permission({"FunctionName": "f", "StatementId": "s2",
                                       "RevisionId": after})


def test_each_qualifier_has_its_own_policy(permissions: Permissions) -> None:
    _add(permissions, Qualifier="1")
    _add(permissions, Qualifier="live")
    _add(permissions)  # the same statement id, a different qualifier
    version = permissions.get_policy("f", "1")
    # Each change renewed the RevisionId of the version or alias it was made on.
    renewed = permissions.functions.resolve("f", "1").revision_id
    assert version["RevisionId"] == renewed != "r-1"
    assert json.loads(version["Policy"])["Statement"][0]["Resource"] == f"{ARN}:1"
    alias = permissions.get_policy(f"{ARN}:live", None)
    assert alias["RevisionId"] not in ("r-live", renewed)
    permissions.remove_permission({"FunctionName": "f", "StatementId": "s1", "Qualifier": "1"})
    assert permissions.get_policy("f", "live")
    assert permissions.get_policy("f", None)


def test_a_policy_has_aws_size_limit(permissions: Permissions) -> None:
    long_arn = "arn:aws:events:us-east-1:123456789012:rule/" + "r" * 900
    with pytest.raises(PolicyLengthExceededException, match=r"bigger than the limit \(20480\)"):
        for n in range(40):
            _add(permissions, f"s{n}", SourceArn=long_arn)


def test_a_service_is_allowed_only_from_its_source(permissions: Permissions) -> None:
    assert not permissions.allows("f", None, "events.amazonaws.com", source_arn=RULE)
    _add(permissions, SourceArn="arn:aws:events:us-east-1:123456789012:rule/night*")
    assert permissions.allows("f", None, "events.amazonaws.com", source_arn=RULE)
    assert permissions.allows(ARN, None, "events.amazonaws.com", source_arn=RULE)
    other = "arn:aws:events:us-east-1:123456789012:rule/daily"
    assert not permissions.allows("f", None, "events.amazonaws.com", source_arn=other)
    assert not permissions.allows("f", None, "events.amazonaws.com")
    assert not permissions.allows("f", None, "sqs.amazonaws.com", source_arn=RULE)
    assert not permissions.allows("ghost", None, "events.amazonaws.com", source_arn=RULE)


def test_the_policy_judged_is_the_invoked_qualifier(permissions: Permissions) -> None:
    _add(permissions)
    assert permissions.allows("f", None, "events.amazonaws.com")
    assert permissions.allows("f", "$LATEST", "events.amazonaws.com")
    assert not permissions.allows("f", "1", "events.amazonaws.com")
    assert not permissions.allows(f"{ARN}:live", None, "events.amazonaws.com")
    _add(permissions, Qualifier="live")
    assert permissions.allows(f"{ARN}:live", None, "events.amazonaws.com")


def test_accounts_and_anyone(permissions: Permissions) -> None:
    _add(permissions, "acct", Principal="210987654321", SourceAccount="210987654321")
    role = "arn:aws:iam::210987654321:role/caller"
    assert permissions.allows("f", None, role, source_account="210987654321")
    assert permissions.allows("f", None, "210987654321", source_account="210987654321")
    assert not permissions.allows("f", None, role, source_account="111111111111")
    assert not permissions.allows("f", None, "arn:aws:iam::111111111111:role/caller",
                                  source_account="210987654321")


def test_function_url_statements(permissions: Permissions) -> None:
    _add(permissions, "url", Action="lambda:InvokeFunctionUrl", Principal="*",
         FunctionUrlAuthType="NONE")
    assert permissions.allows("f", None, "*", function_url_auth_type="NONE")
    assert not permissions.allows("f", None, "*", function_url_auth_type="AWS_IAM")
    assert not permissions.allows("f", None, "*")  # InvokeFunction is not granted
    _add(permissions, "all", Action="lambda:*", Principal="123456789012")
    caller = "arn:aws:iam::123456789012:user/me"
    assert permissions.allows("f", None, caller, function_url_auth_type="AWS_IAM")
    assert permissions.allows("f", None, caller)


def test_an_explicit_deny_wins() -> None:
    allow = Statement.compile({"Effect": "Allow", "Principal": "*",
                               "Action": "lambda:InvokeFunction", "Resource": ARN})
    deny = Statement.compile({"Effect": "Deny", "Principal": {"Service": ["s3.amazonaws.com"]},
                              "Action": ["lambda:Invoke*"], "Resource": "arn:aws:lambda:*"})
    s3 = Request(ARN, "lambda:InvokeFunction", "s3.amazonaws.com", None, None, None)
    sns = Request(ARN, "lambda:InvokeFunction", "sns.amazonaws.com", None, None, None)
    assert not evaluate([allow, deny], s3)
    assert evaluate([allow, deny], sns)


def test_compiled_statements_are_reused_until_the_policy_changes(
        permissions: Permissions) -> None:
    _add(permissions)
    latest = permissions.functions.resolve("f")
    first = permissions._statements(latest, "$LATEST")
    assert permissions._statements(latest, "$LATEST") is first
    _add(permissions, "s2")
    changed = permissions._statements(permissions.functions.resolve("f"), "$LATEST")
    assert changed is not first and len(changed) == 2
