"""``loam tune`` over a fake Lambda client: REPORT parsing, statistics, cost arithmetic,
recommendations, the original MemorySize restored after errors, JSON and PNG output."""

from __future__ import annotations

import base64
import io
import json
import math
import struct
import zlib
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from loam.billing import load_prices
from loam.cli import tune, tune_chart
from loam.cli.connection import CommandFailed, Connection, ExitCode, UsageError, run_command
from loam.cli.main import build_parser
from loam.cli.output import Output
from loam.clock import FakeClock

PRICES = load_prices()
REPORT = ("REPORT RequestId: 1f2e\tDuration: {d:.2f} ms\tBilled Duration: {b} ms\t"
          "Memory Size: {m} MB\tMax Memory Used: 40 MB\t{extra}\n")


class FakeLambda:
    """One function whose duration is 12,800 ms / MemorySize; the first invocation after
    each memory change is a cold start (Init Duration 200 ms)."""

    def __init__(self, memory: int = 512, architecture: str = "x86_64",
                 fail_at: int | None = None, interrupt_at: int | None = None) -> None:
        self.memory = memory
        self.architecture = architecture
        self.fail_at = fail_at
        self.interrupt_at = interrupt_at
        self.updates: list[int] = []
        self.invocations: list[tuple[int, dict[str, Any]]] = []
        self._cold = True

    def get_function_configuration(self, FunctionName: str,
                                   Qualifier: str = "$LATEST") -> dict[str, Any]:
        version = "3" if Qualifier == "live-v3" else "$LATEST"
        return {"FunctionName": FunctionName, "MemorySize": self.memory, "State": "Active",
                "LastUpdateStatus": "Successful", "Architectures": [self.architecture],
                "Version": version}

    def update_function_configuration(self, FunctionName: str,
                                      MemorySize: int) -> dict[str, Any]:
        self.memory = MemorySize
        self.updates.append(MemorySize)
        self._cold = True
        return {}

    def invoke(self, **params: Any) -> dict[str, Any]:
        self.invocations.append((self.memory, params))
        if self.memory == self.interrupt_at:
            raise KeyboardInterrupt
        if self.memory == self.fail_at:
            body = b'{"errorMessage": "boom", "errorType": "ValueError"}'
            return {"StatusCode": 200, "FunctionError": "Unhandled",
                    "Payload": io.BytesIO(body), "LogResult": ""}
        duration = 12800 / self.memory
        extra = "Init Duration: 200.00 ms\t" if self._cold else ""
        self._cold = False
        log = "START RequestId: 1f2e\nhello\n" + REPORT.format(
            d=duration, b=math.ceil(duration), m=self.memory, extra=extra)
        return {"StatusCode": 200, "Payload": io.BytesIO(b'"ok"'),
                "LogResult": base64.b64encode(log.encode()).decode()}


def tuner(fake: FakeLambda) -> tune.Tuner:
    return tune.Tuner(fake, PRICES, FakeClock(), lambda _: None, io.StringIO())


def result(memory: int, ms: float, cost: str) -> tune.SizeResult:
    return tune.SizeResult(memory, (), (), ms, ms, ms, D(0), D(cost))


def test_report_lines_text_and_json() -> None:
    log = "START\n" + REPORT.format(d=12.25, b=13, m=128, extra="Init Duration: 150.50 ms\t")
    assert tune.parse_report(log) == tune.Report(12.25, 13, 150.5)
    warm = REPORT.format(d=1.0, b=1, m=128, extra="")
    assert tune.parse_report(warm) == tune.Report(1.0, 1, None)
    restored = REPORT.format(d=5.5, b=6, m=128, extra="Restore Duration: 30.00 ms\t")
    assert tune.parse_report(restored) == tune.Report(5.5, 6, 30.0)
    record = {"time": "t", "type": "platform.report",
              "record": {"requestId": "r", "status": "success",
                         "metrics": {"durationMs": 7.25, "billedDurationMs": 8,
                                     "memorySizeMB": 128, "maxMemoryUsedMB": 30,
                                     "initDurationMs": 99.5}}}
    assert tune.parse_report(json.dumps(record) + "\n") == tune.Report(7.25, 8, 99.5)
    assert tune.parse_report("START RequestId: x\nno report here\n") is None


