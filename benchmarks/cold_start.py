"""Cold and warm invocation latency against a real ``loam serve``.

Baseline, measured in the same run: starting a bare interpreter
(``python3 -c pass``), the cost every fresh-interpreter cold start pays.
Writes the medians to ``docs/performance.md``.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from tests.helpers import client, create_function, running_server

ROUNDS = 15
WARM_ROUNDS = 200
OUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
HANDLER = "def handler(event, context):\n    return event\n"


def _interpreter_start() -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def _invoke_ms(lam: object, name: str) -> float:
    t = time.perf_counter()
    lam.invoke(FunctionName=name, Payload=b"{}")  # type: ignore[attr-defined]
    return (time.perf_counter() - t) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "data") as server:
        lam = client(server)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER})
        cold = []
        for i in range(ROUNDS):
            lam.update_function_configuration(FunctionName=name,
                                              Environment={"Variables": {"ROUND": str(i)}})
            lam.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            cold.append(_invoke_ms(lam, name))
        warm = [_invoke_ms(lam, name) for _ in range(WARM_ROUNDS)]
    baseline = _interpreter_start()
    rows = {
        "bare interpreter start (baseline)": baseline,
        "cold invoke, end to end (boto3 → response)": cold,
        "warm invoke, end to end (boto3 → response)": warm,
    }
    lines = [
        "# Performance",
        "",
        f"Measured by `make bench` (`benchmarks/cold_start.py`) on {platform.node()}: "
        f"{platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}. Shared, noisy 2-core machine: "
        "medians and ratios only.",
        "",
        "A cold invoke builds a new execution environment (cgroup, ext4 `/tmp`, namespaces, "
        "jail, fresh interpreter, Init) and runs the handler; a warm invoke reuses one. "
        "The function is a 128 MB echo handler; each cold round changes an environment "
        "variable so the next invoke cannot reuse an environment.",
        "",
        "| what | median ms | p90 ms | samples |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, samples in rows.items():
        p90 = statistics.quantiles(samples, n=10)[-1]
        lines.append(f"| {label} | {statistics.median(samples):.1f} | {p90:.1f} | "
                     f"{len(samples)} |")
    ratio = statistics.median(cold) / statistics.median(baseline)
    lines += ["", f"Cold invoke / bare interpreter start: {ratio:.1f}×.", ""]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
