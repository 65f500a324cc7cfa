"""The node's own numbers as Prometheus families: environments, admission, the async
queue, the SQS event source, and this process' memory and CPU.

Read when scraped (``statistics()`` snapshots), never on the invoke path.
"""

from __future__ import annotations

import os
import resource

from loam.invoke.admission import AdmissionStatistics
from loam.invoke.async_queue import QueueStatistics
from loam.invoke.sqs_source import SqsSourceStatistics
from loam.metrics.prometheus import Family
from loam.sandbox.pool import PoolStatistics

__all__ = ["node_families"]


def node_families(pool: PoolStatistics, admission: AdmissionStatistics,
                  queue: QueueStatistics, sqs: SqsSourceStatistics,
                  queue_depth: int | None = None) -> list[Family]:
    """``queue_depth``: the events in the durable async queue (AWS has no CloudWatch
    metric for it); without it, what this node accepted and has not yet finished."""
    if queue_depth is None:
        queue_depth = max(0, queue.accepted - queue.processed - queue.dropped)
    return [
        Family("loam_environments", "Execution environments on this node, by state.", "gauge", [
            ("", {"state": "idle"}, float(pool.idle)),
            ("", {"state": "busy"}, float(pool.busy)),
            ("", {"state": "provisioned"}, float(pool.provisioned)),
        ]),
        Family("loam_environments_created_total", "Execution environments started.",
               "counter", [("", {}, float(pool.created))]),
        Family("loam_environments_destroyed_total", "Execution environments torn down.",
               "counter", [("", {}, float(pool.destroyed))]),
        Family("loam_environment_evictions_total",
               "Idle environments evicted to make room.", "counter",
               [("", {}, float(pool.evictions))]),
        Family("loam_admission_in_flight", "Invocations admitted and running.", "gauge",
               [("", {}, float(admission.in_flight))]),
        Family("loam_admission_unreserved_limit",
               "Concurrency left to functions without a reservation.", "gauge",
               [("", {}, float(admission.unreserved_limit))]),
        Family("loam_admission_throttled_total", "Invocations refused by admission.",
               "counter", [("", {}, float(admission.throttled))]),
        Family("loam_async_events_total", "Asynchronous events by what became of them.",
               "counter", [
                   ("", {"stage": "accepted"}, float(queue.accepted)),
                   ("", {"stage": "processed"}, float(queue.processed)),
                   ("", {"stage": "retried"}, float(queue.retried)),
                   ("", {"stage": "dropped"}, float(queue.dropped)),
               ]),
        Family("loam_async_events_in_flight", "Asynchronous events being attempted now.",
               "gauge", [("", {}, float(queue.in_flight))]),
        Family("loam_async_queue_depth",
               "Asynchronous events accepted and not yet finished (processed or dropped), "
               "waiting or being attempted.", "gauge", [("", {}, float(queue_depth))]),
        Family("loam_sqs_event_source_pollers", "SQS event source pollers running.", "gauge",
               [("", {}, float(sqs.pollers))]),
        Family("loam_sqs_event_source_messages_total", "SQS event source messages by stage.",
               "counter", [
                   ("", {"stage": "received"}, float(sqs.received)),
                   ("", {"stage": "filtered"}, float(sqs.filtered)),
                   ("", {"stage": "deleted"}, float(sqs.deleted)),
               ]),
        Family("loam_sqs_event_source_invocations_total",
               "SQS event source batches by outcome.", "counter", [
                   ("", {"outcome": "succeeded"}, float(sqs.succeeded)),
                   ("", {"outcome": "failed"}, float(sqs.failed)),
                   ("", {"outcome": "throttled"}, float(sqs.throttled)),
               ]),
        *process_families(),
    ]


def process_families() -> list[Family]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return [
        Family("process_cpu_seconds_total", "CPU time of the loam process.", "counter",
               [("", {}, usage.ru_utime + usage.ru_stime)]),
        Family("process_resident_memory_bytes", "Resident memory of the loam process.",
               "gauge", [("", {}, float(_resident_bytes()))]),
        Family("process_max_resident_memory_bytes", "Peak resident memory of the process.",
               "gauge", [("", {}, float(usage.ru_maxrss * 1024))]),
    ]


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
