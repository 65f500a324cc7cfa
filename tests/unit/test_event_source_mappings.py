"""Event source mappings' control plane: AWS's defaults, rules, messages and states."""

from __future__ import annotations

from pathlib import Path

import pytest

from loam.control.event_source_models import EventSourceMapping, settled
from loam.errors import (
    InvalidParameterValueException,
    ResourceConflictException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from tests.unit.test_event_source_fakes import (
    ACCOUNT,
    FIFO_ARN,
    FN_ARN,
    QUEUE_ARN,
    ControlPlane,
    control_plane,
    function_state,
)


@pytest.fixture
def cp(tmp_path: Path) -> ControlPlane:
    return control_plane(tmp_path)


def test_create_answers_creating_with_sqs_defaults(cp: ControlPlane) -> None:
    out = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})
    uuid = out["UUID"]
    assert out == {
        "UUID": uuid, "BatchSize": 10, "MaximumBatchingWindowInSeconds": 0,
        "EventSourceArn": QUEUE_ARN, "FunctionArn": FN_ARN + "f",
        "LastModified": cp.clock.time(), "State": "Creating",
        "StateTransitionReason": "USER_INITIATED", "FunctionResponseTypes": [],
        "EventSourceMappingArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:event-source-mapping:{uuid}",
    }
    [now] = cp.mappings.settle_all()
    assert now.state == "Enabled"
    assert cp.mappings.get(uuid)["State"] == "Enabled"


def test_optional_settings_are_returned_as_given(cp: ControlPlane) -> None:
    cp.store.put(function_state("f", version="1"))
    pattern = '{"body": {"kind": ["a"]}}'
    out = cp.mappings.create({
        "EventSourceArn": QUEUE_ARN, "FunctionName": f"{FN_ARN}f:1", "BatchSize": 100,
        "MaximumBatchingWindowInSeconds": 5, "Enabled": False,
        "FilterCriteria": {"Filters": [{"Pattern": pattern}]},
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 2},
    })
    assert out["FunctionArn"] == FN_ARN + "f:1"
    assert out["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}
    assert out["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert out["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (out["BatchSize"], out["MaximumBatchingWindowInSeconds"]) == (100, 5)
    [now] = cp.mappings.settle_all()
    assert now.state == "Disabled"


def test_a_batch_over_ten_needs_a_batching_window(cp: ControlPlane) -> None:
    with pytest.raises(InvalidParameterValueException) as exc:
        cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f", "BatchSize": 11})
    assert exc.value.message == ("Maximum batch window in seconds must be greater than 0 if "
                                 "maximum batch size is greater than 10")


def test_fifo_queues_take_no_batching_window(cp: ControlPlane) -> None:
    with pytest.raises(InvalidParameterValueException) as exc:
        cp.mappings.create({"EventSourceArn": FIFO_ARN, "FunctionName": "f",
                            "MaximumBatchingWindowInSeconds": 1})
    assert exc.value.message == "Batching window is not supported for FIFO queues"


@pytest.mark.parametrize("pattern", ["", "{not json", '{"body": "not-an-array"}'])
def test_invalid_filter_patterns_are_refused(cp: ControlPlane, pattern: str) -> None:
    with pytest.raises(InvalidParameterValueException) as exc:
        cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f",
                            "FilterCriteria": {"Filters": [{"Pattern": pattern}]}})
    assert exc.value.message == "Invalid filter pattern definition."


def test_missing_function_and_queue(cp: ControlPlane) -> None:
    with pytest.raises(ResourceNotFoundException) as missing_fn:
        cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "nope"})
    assert missing_fn.value.message == f"Function not found: {FN_ARN}nope"
    with pytest.raises(InvalidParameterValueException) as missing_queue:
        cp.mappings.create({"EventSourceArn": QUEUE_ARN + "-gone", "FunctionName": "f"})
    assert "AWS.SimpleQueueService.NonExistentQueue" in missing_queue.value.message


def test_one_mapping_per_queue_and_function(cp: ControlPlane) -> None:
    first = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})
    with pytest.raises(ResourceConflictException) as exc:
        cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": FN_ARN + "f"})
    assert exc.value.message == (
        f'An event source mapping with SQS arn (" {QUEUE_ARN} ") and function (" f ") already '
        f"exists. Please update or delete the existing mapping with UUID {first['UUID']}"
    )
    cp.store.put(function_state("f", version="1"))
    other = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f:1"})
    assert other["FunctionArn"] == FN_ARN + "f:1"


