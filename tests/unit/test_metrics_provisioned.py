"""Provisioned-concurrency metrics and billing from the invoke path's observer: which
invocations the provisioned environments served (as admission decided), which spilled
over, how busy they were, and what each costs."""

from __future__ import annotations

import contextlib
import contextvars
from decimal import Decimal as D
from pathlib import Path

from loam.billing import UsageRecorder
from loam.billing.provisioned import ProvisionedMeter
from loam.clock import FakeClock
from loam.invoke.admission import Admission
from loam.metrics.catalogue import METRICS, aggregate_periods, known_metrics
from loam.metrics.observer import MetricsObserver
from loam.metrics.recorder import MetricsRecorder
from loam.sandbox.environment import InvocationOutcome, InvocationRequest
from loam.store.sql import open_database
from tests.unit.test_event_source_fakes import function_state
from tests.unit.test_sqs_support import run

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f:live"
LIVE = (("FunctionName", "f"), ("Resource", "f:live"))
FN = (("FunctionName", "f"),)
START = 1_700_000_040.0


def _total(rec: MetricsRecorder, metric: str, dims: tuple[tuple[str, str], ...],
           stat: str = "total") -> float:
    periods = aggregate_periods(rec, METRICS[metric], dims, START - 60, START + 60, 3600)
    return sum(getattr(agg, stat) for agg in periods.values())


def test_provisioned_invocations_spillover_and_utilization(tmp_path: Path) -> None:
    clock = FakeClock(START)
    rec = MetricsRecorder(clock)
    database = open_database("sqlite", tmp_path)
    usage = UsageRecorder(database, clock)
    admission = Admission(100)
    admission.set_provisioned({("f", "3"): 2})
    observer = MetricsObserver(rec, usage, admission)
    fn = function_state(version="3", memory_size=1024, architectures=["arm64"])
    request = InvocationRequest("r", b"{}", ARN)
    outcome = InvocationOutcome("success", b"null", None, 99.5, 60)  # billed 100 ms

    def start() -> tuple[contextlib.ExitStack, object]:
        admitted = contextlib.ExitStack()
        admitted.enter_context(admission.admit("f", "3"))
        return admitted, observer.began(fn, request)

    # Three at once (each in its own task's context) on a version with two provisioned
    # environments: two are served by them, the third spills over; then one more alone.
    contexts = [contextvars.copy_context() for _ in range(3)]
    started = [context.run(start) for context in contexts]
    for context, (admitted, began) in zip(contexts, started, strict=True):
        observer.finished(fn, request, outcome, began)
        context.run(admitted.close)
    admitted, began = start()
    observer.finished(fn, request, outcome, began)
    admitted.close()
    assert _total(rec, "ProvisionedConcurrencyInvocations", LIVE) == 3
    assert _total(rec, "ProvisionedConcurrencySpilloverInvocations", LIVE) == 1
    assert _total(rec, "ProvisionedConcurrencyInvocations", FN) == 3
    assert _total(rec, "Invocations", LIVE) == 4
    assert _total(rec, "ProvisionedConcurrentExecutions", LIVE, "high") == 2
    assert _total(rec, "ProvisionedConcurrencyUtilization", LIVE, "high") == 1.0
    assert _total(rec, "ProvisionedConcurrencyUtilization", LIVE, "low") == 0.5
    # utilization is per version or alias: not published per function
    assert aggregate_periods(rec, METRICS["ProvisionedConcurrencyUtilization"], FN,
                             START - 60, START + 60, 3600) == {}
    names = {name for name, dims in known_metrics(rec) if dims == LIVE}
    assert {"ProvisionedConcurrencyInvocations", "ProvisionedConcurrentExecutions",
            "ProvisionedConcurrencyUtilization"} <= names
    run(usage.flush())
    [row] = usage.rows(0, START + 3600)
    # 4 invocations of 100 ms at 1 GB: 0.4 GB-s, of which 0.3 on provisioned concurrency
    assert (row.requests, row.gb_seconds, row.provisioned_duration_gb_seconds) == (
        4, D("0.4"), D("0.3"))
    database.close()


def test_without_provisioned_concurrency_nothing_is_published() -> None:
    clock = FakeClock(START)
    rec = MetricsRecorder(clock)
    observer = MetricsObserver(rec, None, Admission(100))
    fn = function_state(version="3")
    request = InvocationRequest("r", b"{}", ARN)
    outcome = InvocationOutcome("success", b"null", None, 5.0, 60)
    observer.finished(fn, request, outcome, observer.began(fn, request))
    assert _total(rec, "Invocations", LIVE) == 1
    assert _total(rec, "ProvisionedConcurrencySpilloverInvocations", LIVE) == 0
    assert not any(name.startswith("Provisioned") for name, _ in known_metrics(rec))


def test_the_meter_bills_allocated_environments_over_time(tmp_path: Path) -> None:
    clock = FakeClock(START)
    database = open_database("sqlite", tmp_path)
    usage = UsageRecorder(database, clock)
    allocated = {("f", "3"): 2}

    async def describe(function: str, version: str) -> tuple[str, int] | None:
        return ("x86_64", 512) if version == "3" else None

    meter = ProvisionedMeter(usage, clock, lambda: {("f", "3"): 2, ("gone", "1"): 1},
                             lambda f, v: allocated.get((f, v), 1), describe)
    run(meter.tick())  # the first tick only starts the clock
    clock.advance(10)
    run(meter.tick())  # 2 × 0.5 GB × 10 s = 10 GB-s
    allocated[("f", "3")] = 1
    clock.advance(4)
    run(meter.tick())  # 1 × 0.5 GB × 4 s = 2 GB-s
    run(usage.flush())
    [row] = usage.rows(0, START + 3600)
    assert (row.function, row.requests, row.provisioned_gb_seconds) == ("f", 0, D(12))
    database.close()
