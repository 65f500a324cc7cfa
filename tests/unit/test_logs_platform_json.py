"""System log lines in LoggingConfig's JSON format: platform.start / runtimeDone / report."""

from __future__ import annotations

import json

from loam.telemetry.report import InvocationReport, platform_runtime_done, platform_start

EPOCH = 1_700_000_000.123


def test_platform_start_is_one_json_line() -> None:
    line = platform_start("r1", "$LATEST", EPOCH)
    assert line.endswith("}\n") and line.count("\n") == 1
    assert json.loads(line) == {"time": "2023-11-14T22:13:20.123Z", "type": "platform.start",
                                "record": {"requestId": "r1", "version": "$LATEST"}}


def test_platform_runtime_done() -> None:
    doc = json.loads(platform_runtime_done("r1", "success", 2.34567, 42, EPOCH))
    assert doc["type"] == "platform.runtimeDone"
    assert doc["record"] == {"requestId": "r1", "status": "success",
                             "metrics": {"durationMs": 2.346, "producedBytes": 42}}


def test_platform_report_carries_the_report_lines_numbers() -> None:
    report = InvocationReport("r1", 2.5, 128, 40, init_duration_ms=150.25)
    doc = json.loads(report.json_line(EPOCH))
    assert doc == {"time": "2023-11-14T22:13:20.123Z", "type": "platform.report", "record": {
        "requestId": "r1", "status": "success",
        "metrics": {"durationMs": 2.5, "billedDurationMs": 3, "memorySizeMB": 128,
                    "maxMemoryUsedMB": 40, "initDurationMs": 150.25}}}


def test_platform_report_of_a_timeout() -> None:
    report = InvocationReport("r2", 3005.0, 128, 50, status="timeout", max_billed_ms=3000)
    record = json.loads(report.json_line(EPOCH))["record"]
    assert record["status"] == "timeout"
    assert record["metrics"]["billedDurationMs"] == 3000
    crashed = InvocationReport("r3", 10.0, 128, 50, status="error",
                               error_type="Runtime.ExitError")
    assert json.loads(crashed.json_line(EPOCH))["record"]["errorType"] == "Runtime.ExitError"