def test_statistics_leave_out_cold_starts_unless_all_are_cold() -> None:
    reports = [tune.Report(500.0, 500, 300.0), *(tune.Report(float(ms), ms, None)
                                                  for ms in (10, 20, 30, 40, 50, 60, 70, 80,
                                                             90, 100))]
    stats = tune.summarise(1024, reports, PRICES, "x86_64")
    assert (len(stats.counted), stats.cold_starts) == (10, 1)
    assert (stats.average_ms, stats.p50_ms, stats.p90_ms) == (55.0, 50.0, 90.0)
    assert stats.billed_ms == D(55)
    cold_only = tune.summarise(128, [tune.Report(9.0, 9, 1.0), tune.Report(3.0, 3, 1.0)],
                               PRICES, "x86_64")
    assert (cold_only.average_ms, len(cold_only.counted), cold_only.billed_ms) == (6.0, 2, D(6))


def test_cost_per_invocation_by_hand() -> None:
    # $0.20 per 1M requests + 0.1 s × 0.125 GB × $0.0000166667 per GB-s
    assert tune.cost_per_invocation(D(100), 128, PRICES, "x86_64") == \
        D("0.0000002") + D("0.0125") * D("0.0000166667")
    assert tune.cost_per_invocation(D(100), 128, PRICES, "x86_64") == D("0.00000040833375")
    # arm64: 1.5 s × 2 GB × $0.0000133334 + $0.0000002
    assert tune.cost_per_invocation(D(1500), 2048, PRICES, "arm64") == D("0.0000402002")


def test_recommendations() -> None:
    results = [result(128, 400.0, "0.000002"), result(512, 90.0, "0.0000015"),
               result(1024, 50.0, "0.0000018"), result(3008, 45.0, "0.000004")]
    best = tune.recommend(results)
    assert best["cost"].memory_mb == 512
    assert best["speed"].memory_mb == 3008
    # normalised cost × duration: 128 → .5×1, 512 → .375×.225, 1024 → .45×.125, 3008 → 1×.1125
    assert best["balanced"].memory_mb == 1024
    tie = tune.recommend([result(256, 10.0, "0.000001"), result(512, 5.0, "0.000001")])
    assert tie["cost"].memory_mb == 512  # equal cost: the faster one


def test_memory_sizes_are_checked() -> None:
    assert tune.parse_memory("1024, 128,1024") == (1024, 128)
    with pytest.raises(UsageError, match="outside"):
        tune.parse_memory("64")
    with pytest.raises(UsageError, match="whole number"):
        tune.parse_memory("128,big")


def test_tune_runs_each_size_and_restores_memory() -> None:
    fake = FakeLambda(memory=512)
    original, results = tuner(fake).tune("fn", (128, 1024), b'{"a": 1}', 3)
    assert original["MemorySize"] == 512
    assert fake.updates == [128, 1024, 512] and fake.memory == 512
    assert [m for m, _ in fake.invocations] == [128] * 3 + [1024] * 3
    assert fake.invocations[0][1] == {"FunctionName": "fn", "InvocationType": "RequestResponse",
                                      "LogType": "Tail", "Payload": b'{"a": 1}'}
    slow, fast = results
    assert (slow.cold_starts, len(slow.counted), slow.average_ms) == (1, 2, 100.0)
    assert (fast.average_ms, fast.billed_ms) == (12.5, D(13))
    assert fast.cost == D("0.0000002") + D("0.013") * D(1) * D("0.0000166667")


def test_parallel_invocations() -> None:
    fake = FakeLambda(memory=256)
    _, results = tuner(fake).tune("fn", (256,), b"{}", 6, parallel=3)
    assert len(results[0].reports) == 6 and fake.updates == [256]


def test_function_error_aborts_and_restores() -> None:
    fake = FakeLambda(memory=256, fail_at=1024)
    with pytest.raises(CommandFailed) as caught:
        tuner(fake).tune("fn", (128, 1024, 2048), b"{}", 2)
    assert caught.value.exit_code == ExitCode.FUNCTION_ERROR
    assert caught.value.message == "fn failed at 1024 MB: ValueError: boom"
    assert fake.updates == [128, 1024, 256]

    def command() -> int:
        tuner(FakeLambda(fail_at=128)).tune("fn", (128,), b"{}", 1)
        return 0

    stderr = io.StringIO()
    assert run_command(command, stderr) == 1
    assert stderr.getvalue() == "loam: Unhandled: fn failed at 128 MB: ValueError: boom\n"