def test_transitional_states_refuse_update_and_delete(cp: ControlPlane) -> None:
    uuid = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})["UUID"]
    with pytest.raises(ResourceInUseException) as exc:
        cp.mappings.update({"UUID": uuid, "BatchSize": 5})
    assert (exc.value.code, exc.value.status) == ("ResourceInUseException", 400)
    with pytest.raises(ResourceInUseException):
        cp.mappings.delete(uuid)


def test_update_states_and_settings(cp: ControlPlane) -> None:
    uuid = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})["UUID"]
    cp.mappings.settle_all()
    cp.clock.advance(60)
    out = cp.mappings.update({"UUID": uuid, "Enabled": False, "BatchSize": 3})
    assert (out["State"], out["BatchSize"], out["LastModified"]) == (
        "Disabling", 3, cp.clock.time())
    cp.mappings.settle_all()
    assert cp.mappings.get(uuid)["State"] == "Disabled"
    assert cp.mappings.update({"UUID": uuid, "Enabled": True})["State"] == "Enabling"
    cp.mappings.settle_all()
    assert cp.mappings.update({"UUID": uuid, "BatchSize": 4})["State"] == "Updating"
    cp.mappings.settle_all()
    assert cp.mappings.get(uuid)["State"] == "Enabled"
    # Empty settings remove what was set.
    exists = '{"body": [{"exists": true}]}'
    cp.mappings.update({"UUID": uuid, "FilterCriteria": {"Filters": [{"Pattern": exists}]},
                        "ScalingConfig": {"MaximumConcurrency": 5}})
    cp.mappings.settle_all()
    out = cp.mappings.update({"UUID": uuid, "FilterCriteria": {}, "ScalingConfig": {}})
    assert "FilterCriteria" not in out and "ScalingConfig" not in out
    cp.mappings.settle_all()
    with pytest.raises(InvalidParameterValueException):
        cp.mappings.update({"UUID": uuid, "BatchSize": 50})


def test_delete_goes_through_deleting(cp: ControlPlane) -> None:
    uuid = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})["UUID"]
    cp.mappings.settle_all()
    assert cp.mappings.delete(uuid)["State"] == "Deleting"
    assert cp.mappings.get(uuid)["State"] == "Deleting"
    assert cp.mappings.settle_all() == []
    with pytest.raises(ResourceNotFoundException) as exc:
        cp.mappings.get(uuid)
    assert exc.value.message == "The resource you requested does not exist."


def test_list_filters_and_pages(cp: ControlPlane) -> None:
    cp.store.put(function_state("g"))
    cp.queues.create(QUEUE_ARN + "2")
    made = []
    for q in (QUEUE_ARN, QUEUE_ARN + "2"):
        for f in ("f", "g"):
            cp.clock.advance(1)  # listed in the order they were created
            made.append(cp.mappings.create({"EventSourceArn": q, "FunctionName": f})["UUID"])
    everything = cp.mappings.list_mappings(None, None, None, None)
    assert [m["UUID"] for m in everything["EventSourceMappings"]] == made
    by_queue = cp.mappings.list_mappings(QUEUE_ARN, None, None, None)["EventSourceMappings"]
    assert {m["FunctionArn"] for m in by_queue} == {FN_ARN + "f", FN_ARN + "g"}
    both = cp.mappings.list_mappings(QUEUE_ARN + "2", FN_ARN + "g", None, None)
    assert [m["UUID"] for m in both["EventSourceMappings"]] == [made[3]]
    page = cp.mappings.list_mappings(None, None, None, 3)
    assert len(page["EventSourceMappings"]) == 3
    rest = cp.mappings.list_mappings(None, None, page["NextMarker"], 3)
    assert [m["UUID"] for m in rest["EventSourceMappings"]] == [made[3]]
    assert "NextMarker" not in rest


def test_changes_are_announced(cp: ControlPlane) -> None:
    seen: list[int] = []
    cp.mappings.subscribe(lambda: seen.append(1))
    uuid = cp.mappings.create({"EventSourceArn": QUEUE_ARN, "FunctionName": "f"})["UUID"]
    cp.mappings.settle_all()
    cp.mappings.update({"UUID": uuid, "Enabled": False})
    assert len(seen) == 3
    cp.mappings.settle_all()
    cp.mappings.settle_all()  # nothing left to settle: no announcement
    assert len(seen) == 4


def test_the_stored_document_round_trips() -> None:
    mapping = EventSourceMapping("u", QUEUE_ARN, "f", "live", FN_ARN + "f:live", 5, 2, True,
                                 "Updating", 1.5, ("{}",), ("ReportBatchItemFailures",), 7)
    assert EventSourceMapping.from_json(mapping.to_json()) == mapping
    after = settled(mapping)
    assert after is not None and (after.state, after.revision) == ("Enabled", 1)
    assert settled(after) is after
    assert settled(mapping.evolve(state="Deleting")) is None
