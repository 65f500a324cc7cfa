from __future__ import annotations

from loam.clock import FakeClock
from loam.telemetry.report import InvocationReport, billed_ms, end_line, start_line


def test_start_and_end_lines() -> None:
    assert start_line("r1", "$LATEST") == "START RequestId: r1 Version: $LATEST\n"
    assert end_line("r1") == "END RequestId: r1\n"


def test_report_line_format() -> None:
    cold = InvocationReport("r1", 12.344, 128, 40, init_duration_ms=150.5)
    assert cold.line() == ("REPORT RequestId: r1\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
                           "Memory Size: 128 MB\tMax Memory Used: 40 MB\t"
                           "Init Duration: 150.50 ms\t\n")
    warm = InvocationReport("r2", 1.0, 256, 41)
    assert "Init Duration" not in warm.line()
    timed_out = InvocationReport("r3", 3000.2, 128, 41, status="timeout")
    assert timed_out.line().endswith("Status: timeout\t\n")


def test_billing_rounds_up_to_the_millisecond() -> None:
    assert billed_ms(0.2) == 1
    assert billed_ms(1.0) == 1
    assert billed_ms(1.01) == 2


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert clock.time() == 100.0
    clock.advance(2.5)
    assert clock.time() == 102.5
    assert clock.monotonic() == 2.5
