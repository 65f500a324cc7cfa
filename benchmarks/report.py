"""``docs/performance.md``: one section per benchmark, each between its markers.

A benchmark rewrites only its own section (``<!-- bench:NAME -->`` …
``<!-- /bench:NAME -->``), so benchmarks run alone or in any order leave the
others' numbers in place. A section not in the file yet is appended.
"""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OUT", "machine_line", "percentile", "spread", "write_section"]

OUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"

_HEAD = """# Performance

`make bench` runs every benchmark; each owns the section between its
`<!-- bench:NAME -->` markers and rewrites only that section. Text outside
the markers is analysis, written by hand and dated. The machine is a shared,
noisy 2-core VM: read medians and ratios, not single samples.
"""


def machine_line() -> str:
    """Where and when: host, CPU count, Python, date."""
    return (f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}, "
            f"{time.strftime('%Y-%m-%d', time.gmtime())}")


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of ``samples``."""
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``min / median / max`` of repeated runs."""
    return " / ".join(fmt.format(v) for v in
                      (min(values), statistics.median(values), max(values)))


def write_section(name: str, markdown: str, path: Path = OUT) -> None:
    """Replace (or append) the section ``name`` of ``path`` with ``markdown``."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    text = path.read_text() if path.exists() else ""
    if begin not in text:
        # A file from before the sections (or none): start again from the header.
        text = text if "<!-- bench:" in text else _HEAD
        path.write_text(text.rstrip("\n") + "\n\n" + block + "\n")
        return
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    path.write_text(pattern.sub(lambda _: block, text, count=1))
