"""Weighted alias routing: the split observed over 10,000 real invocations.

Against a real ``loam serve``: a function whose handler returns the version it
runs as, versions 1 and 2 published, an alias on version 1 with
``AdditionalVersionWeights {"2": w}``. ``benchmarks/rawhttp.py tally`` (its
own process) sends exactly 10,000 Invoke requests through the alias over 8
keep-alive connections and counts the responses by ``X-Amz-Executed-Version``;
every response is checked (200, no function error). The acceptance bound
(issue 4): the observed share of version 2 within ±3 points of ``w``.
Writes the ``routing`` section of ``docs/performance.md`` (``--no-write`` to only print).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, spread, write_section
from tests.helpers import client, create_function, running_server

INVOCATIONS = 10_000
CONNECTIONS = 8
RUNS = 3
WEIGHTS = (0.3, 0.05, 0.5)
TOLERANCE = 0.03
CODE = "def handler(event, context):\n    return context.function_version\n"


def _tally(port: int, path: str, total: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.rawhttp", "tally", str(port), path, "{}",
         str(CONNECTIONS), str(total), "X-Amz-Executed-Version"],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def _two_versions(lam: Any) -> str:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    create_function(lam, name, {"index.py": CODE})
    lam.publish_version(FunctionName=name)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"VER": "2"}})
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    lam.publish_version(FunctionName=name)
    return name


def measure(runs: int, total: int) -> dict[float, list[dict[str, Any]]]:
    results: dict[float, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        lam = client(server)
        name = _two_versions(lam)
        for i, weight in enumerate(WEIGHTS):
            alias = f"w{i}"
            lam.create_alias(FunctionName=name, Name=alias, FunctionVersion="1",
                             RoutingConfig={"AdditionalVersionWeights": {"2": weight}})
            path = f"/2015-03-31/functions/{name}/invocations?Qualifier={alias}"
            _tally(server.port, path, 200)  # untimed: the environments' cold starts
            results[weight] = [_tally(server.port, path, total) for _ in range(runs)]
    return results


def render(results: dict[float, list[dict[str, Any]]], total: int) -> str:
    lines = [
        "## Weighted alias routing",
        "",
        f"Measured by `make bench` (`benchmarks/routing.py`) on {machine_line()}. "
        "A function returning the version it runs as; versions 1 and 2; an alias on 1 "
        "with `AdditionalVersionWeights {\"2\": w}`. Per run, exactly "
        f"{total:,} Invoke requests through the alias (`benchmarks/rawhttp.py tally`, "
        f"{CONNECTIONS} keep-alive connections, after 200 untimed for the cold starts), "
        "counted by `X-Amz-Executed-Version`; every response checked (200, no function "
        f"error). Acceptance (issue 4): version 2's share within ±{TOLERANCE * 100:g} points "
        f"of w. Each cell: min / median / max over {len(next(iter(results.values())))} runs.",
        "",
        "| w (version 2) | observed share of version 2, % | worst deviation, points | "
        "invocations per run | seconds per run | invocations/s | within ±3 points |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for weight, runs in results.items():
        shares = [r["counts"].get("2", 0) / sum(r["counts"].values()) * 100 for r in runs]
        counts = [sum(r["counts"].values()) for r in runs]
        seconds = [r["seconds"] for r in runs]
        rates = [c / s for c, s in zip(counts, seconds, strict=True)]
        worst = max(abs(s - weight * 100) for s in shares)
        ok = "yes" if worst <= TOLERANCE * 100 and set(counts) == {total} else "**no**"
        lines.append(
            f"| {weight:g} | {spread(shares)} | {worst:.2f} | {statistics.median(counts):,.0f} | "
            f"{spread(seconds)} | {spread(rates, '{:.0f}')} | "
            f"{ok} |")
    lines += ["", "Standard deviation of the share at n = 10,000: √(w(1−w)/n), at most 0.5 "
              "points (w = 0.5), so ±3 points is six or more standard deviations."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--invocations", type=int, default=INVOCATIONS)
    args = parser.parse_args()
    markdown = render(measure(args.runs, args.invocations), args.invocations)
    print(markdown)
    if not args.no_write:
        write_section("routing", markdown)


if __name__ == "__main__":
    main()
