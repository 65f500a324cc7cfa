"""``loam tune <function>``: memory power tuning, as AWS Lambda Power Tuning does it.

For each memory size the command sets the function's ``MemorySize``
(UpdateFunctionConfiguration, then waits until ``LastUpdateStatus`` is
``Successful``), invokes it ``--invocations`` times (``--parallel`` at a
time) with ``LogType=Tail`` and reads each invocation's REPORT line (or the
``platform.report`` record in the JSON log format) from the decoded
``LogResult``. An invocation that reports an ``Init Duration`` (or a
``Restore Duration``) was a cold start: it is shown but left out of the
statistics, unless every invocation at that size was cold.

Per size: average, p50 and p90 duration (nearest rank), average billed
duration and the cost of one invocation on AWS Lambda: the request price
plus billed seconds × memory in GB × the first duration tier of the
function's architecture (``loam.billing`` price table or ``--prices``).
A ``FunctionError`` at any size stops the run (exit 1). The function's
original ``MemorySize`` is put back at the end, also after an error or
Ctrl-C.

Memory is a setting of ``$LATEST``: ``--qualifier`` may name an alias, but
only one that runs ``$LATEST``.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO

from loam.billing import InvalidPriceTable, PriceTable, load_prices
from loam.cli.connection import (
    CommandFailed,
    Connection,
    ExitCode,
    UsageError,
    client_options,
)
from loam.cli.deploy import Deployer
from loam.cli.invoke import read_payload
from loam.cli.output import Output
from loam.clock import Clock, SystemClock

__all__ = ["DEFAULT_MEMORY", "STRATEGIES", "Report", "SizeResult", "Tuner", "cost_per_invocation",
           "parse_memory", "parse_report", "percentile", "recommend", "register", "summarise",
           "tune_document"]

DEFAULT_MEMORY = (128, 256, 512, 1024, 1769, 3008)
MIN_MEMORY, MAX_MEMORY = 128, 10240  # MemorySize's limits in Lambda's model
STRATEGIES = ("cost", "speed", "balanced")
COLUMNS = ("MEMORY", "AVG MS", "P50 MS", "P90 MS", "BILLED MS", "COST/INVOCATION",
           "COST/1M", "COLD")
_MILLION = Decimal(1_000_000)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tune = sub.add_parser("tune", parents=[client_options()],
                          help="invoke a function at several memory sizes; compare speed and cost")
    tune.add_argument("name", help="function name or ARN")
    tune.add_argument("--payload", default=None, metavar="JSON|@FILE",
                      help="the event: JSON text, @path to read a file, @- for stdin")
    tune.add_argument("--memory", default=",".join(map(str, DEFAULT_MEMORY)), metavar="MB,MB",
                      help="memory sizes to try (default %(default)s)")
    tune.add_argument("--invocations", type=int, default=10, metavar="N",
                      help="invocations per memory size (default 10)")
    tune.add_argument("--parallel", type=int, default=1, metavar="P",
                      help="invocations at a time (default 1)")
    tune.add_argument("--qualifier", default=None, help="an alias that runs $LATEST")
    tune.add_argument("--strategy", choices=STRATEGIES, default="cost",
                      help="what the recommendation optimises (default cost)")
    tune.add_argument("--chart", type=Path, default=None, metavar="FILE.png",
                      help="also draw duration and cost against memory into a PNG")
    tune.add_argument("--prices", type=Path, default=None, metavar="FILE",
                      help="a price table in loam's format (default: AWS us-east-1)")
    tune.set_defaults(run=_run)


@dataclass(frozen=True)
class Report:
    """One invocation's REPORT line."""

    duration_ms: float
    billed_ms: int
    init_ms: float | None = None  # Init (or SnapStart Restore) Duration: a cold start

    @property
    def cold(self) -> bool:
        return self.init_ms is not None


def parse_report(log: str) -> Report | None:
    """The last REPORT line (or JSON ``platform.report`` record) in a log tail."""
    for line in reversed(log.splitlines()):
        if line.startswith("REPORT "):
            fields = dict(part.split(": ", 1) for part in line.split("\t") if ": " in part)
            if "Duration" not in fields or "Billed Duration" not in fields:
                continue
            init = fields.get("Init Duration") or fields.get("Restore Duration")
            return Report(_ms(fields["Duration"]), int(_ms(fields["Billed Duration"])),
                          _ms(init) if init else None)
        if line.startswith("{") and '"platform.report"' in line:
            try:
                metrics = json.loads(line)["record"]["metrics"]
                init = metrics.get("initDurationMs", metrics.get("restoreDurationMs"))
                return Report(float(metrics["durationMs"]), int(metrics["billedDurationMs"]),
                              None if init is None else float(init))
            except (ValueError, KeyError, TypeError):
                continue
    return None


def _ms(text: str) -> float:
    return float(text.removesuffix(" ms"))


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p % of them at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def cost_per_invocation(billed_ms: Decimal, memory_mb: int, prices: PriceTable,
                        architecture: str) -> Decimal:
    """Request price + billed seconds × GB × the architecture's first duration tier."""
    per_gb_second = prices.duration[architecture][0].per_gb_second
    gb_seconds = billed_ms / 1000 * Decimal(memory_mb) / 1024
    return prices.per_million_requests / _MILLION + gb_seconds * per_gb_second