def test_interrupt_restores_memory() -> None:
    fake = FakeLambda(memory=640, interrupt_at=256)
    with pytest.raises(KeyboardInterrupt):
        tuner(fake).tune("fn", (128, 256), b"{}", 2, parallel=2)
    assert fake.updates[-1] == 640 and fake.memory == 640


def test_qualifier_must_run_latest() -> None:
    fake = FakeLambda()
    with pytest.raises(UsageError, match="runs version 3"):
        tuner(fake).tune("fn", (128,), b"{}", 1, qualifier="live-v3")
    assert fake.updates == []
    tuner(fake).tune("fn", (128,), b"{}", 1, qualifier="live")
    assert fake.invocations[0][1]["Qualifier"] == "live"


def run_tune(fake: FakeLambda, *argv: str) -> tuple[int, str]:
    class FakeConnection(Connection):
        def client(self, service: str) -> Any:
            assert service == "lambda"
            return fake

    args = build_parser().parse_args(["tune", *argv])
    stdout = io.StringIO()
    out = Output(args.output, stdout=stdout, stderr=io.StringIO(), color=False)
    code = run_command(lambda: int(args.run(args, FakeConnection("http://x", "us-east-1"),
                                            out)), io.StringIO())
    return code, stdout.getvalue()


def test_json_output_has_every_number(tmp_path: Path) -> None:
    fake = FakeLambda(memory=512, architecture="arm64")
    code, text = run_tune(fake, "fn", "--memory", "128,256", "--invocations", "2",
                          "--strategy", "speed", "-o", "json")
    assert code == 0
    doc = json.loads(text)
    assert (doc["FunctionName"], doc["Architecture"], doc["OriginalMemorySize"]) == (
        "fn", "arm64", 512)
    first = doc["Sizes"][0]
    assert first["MemorySize"] == 128 and first["ColdStarts"] == 1 and first["Counted"] == 1
    assert first["AverageDurationMs"] == 100.0 and first["AverageBilledDurationMs"] == 100.0
    # arm64: 0.1 s × 0.125 GB × $0.0000133334 + $0.0000002
    assert first["CostPerInvocation"] == pytest.approx(0.000000366667500, rel=1e-12)
    assert first["CostPerMillion"] == pytest.approx(0.3666675, rel=1e-12)
    assert [r["InitDurationMs"] for r in first["Reports"]] == [200.0, None]
    assert doc["Recommendation"] == {"Strategy": "speed", "MemorySize": 256, "Cheapest": 256,
                                     "Fastest": 256, "Balanced": 256}
    assert fake.memory == 512


def test_table_output_has_recommendation_and_bars() -> None:
    code, text = run_tune(FakeLambda(), "fn", "--memory", "128,1024", "--invocations", "2",
                          "-o", "table")
    assert code == 0
    assert "recommended (cost): 128 MB" in text and "fastest: 1024 MB" in text
    assert "$0.000000416667" in text  # 1024 MB: 13 ms × 1 GB × price + request
    assert "average duration (ms)" in text and "█" * 30 in text


def test_png_chart_written(tmp_path: Path) -> None:
    target = tmp_path / "tune.png"
    code, _ = run_tune(FakeLambda(), "fn", "--memory", "128,512,1024", "--invocations", "2",
                       "--chart", str(target), "-o", "text")
    assert code == 0
    data = target.read_bytes()
    assert data.startswith(tune_chart.PNG_SIGNATURE)
    length, kind = struct.unpack(">I4s", data[8:16])
    width, height = struct.unpack(">II", data[16:24])
    assert (length, kind, width) == (13, b"IHDR", 2 * 24 + 3 * 48)
    idat_len = struct.unpack(">I", data[33:37])[0]
    raw = zlib.decompress(data[41:41 + idat_len])
    assert len(raw) == height * (1 + width * 3)
    assert bytes(tune_chart.DURATION) in raw and bytes(tune_chart.COST) in raw


def test_chart_target_checked_before_the_run(tmp_path: Path) -> None:
    fake = FakeLambda()
    code, _ = run_tune(fake, "fn", "--chart", str(tmp_path / "missing" / "x.png"))
    assert code == 2 and fake.updates == []
    code, _ = run_tune(fake, "fn", "--chart", str(tmp_path / "x.jpg"))
    assert code == 2
