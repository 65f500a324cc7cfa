"""One loam node: every component wired together, with one lifespan.

The node owns its background loops (the environment reaper, the provisioner,
the async queue's worker) and stops them, the pool and the store in reverse
order of creation.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loam.auth import Authenticator
from loam.billing import BillingMetrics, UsageRecorder
from loam.billing.provisioned import ProvisionedMeter, allocated_from, version_describer
from loam.clock import Clock, SystemClock
from loam.config import Settings
from loam.control.aliases import AliasService
from loam.control.code import CodeCache
from loam.control.concurrency import ReservedConcurrency
from loam.control.event_invoke import EventInvokeConfigs
from loam.control.event_sources import EventSourceMappings
from loam.control.function_urls import FunctionUrls
from loam.control.functions import FunctionService
from loam.control.names import Arns, parse_function_name
from loam.control.permissions import Permissions
from loam.control.provisioned import ProvisionedConcurrency, provisioned_targets
from loam.control.versions import VersionService
from loam.errors import LoamError
from loam.invoke.admission import Admission
from loam.invoke.async_queue import AsyncQueue, RetrySettings
from loam.invoke.provisioned import Provisioner
from loam.invoke.service import InvokeService
from loam.invoke.sqs_source import SqsEventSource
from loam.metrics import MetricsRecorder
from loam.metrics.observer import MetricsObserver
from loam.metrics.persist import MetricsArchive
from loam.metrics.sampled import SampledMetrics
from loam.metrics.sampler import NodeSampler
from loam.runtimes.registry import RuntimeRegistry
from loam.sandbox.host import HostCapabilities
from loam.sandbox.pool import EnvironmentPool
from loam.services.apigateway import ApiGatewayService
from loam.services.base import EmbeddedService
from loam.services.cloudwatch import CloudWatchService
from loam.services.events.service import EventsService
from loam.services.logs import LogsService
from loam.services.sqs import SqsService
from loam.store import AsyncEventRecord, BlobStore, open_store
from loam.store.sql import open_database
from loam.telemetry.logs import ConsoleEcho

__all__ = ["Node"]


class AccessDenied(LoamError):
    code = "AccessDeniedException"
    status = 403

log = logging.getLogger("loam")

REAP_INTERVAL_S = 5.0
CODE_URL_TTL_S = 600
SHARED_STORE_CACHE_TTL_S = 1.0


class Node:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.host = HostCapabilities.detect()
        self.store = open_store(settings.database_url, data)
        self.blobs = BlobStore(data / "blobs")
        self.code = CodeCache(self.blobs, data / "code")
        self.runtimes = RuntimeRegistry.from_file(settings.runtime_registry)
        self.arns = Arns(settings.region, settings.account_id)
        self.pool = EnvironmentPool(
            self.host, data, self.clock, settings.keep_alive_seconds,
            settings.max_idle_environments, settings.templates,
            min_free_bytes=settings.min_free_memory_mb << 20,
            scale_limit=settings.scale_limit, scale_window_s=settings.scale_window_seconds,
        )
        self.functions = FunctionService(
            self.store, self.blobs, self.code, self.runtimes, self.arns, self.clock,
            settings.account_concurrency, on_change=self._function_changed,
            cache_ttl=_cache_ttl(settings.database_url),
        )
        self.layers = self.functions.layers
        self.versions = VersionService(self.functions)
        self.aliases = AliasService(self.functions)
        self.admission = Admission(settings.account_concurrency)
        self.concurrency = ReservedConcurrency(self.functions, on_change=self._refresh_reservations)
        self.event_invoke = EventInvokeConfigs(self.functions, self.clock)
        self.database = open_database(settings.database_url, data)
        # Function logs: kept in the database (the logs API); on the console when asked.
        # On SQLite in a file of their own: a flood of log lines holds that file's write
        # lock, never the one function, queue and service writes wait for.
        echo = ConsoleEcho() if settings.echo_function_logs else None
        self.function_logs = LogsService(open_database(settings.database_url, data,
                                                       "logs.db"),
                                         self.clock, settings.region, settings.account_id,
                                         echo=echo)
        self.metrics = MetricsRecorder(self.clock)
        # What the workload would be billed for on AWS (billing_usage; `loam cost`).
        self.usage = UsageRecorder(self.database, self.clock)
        observer = MetricsObserver(self.metrics, self.usage, self.admission)
        self.invoker = InvokeService(
            self.functions, self.pool, self.code, self.runtimes, self.function_logs.sink,
            self.clock, settings.region, self.admission, observer,
        )
        self.queue = AsyncQueue(self.store, self.clock, self.invoker.run_event,
                                settings=self._event_settings, deliver=self._deliver,
                                dead_letter=self._dead_letter,
                                on_dropped=observer.event_dropped)
        self.invoker.queue = self.queue
        self.provisioner = Provisioner(self.functions, self.invoker, self.pool, self.admission,
                                       self.invoker.logs)
        self.provisioned_meter = ProvisionedMeter(
            self.usage, self.clock, self.admission.provisioned_targets,
            allocated_from(self.provisioner.status), version_describer(self.functions))
        self.provisioned = ProvisionedConcurrency(
            self.functions, self.clock, status=self.provisioner.status,
            on_change=self._refresh_reservations,
        )
        self.sqs = SqsService(self.database, self.clock, settings.region, settings.account_id,
                              settings.base_url)
        self.events = EventsService(self.database, self.clock, settings.region,
                                    settings.account_id, self._deliver_event)
        self.apigateway = ApiGatewayService(self.database, self.clock, settings.region,
                                            settings.account_id, settings.base_url)
        self.services: dict[str, EmbeddedService] = {
            "sqs": self.sqs, "events": self.events, "apigatewayv2": self.apigateway,
            "logs": self.function_logs}
        self.permissions = Permissions(self.functions, self.arns, self.clock)
        self.function_urls = FunctionUrls(self.functions, self.database, self.clock,
                                          settings.port)
        self.auth = Authenticator(self.database, self.clock, data, settings.dev_mode)
        self.event_sources = EventSourceMappings(self.database, self.functions, self.clock,
                                                 self.arns, self.sqs)
        self.sqs_source = SqsEventSource(self.event_sources, self.sqs, self.invoker, self.clock)
        # What the invoke path does not report (event source mappings, queue backlogs).
        self.sampled = SampledMetrics(self.clock)
        self.sampler = NodeSampler(self.sampled, self.clock, self.sqs_source.mapping_counts,
                                   self.sqs.lag)
        # Per-minute rollups in the store: metrics survive a restart.
        self.metrics_archive = MetricsArchive(self.database, self.clock, self.metrics,
                                              self.sampled)
        self.services["cloudwatch"] = CloudWatchService(
            self.metrics, self.clock, [BillingMetrics(self.usage)], self.sampled,
            self.sampler.sample_counts, self.metrics_archive)
        self._secret = _load_secret(data / "url-signing.key")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        log.info("sandbox: %s", self.host.describe())
        for identifier in self.runtimes.identifiers():
            spec = await asyncio.to_thread(self.runtimes.resolve, identifier)
            log.info("runtime %s", spec.description)
        self.functions.resume_pending()
        await self.metrics_archive.load()
        await asyncio.to_thread(self._refresh_reservations)
        for service in self.services.values():
            await service.start()
        self._tasks = [
            asyncio.create_task(self._reap_forever(), name="environment-reaper"),
            asyncio.create_task(self.provisioner.run(), name="provisioner"),
            asyncio.create_task(self.queue.run(), name="async-queue"),
            asyncio.create_task(self.sqs_source.run(), name="sqs-event-source"),
            asyncio.create_task(self.usage.run(), name="billing-usage-flush"),
            asyncio.create_task(self.provisioned_meter.run(), name="provisioned-meter"),
            asyncio.create_task(self.sampler.run(), name="metrics-sampler"),
            asyncio.create_task(self.metrics_archive.run(), name="metrics-flush"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for service in reversed(self.services.values()):
            await service.stop()
        await self.queue.close()
        await self.invoker.close()
        with contextlib.suppress(Exception):  # stopping anyway: the last interval unbilled
            await self.provisioned_meter.tick()
        await self._flush_usage()
        await self._flush_metrics()
        await self.pool.close()
        await asyncio.to_thread(self.functions.close)
        self.store.close()
        self.database.close()

    async def _flush_usage(self) -> None:
        try:
            await self.usage.flush()
        except Exception:  # stopping anyway: say what is lost
            log.exception("billing usage of %d requests not written",
                          self.usage.pending_requests)

    async def _flush_metrics(self) -> None:
        self.sampler.sample_counts()
        try:
            await self.metrics_archive.flush()
        except Exception:  # stopping anyway: say what is lost
            log.exception("metrics since the last flush not written")

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            try:
                await self.pool.reap()
            except Exception:  # supervisor loop: record and keep reaping
                log.exception("reaping idle environments failed")

    def _refresh_reservations(self) -> None:
        """Called from control threads after a reservation or provisioned concurrency
        changes (or a function, version or alias does)."""
        self.admission.set_reservations({
            fn.name: fn.reserved_concurrency
            for fn in self.functions.all_functions() if fn.reserved_concurrency is not None
        })
        self.admission.set_provisioned(provisioned_targets(self.functions))
        self.provisioner.request()

    def _function_changed(self, name: str) -> None:
        """Called from control threads after a write: retire the function's idle
        environments and templates made before it (not those made since, for the
        new state, by invocations racing this call)."""
        changed = time.monotonic()
        self._refresh_reservations()
        if self._loop is not None and not self._loop.is_closed():
            asyncio.run_coroutine_threadsafe(self.pool.retire(name, before=changed), self._loop)

    def _event_settings(self, record: AsyncEventRecord) -> RetrySettings:
        """The event-invoke configuration an async event is processed under."""
        doc = json.loads(record.document)
        try:
            config = self.event_invoke.for_invocation(doc["function_name"], doc.get("qualifier"))
        except LoamError:  # the function is gone: the attempt will find out
            return RetrySettings()
        return RetrySettings(config.max_retries, config.max_age_s, config.on_success,
                             config.on_failure, config.dead_letter)

    async def _deliver(self, arn: str, record: dict[str, Any]) -> None:
        """An async invocation's destination (AWS's invocation record): a function gets
        it as an Event invocation (through the same durable queue), a queue as a
        message, an event bus as an event from ``lambda``."""
        document = json.dumps(record)
        if ":function:" in arn:
            await self.invoker.invoke(arn, None, "Event", "None", document.encode())
        elif arn.startswith("arn:aws:sqs:"):
            await self.sqs.send(arn, document)
        elif ":event-bus/" in arn:
            outcome = "Success" if record["requestContext"]["condition"] == "Success" \
                else "Failure"
            await self._put_event(arn, "lambda", f"Lambda Function Invocation Result - {outcome}",
                                  document, [record["requestContext"]["functionArn"]])
        else:
            log.warning("destination %s: this kind of destination is not available on "
                        "this node; record for %s dropped", arn,
                        record["requestContext"]["requestId"])

    async def _dead_letter(self, arn: str, payload: bytes,
                           attributes: dict[str, dict[str, str]]) -> None:
        """A discarded async event to its function's dead-letter queue."""
        if not arn.startswith("arn:aws:sqs:"):
            log.warning("dead-letter target %s: only SQS queues are available on this node; "
                        "event %s dropped", arn, attributes["RequestID"]["StringValue"])
            return
        await self.sqs.send(arn, payload.decode("utf-8", "replace"),
                            message_attributes=attributes)

    async def _deliver_event(self, arn: str, payload: bytes, target: Mapping[str, Any],
                             delivery_id: str) -> None:
        """An event bus rule's target: a function gets an Event invocation (durable
        once enqueued) if its resource policy lets the rule invoke it; a queue gets a
        message."""
        if ":function:" in arn:
            ref = parse_function_name(arn)
            rule = target.get("RuleArn")
            allowed = await asyncio.to_thread(
                self.permissions.allows, ref.name, ref.qualifier, "events.amazonaws.com",
                source_arn=rule, source_account=self.settings.account_id)
            if not allowed:  # the outbox retries (a permission may be added), then gives up
                raise AccessDenied(f"the resource policy of {arn} does not allow "
                                   f"events.amazonaws.com to invoke it for {rule}")
            await self.invoker.invoke(arn, None, "Event", "None", payload)
        elif arn.startswith("arn:aws:sqs:"):
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            await self.sqs.send(arn, payload.decode("utf-8", "replace"), group_id=group,
                                dedup_id=delivery_id if arn.endswith(".fifo") else None)
        else:
            log.warning("event target %s: this kind of target is not available on this node",
                        arn)

    async def _put_event(self, bus: str, source: str, detail_type: str, detail: str,
                         resources: list[str]) -> None:
        answer = await self.events.operations["PutEvents"]({"Entries": [{
            "EventBusName": bus, "Source": source, "DetailType": detail_type,
            "Detail": detail, "Resources": resources,
        }]})
        if answer.get("FailedEntryCount"):
            failed = answer["Entries"][0]
            raise LoamError(f"event bus {bus} refused the event: {failed.get('ErrorMessage')}")

    # -- presigned code download URLs ------------------------------------------

    def code_url(self, digest: str) -> str:
        expires = int(self.clock.time()) + CODE_URL_TTL_S
        signature = self._sign(digest, expires)
        query = f"Expires={expires}&Signature={signature}"
        return f"{self.settings.base_url}/_loam/code/{digest}?{query}"

    def check_code_url(self, digest: str, expires: str, signature: str) -> bool:
        try:
            deadline = int(expires)
        except ValueError:
            return False
        good = hmac.compare_digest(self._sign(digest, deadline), signature)
        return good and deadline >= self.clock.time()

    def _sign(self, digest: str, expires: int) -> str:
        return hmac.new(self._secret, f"{digest}:{expires}".encode(), hashlib.sha256).hexdigest()


def _cache_ttl(database_url: str) -> float | None:
    """How long this node trusts its function cache without a write of its own.

    SQLite belongs to one node, which sees every write: forever. A shared
    PostgreSQL may be written by other nodes: a write there shows within
    ``SHARED_STORE_CACHE_TTL_S`` (until a change feed calls ``invalidate()``).
    """
    return None if database_url in ("", "sqlite") else SHARED_STORE_CACHE_TTL_S


def _load_secret(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes()
    secret = secrets.token_bytes(32)
    path.write_bytes(secret)
    path.chmod(0o600)
    return secret
