"""Prometheus text exposition (format 0.0.4) of the recorder and the node.

Labels are bounded: ``function``, ``resource`` (the qualifier the caller
named, "" when unqualified) and ``version`` (the executed version, for alias
invocations); never a request id. Durations are histograms in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from loam.metrics.recorder import DURATION_BUCKETS_MS, MetricsRecorder, SeriesKey, Totals

__all__ = ["CONTENT_TYPE", "Family", "exposition", "recorder_families"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Labels = Mapping[str, str]


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    kind: str  # counter, gauge, histogram
    samples: Sequence[tuple[str, Labels, float]] = field(default_factory=tuple)

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for suffix, labels, value in self.samples:
            lines.append(f"{self.name}{suffix}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def exposition(families: Iterable[Family]) -> bytes:
    return "".join(f.render() for f in families).encode()


def recorder_families(recorder: MetricsRecorder) -> list[Family]:
    totals = recorder.totals()
    counters = [
        ("loam_lambda_invocations_total", "Invocations that ran (successful or not).",
         "invocations"),
        ("loam_lambda_errors_total", "Invocations that ended in a function error.", "errors"),
        ("loam_lambda_throttles_total", "Invocation requests refused with "
         "TooManyRequestsException.", "throttles"),
        ("loam_lambda_cold_starts_total", "Invocations that initialised a new environment.",
         "cold_starts"),
    ]
    families = [
        Family(name, text, "counter",
               [("", _series_labels(key), float(getattr(t, attr))) for key, t in totals])
        for name, text, attr in counters
    ]
    families.append(Family("loam_lambda_duration_seconds", "Function run time per invocation.",
                           "histogram", _histogram(totals, "duration")))
    families.append(Family("loam_lambda_init_duration_seconds",
                           "Environment initialisation time of cold starts.", "histogram",
                           _histogram(totals, "init")))
    families.append(Family(
        "loam_lambda_concurrent_executions", "Invocations running now.", "gauge",
        [("", {"function": name}, float(n)) for name, n in sorted(recorder.in_flight().items())]))
    stats = recorder.statistics()
    families.append(Family("loam_metrics_series", "Metric series kept by the recorder.",
                           "gauge", [("", {}, float(stats.series))]))
    families.append(Family("loam_metrics_dropped_series_total",
                           "Samples not kept because the series limit was reached.", "counter",
                           [("", {}, float(stats.dropped_series))]))
    return families


def _histogram(totals: list[tuple[SeriesKey, Totals]],
               which: str) -> list[tuple[str, Labels, float]]:
    samples: list[tuple[str, Labels, float]] = []
    for key, t in totals:
        counts = t.duration_buckets if which == "duration" else t.init_buckets
        total_ms = t.duration if which == "duration" else t.init
        labels = _series_labels(key)
        running = 0
        for bound, n in zip((*DURATION_BUCKETS_MS, math.inf), counts, strict=True):
            running += n
            le = "+Inf" if bound == math.inf else _number(bound / 1000.0)
            samples.append(("_bucket", {**labels, "le": le}, float(running)))
        samples.append(("_sum", labels, total_ms / 1000.0))
        samples.append(("_count", labels, float(running)))
    return samples


def _series_labels(key: SeriesKey) -> dict[str, str]:
    function, resource, executed = key
    qualifier = resource.partition(":")[2] if resource else ""
    return {"function": function, "resource": qualifier, "version": executed or ""}


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape_value(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
