"""Cold and warm invocation latency against a real ``loam serve``.

Baselines, measured in the same run: a fresh environment per cold start
(templates off: a new interpreter and Init each time), and starting a bare
interpreter (``python3 -c pass``). Writes the medians to the ``cold``
section of ``docs/performance.md`` (``--no-write`` to only print; ``--first-ever N`` to
measure only a version's first cold starts, N rounds).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.report import machine_line, write_section
from tests.helpers import client, create_function, running_server

ROUNDS = 15
WARM_ROUNDS = 200
HANDLER = ("import time\n\ndef handler(event, context):\n"
           "    time.sleep(event.get('sleep', 0))\n    return event\n")


NODE_HANDLER = ("export const handler = async (event) => {\n"
                "  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep * 1000));\n"
                "  return event;\n};\n")


def _interpreter_start(command: list[str]) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        t = time.perf_counter()
        subprocess.run(command, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def _invoke_ms(lam: object, name: str) -> float:
    t = time.perf_counter()
    lam.invoke(FunctionName=name, Payload=b"{}")  # type: ignore[attr-defined]
    return (time.perf_counter() - t) * 1000


def _cold_rounds(lam: object, name: str, rounds: int = ROUNDS,
                 ) -> tuple[list[float], list[float]]:
    """Per round (a new configuration, so no environment can be reused): the first
    invoke (a new environment, Init), then a second one while the first
    environment is busy (a second new environment of an initialised version)."""
    first, second = [], []
    for i in range(rounds):
        lam.update_function_configuration(  # type: ignore[attr-defined]
            FunctionName=name, Environment={"Variables": {"ROUND": str(i)}})
        lam.get_waiter("function_updated_v2").wait(  # type: ignore[attr-defined]
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
        first.append(_invoke_ms(lam, name))
        with ThreadPoolExecutor(1) as pool:
            busy = pool.submit(lam.invoke, FunctionName=name,  # type: ignore[attr-defined]
                               Payload=b'{"sleep": 1.5}')
            time.sleep(0.3)
            second.append(_invoke_ms(lam, name))
            busy.result()
    return first, second


SLOW_INIT = ("import time\ntime.sleep(0.3)\n\ndef handler(event, context):\n"
             "    time.sleep(event.get('sleep', 0))\n    return event\n")


def _restore_ms(log: str) -> float | None:
    for part in log.splitlines()[-1].split("\t"):
        if part.startswith("Restore Duration: "):
            return float(part.split()[2])
    return None


def _slow_init_rounds(lam: object, rounds: int = 5, width: int = 4,
                      ) -> tuple[list[float], list[float], list[float], list[float]]:
    """A function whose Init takes 300 ms: after its first environment, ``width``
    invocations at once, the 2nd and later each needing a new environment; a second
    later, ``2 * width`` at once (``width`` warm environments, ``width`` new ones).
    Returns end-to-end and server-side (Restore Duration) times of the new
    environments of the first burst, then of the second."""
    import base64

    e2e: list[float] = []
    restore: list[float] = []
    again_e2e: list[float] = []
    again_restore: list[float] = []
    for _ in range(rounds):
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": SLOW_INIT}, Timeout=30)
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()  # type: ignore[attr-defined]

        def call(name: str) -> tuple[float, str]:
            t = time.perf_counter()
            out = lam.invoke(FunctionName=name, Payload=b'{"sleep": 1}',  # type: ignore[attr-defined]
                             LogType="Tail")
            out["Payload"].read()
            return (time.perf_counter() - t) * 1000 - 1000, base64.b64decode(
                out["LogResult"]).decode()

        for count, times, servers in ((width, e2e, restore),
                                      (2 * width, again_e2e, again_restore)):
            with ThreadPoolExecutor(count) as pool:
                for ms, log in pool.map(call, [name] * count):
                    value = _restore_ms(log)
                    if value is not None:
                        times.append(ms)
                        servers.append(value)
            time.sleep(1)
    return e2e, restore, again_e2e, again_restore


def first_ever(rounds: int) -> None:
    """Only the templates-on rows a version's first cold starts need, printed."""
    with tempfile.TemporaryDirectory() as tmp, running_server(
            Path(tmp) / "templates", extra_env={"LOAM_TEMPLATES": "1"}) as server:
        lam = client(server)
        name = f"bench-{uuid.uuid4().hex[:8]}"
        create_function(lam, name, {"index.py": HANDLER})
        first, second = _cold_rounds(lam, name, rounds)
    for label, samples in (("1st environment ever", first), ("2nd concurrent environment",
                                                              second)):
        print(f"{label}: median {statistics.median(samples):.1f} ms, min {min(samples):.1f}, "
              f"max {max(samples):.1f} ({len(samples)} samples)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--first-ever", type=int, metavar="ROUNDS",
                        help="only measure a version's first cold starts (templates on), "
                             "ROUNDS times, and print them")
    args = parser.parse_args()
    if args.first_ever:
        first_ever(args.first_ever)
        return
    with tempfile.TemporaryDirectory() as tmp:
        with running_server(Path(tmp) / "fresh", extra_env={"LOAM_TEMPLATES": "0"}) as server:
            lam = client(server)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            create_function(lam, name, {"index.py": HANDLER})
            cold, cold_second = _cold_rounds(lam, name)
            warm = [_invoke_ms(lam, name) for _ in range(WARM_ROUNDS)]
            node_cold: list[float] = []
            node_second: list[float] = []
            if shutil.which("node"):
                name = f"bench-{uuid.uuid4().hex[:8]}"
                create_function(lam, name, {"index.mjs": NODE_HANDLER}, Runtime="nodejs20.x")
                node_cold, node_second = _cold_rounds(lam, name)
        with running_server(Path(tmp) / "templates", extra_env={"LOAM_TEMPLATES": "1"}) as server:
            lam = client(server)
            name = f"bench-{uuid.uuid4().hex[:8]}"
            create_function(lam, name, {"index.py": HANDLER})
            tpl_first, tpl_second = _cold_rounds(lam, name)
            tpl_warm = [_invoke_ms(lam, name) for _ in range(WARM_ROUNDS)]
            slow_e2e, slow_restore, again_e2e, again_restore = _slow_init_rounds(lam)
    baseline = _interpreter_start([sys.executable, "-c", "pass"])
    node = shutil.which("node")
    node_baseline = _interpreter_start([node, "-e", "0"]) if node else []
    rows = {
        "bare interpreter start (`python -c pass`)": baseline,
        "templates off: cold invoke, 1st environment (fresh)": cold,
        "templates off: cold invoke, 2nd concurrent environment (fresh; the baseline)":
            cold_second,
        "warm invoke, templates off": warm,
        "templates on (default): 1st environment ever (the template's Init, then its first "
        "fork)": tpl_first,
        "templates on (default): 2nd concurrent environment (the prepared spare)": tpl_second,
        "warm invoke, templates on": tpl_warm,
        "300 ms Init, 4 new environments at once: end to end minus the 1 s handler":
            slow_e2e,
        "300 ms Init, 4 new environments at once: Restore Duration (server side)":
            slow_restore,
        "300 ms Init, 1 s later 8 at once (4 new environments): end to end minus the handler":
            again_e2e,
        "300 ms Init, 1 s later 8 at once (4 new environments): Restore Duration":
            again_restore,
    }
    if node_cold:
        rows["bare `node -e 0` start (Node.js baseline)"] = node_baseline
        rows["cold invoke, nodejs20.x, end to end (boto3 → response)"] = node_cold
        rows["cold invoke, nodejs20.x, 2nd concurrent environment (pre-started spare)"] = (
            node_second)
    lines = [
        "## Cold start",
        "",
        f"Measured by `make bench` (`benchmarks/cold_start.py`) on {machine_line()}. "
        "Shared, noisy 2-core machine: medians and ratios only.",
        "",
        "A cold invoke gets a new execution environment and runs the handler; a warm "
        "invoke reuses one. Fresh (templates off): cgroup, ext4 `/tmp`, namespaces, jail, "
        "a new interpreter, Init. Templates on (the default): a version's Init runs once, in "
        "its template, and every environment of it is a fork (the first reports the Init); "
        "forks are kept prepared ahead of need (four for a new template, started when its "
        "Init is done; then one more per new environment that found none ready, up to four, "
        "one fewer per quiet minute), so a new environment usually only re-seeds, runs the "
        "after-restore hooks and answers. All times "
        "end to end from a separate client process (boto3 → "
        "response) unless marked server side. The function is a 128 MB echo handler; each "
        "cold round changes an environment variable so the next invoke cannot reuse an "
        "environment.",
        "",
        "| what | median ms | p90 ms | samples |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, samples in rows.items():
        p90 = statistics.quantiles(samples, n=10)[-1]
        lines.append(f"| {label} | {statistics.median(samples):.1f} | {p90:.1f} | "
                     f"{len(samples)} |")
    ratio = statistics.median(cold_second) / statistics.median(tpl_second)
    lines += ["", f"New environment of an initialised version, fresh / forked from the spare: "
              f"{ratio:.1f}× (target ≥ 15×, p50 ≤ 10 ms).", ""]
    if not args.no_write:
        write_section("cold", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