@dataclass(frozen=True)
class SizeResult:
    """The statistics of one memory size (over warm invocations, unless all were cold)."""

    memory_mb: int
    reports: tuple[Report, ...]
    counted: tuple[Report, ...]
    average_ms: float
    p50_ms: float
    p90_ms: float
    billed_ms: Decimal
    cost: Decimal

    @property
    def cold_starts(self) -> int:
        return sum(report.cold for report in self.reports)


def summarise(memory_mb: int, reports: Sequence[Report], prices: PriceTable,
              architecture: str) -> SizeResult:
    if not reports:
        raise ValueError("no invocation to summarise")
    counted = tuple(r for r in reports if not r.cold) or tuple(reports)
    durations = [r.duration_ms for r in counted]
    billed = Decimal(sum(r.billed_ms for r in counted)) / len(counted)
    return SizeResult(memory_mb, tuple(reports), counted, sum(durations) / len(durations),
                      percentile(durations, 50), percentile(durations, 90), billed,
                      cost_per_invocation(billed, memory_mb, prices, architecture))


def recommend(results: Sequence[SizeResult]) -> dict[str, SizeResult]:
    """The cheapest, the fastest and the balanced size (least normalised cost × duration).

    Ties go to the faster size for cost, the cheaper for speed, then the smaller.
    """
    max_cost = max(r.cost for r in results) or Decimal(1)
    max_ms = max(r.average_ms for r in results) or 1.0
    return {
        "cost": min(results, key=lambda r: (r.cost, r.average_ms, r.memory_mb)),
        "speed": min(results, key=lambda r: (r.average_ms, r.cost, r.memory_mb)),
        "balanced": min(results, key=lambda r: (float(r.cost / max_cost)
                                                * (r.average_ms / max_ms), r.memory_mb)),
    }


def parse_memory(spec: str) -> tuple[int, ...]:
    """``--memory 128,512``: distinct sizes within Lambda's limits, in the given order."""
    sizes: list[int] = []
    for part in spec.split(","):
        try:
            size = int(part.strip())
        except ValueError:
            raise UsageError(f"--memory: {part.strip()!r} is not a whole number of MB") from None
        if not MIN_MEMORY <= size <= MAX_MEMORY:
            raise UsageError(f"--memory: {size} MB is outside {MIN_MEMORY}–{MAX_MEMORY} MB")
        if size not in sizes:
            sizes.append(size)
    return tuple(sizes)


class Tuner:
    """Runs the sizes one after another against a botocore ``lambda`` client."""

    def __init__(self, lam: Any, prices: PriceTable, clock: Clock,
                 sleep: Callable[[float], None], notes: TextIO, poll: float = 0.25) -> None:
        self._lam = lam
        self._prices = prices
        self._notes = notes
        self._deployer = Deployer(lam, clock, sleep, notes, poll=poll)

    def tune(self, name: str, sizes: Sequence[int], payload: bytes, invocations: int,
             parallel: int = 1, qualifier: str | None = None
             ) -> tuple[dict[str, Any], list[SizeResult]]:
        """Every size's result and the function's configuration before the run."""
        original = self._deployer.wait_ready(name)
        if qualifier:
            target = self._lam.get_function_configuration(FunctionName=name,
                                                          Qualifier=qualifier)
            if target.get("Version") != "$LATEST":
                raise UsageError(f"--qualifier {qualifier} runs version {target.get('Version')}:"
                                 " memory changes apply to $LATEST only")
        architecture = (original.get("Architectures") or ["x86_64"])[0]
        if architecture not in self._prices.duration:
            raise UsageError(f"the price table has no duration price for {architecture}")
        results: list[SizeResult] = []
        try:
            for size in sizes:
                self._set_memory(name, size)
                reports = self._invoke_all(name, size, payload, invocations, parallel, qualifier)
                results.append(summarise(size, reports, self._prices, architecture))
        finally:
            self._restore(name, int(original["MemorySize"]))
        return original, results

    def _set_memory(self, name: str, size: int) -> None:
        self._note(f"setting MemorySize {size} MB")
        self._lam.update_function_configuration(FunctionName=name, MemorySize=size)
        self._deployer.wait_ready(name)

    def _invoke_all(self, name: str, size: int, payload: bytes, count: int, parallel: int,
                    qualifier: str | None) -> list[Report]:
        params: dict[str, Any] = {"FunctionName": name, "InvocationType": "RequestResponse",
                                  "LogType": "Tail", "Payload": payload}
        if qualifier:
            params["Qualifier"] = qualifier
        if parallel <= 1:
            return [self._invoke_once(params, size) for _ in range(count)]
        pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="loam-tune")
        try:
            futures = [pool.submit(self._invoke_once, params, size) for _ in range(count)]
            return [future.result() for future in futures]
        finally:  # on an error or Ctrl-C, start nothing more and do not wait
            pool.shutdown(wait=False, cancel_futures=True)

    def _invoke_once(self, params: dict[str, Any], size: int) -> Report:
        response = self._lam.invoke(**params)
        stream = response.get("Payload")
        body: bytes = stream.read() if stream is not None else b""
        if response.get("FunctionError"):
            raise CommandFailed(response["FunctionError"],
                                f"{params['FunctionName']} failed at {size} MB: "
                                f"{_error_text(body)}", ExitCode.FUNCTION_ERROR)
        log = base64.b64decode(response.get("LogResult") or "").decode("utf-8", "replace")
        report = parse_report(log)
        if report is None:
            raise CommandFailed("NoReport", f"the log tail of {params['FunctionName']} at "
                                f"{size} MB has no REPORT line")
        return report

    def _restore(self, name: str, memory: int) -> None:
        """Put back the original MemorySize (after any update still in progress)."""
        current = self._deployer.wait_ready(name)
        if current.get("MemorySize") != memory:
            self._note(f"restoring MemorySize {memory} MB")
            self._lam.update_function_configuration(FunctionName=name, MemorySize=memory)
            self._deployer.wait_ready(name)

    def _note(self, text: str) -> None:
        print(f"loam: {text}", file=self._notes, flush=True)


