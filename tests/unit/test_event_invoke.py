"""Asynchronous-invocation settings: defaults, request parsing, destination rules,
and the read the asynchronous queue makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from loam.clock import FakeClock
from loam.control.code import CodeCache
from loam.control.event_invoke import (
    EffectiveConfig,
    EventInvokeConfigs,
    check_destinations,
    requested_settings,
)
from loam.control.functions import FunctionService
from loam.control.models import EventInvokeSettings, FunctionState
from loam.control.names import Arns
from loam.errors import InvalidParameterValueException, ResourceNotFoundException
from loam.runtimes.registry import RuntimeRegistry
from loam.store import AliasRecord, FunctionRecord
from loam.store.blobs import BlobStore

FN = "arn:aws:lambda:us-east-1:123456789012:function:"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:q"


def _fn(**changes: object) -> FunctionState:
    fn = FunctionState(name="f", runtime="python3.12", role="arn:aws:iam::1:role/r",
                       handler="index.handler", code_digest="d", code_sha256="s", code_size=1,
                       unzipped_size=1, revision_id="r1", state="Active")
    return fn.evolve(**changes)


class MemoryStore:
    """The store calls the read path makes, over dictionaries."""

    def __init__(self) -> None:
        self.functions: dict[tuple[str, str], FunctionRecord] = {}
        self.aliases: dict[tuple[str, str], AliasRecord] = {}

    def get_function(self, name: str, version: str = "$LATEST") -> FunctionRecord | None:
        return self.functions.get((name, version))

    def get_alias(self, function: str, name: str) -> AliasRecord | None:
        return self.aliases.get((function, name))

    def put(self, fn: FunctionState) -> None:
        self.functions[(fn.name, fn.version)] = fn.to_record()


def _configs(tmp_path: Path, store: MemoryStore) -> EventInvokeConfigs:
    blobs = BlobStore(tmp_path / "blobs")
    functions = FunctionService(store, blobs, CodeCache(blobs, tmp_path / "code"),  # type: ignore[arg-type]
                                RuntimeRegistry(), Arns("us-east-1", "123456789012"), FakeClock())
    return EventInvokeConfigs(functions, FakeClock())


def test_defaults_are_two_retries_six_hours_and_no_destinations() -> None:
    assert EffectiveConfig.of(None) == EffectiveConfig(2, 21_600, None, None)
    partial = EventInvokeSettings(max_retries=0, on_failure=QUEUE)
    assert EffectiveConfig.of(partial) == EffectiveConfig(0, 21_600, None, QUEUE)


def test_a_request_names_only_what_it_carries() -> None:
    assert requested_settings({"FunctionName": "f"}) == {}
    assert requested_settings({"MaximumRetryAttempts": 0}) == {"max_retries": 0}
    named = requested_settings({"MaximumEventAgeInSeconds": 60, "DestinationConfig": {
        "OnSuccess": {"Destination": QUEUE}, "OnFailure": {}}})
    assert named == {"max_age_s": 60, "on_success": QUEUE, "on_failure": None}
    # A destination member left out is not named (Update keeps it).
    assert requested_settings({"DestinationConfig": {}}) == {}


@pytest.mark.parametrize("arn", [
    QUEUE,
    "arn:aws:sns:us-east-1:123456789012:topic",
    "arn:aws:events:us-east-1:123456789012:event-bus/default",
    FN + "other",
    FN + "other:1",
])
def test_accepted_destinations(arn: str) -> None:
    check_destinations("f", arn, arn, lambda a: True)


def test_an_s3_bucket_is_a_destination_on_failure_only() -> None:
    bucket = "arn:aws:s3:::bucket"
    check_destinations("f", None, bucket, lambda a: True)
    with pytest.raises(InvalidParameterValueException) as exc:
        check_destinations("f", bucket, None, lambda a: True)
    assert exc.value.message == (
        "The provided destination config DestinationConfig(onSuccess=OnSuccess("
        "destination=arn:aws:s3:::bucket), onFailure=null) is invalid."
    )


def test_an_unsupported_service_names_the_whole_config() -> None:
    iam = "arn:aws:iam:us-east-1:123456789012:function:f"
    with pytest.raises(InvalidParameterValueException) as exc:
        check_destinations("f", QUEUE, iam, lambda a: True)
    assert exc.value.message == (
        f"The provided destination config DestinationConfig(onSuccess=OnSuccess(destination="
        f"{QUEUE}), onFailure=OnFailure(destination={iam})) is invalid."
    )


def test_a_function_destination_must_exist_and_not_be_the_function_itself() -> None:
    with pytest.raises(InvalidParameterValueException) as exc:
        check_destinations("f", FN + "gone", None, lambda a: False)
    assert exc.value.message == f"The destination ARN {FN}gone is invalid."
    with pytest.raises(InvalidParameterValueException) as exc:
        check_destinations("f", None, FN + "f:1", lambda a: True)
    assert exc.value.message == "You can't specify the function as a destination for itself."


def test_settings_survive_the_stored_document() -> None:
    settings = EventInvokeSettings(1, 120, QUEUE, None, 1_700_000_000.5)
    fn = _fn(event_invoke={"$LATEST": settings, "live": EventInvokeSettings(max_retries=0)},
             recursive_loop="Allow")
    again = FunctionState.from_json(fn.to_json())
    assert again == fn
    assert FunctionState.from_json(_fn().to_json()).recursive_loop == "Terminate"


def test_for_invocation_reads_the_qualifier_it_is_given(tmp_path: Path) -> None:
    store = MemoryStore()
    store.put(_fn(event_invoke={
        "$LATEST": EventInvokeSettings(max_retries=0),
        "live": EventInvokeSettings(max_age_s=60, on_failure=QUEUE),
    }))
    configs = _configs(tmp_path, store)
    assert configs.for_invocation("f", None) == EffectiveConfig(max_retries=0)
    assert configs.for_invocation("f", "$LATEST") == EffectiveConfig(max_retries=0)
    assert configs.for_invocation(FN + "f:live", None) == EffectiveConfig(
        max_age_s=60, on_failure=QUEUE)
    assert configs.for_invocation("f", "1") == EffectiveConfig()  # no fallback to $LATEST's
    with pytest.raises(ResourceNotFoundException):
        configs.for_invocation("missing", None)