def _error_text(body: bytes) -> str:
    try:
        error = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")[:200]
    if isinstance(error, dict) and "errorMessage" in error:
        return f"{error.get('errorType', 'Error')}: {error['errorMessage']}"
    return json.dumps(error)[:200]


def tune_document(name: str, original: dict[str, Any], results: Sequence[SizeResult],
                  strategy: str, prices: PriceTable, invocations: int,
                  parallel: int) -> dict[str, Any]:
    """Every number of the run, for ``--output json``."""
    best = recommend(results)
    return {
        "FunctionName": name,
        "Architecture": (original.get("Architectures") or ["x86_64"])[0],
        "OriginalMemorySize": original.get("MemorySize"),
        "Invocations": invocations, "Parallel": parallel,
        "Region": prices.region, "Currency": prices.currency,
        "Sizes": [{
            "MemorySize": r.memory_mb, "Invocations": len(r.reports),
            "ColdStarts": r.cold_starts, "Counted": len(r.counted),
            "AverageDurationMs": round(r.average_ms, 3), "P50DurationMs": r.p50_ms,
            "P90DurationMs": r.p90_ms, "AverageBilledDurationMs": float(r.billed_ms),
            "CostPerInvocation": float(r.cost), "CostPerMillion": float(r.cost * _MILLION),
            "Reports": [{"DurationMs": x.duration_ms, "BilledDurationMs": x.billed_ms,
                         "InitDurationMs": x.init_ms} for x in r.reports],
        } for r in results],
        "Recommendation": {"Strategy": strategy, "MemorySize": best[strategy].memory_mb,
                           "Cheapest": best["cost"].memory_mb,
                           "Fastest": best["speed"].memory_mb,
                           "Balanced": best["balanced"].memory_mb},
    }


def _cells(result: SizeResult) -> list[object]:
    return [result.memory_mb, f"{result.average_ms:.2f}", f"{result.p50_ms:.2f}",
            f"{result.p90_ms:.2f}", f"{result.billed_ms:.1f}",
            f"${result.cost.quantize(Decimal('1e-12'), ROUND_HALF_UP):f}",
            f"${(result.cost * _MILLION).quantize(Decimal('1e-4'), ROUND_HALF_UP):f}",
            result.cold_starts]


def _run(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    from loam.cli import tune_chart

    sizes = parse_memory(args.memory)
    if args.invocations < 1 or args.parallel < 1:
        raise UsageError("--invocations and --parallel must be at least 1")
    if args.chart is not None:
        tune_chart.check_target(args.chart)
    try:
        prices = load_prices(args.prices)
    except InvalidPriceTable as exc:
        raise UsageError(f"--prices: {exc}") from None
    payload = read_payload(args.payload)
    tuner = Tuner(connection.client("lambda"), prices, SystemClock(), time.sleep, sys.stderr)
    original, results = tuner.tune(args.name, sizes, payload, args.invocations, args.parallel,
                                   args.qualifier)
    document = tune_document(args.name, original, results, args.strategy, prices,
                             args.invocations, args.parallel)
    if args.chart is not None:
        args.chart.write_bytes(tune_chart.png_chart(results))
        out.note(f"loam: wrote {args.chart}")
    out.table(COLUMNS, [_cells(r) for r in results], document=document)
    if not out.is_json:
        best = document["Recommendation"]
        picks = [("recommended", best["MemorySize"]), ("cheapest", best["Cheapest"]),
                 ("fastest", best["Fastest"]), ("balanced", best["Balanced"])]
        if out.format == "text":
            for label, size in picks:
                out.line(f"{label}\t{size}")
        else:
            out.line("")
            out.line(f"recommended ({args.strategy}): {best['MemorySize']} MB   cheapest: "
                     f"{best['Cheapest']} MB   fastest: {best['Fastest']} MB   balanced: "
                     f"{best['Balanced']} MB")
            out.line("")
            for line in tune_chart.terminal_chart(results):
                out.line(line)
    return 0
