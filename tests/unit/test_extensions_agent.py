"""The extensions agent's bookkeeping, without processes or sockets: extension
states and AWS's error documents, the invoke phase's end, SHUTDOWN queuing,
Telemetry API subscription validation, and destroy reasons → shutdownReason."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from loam.sandbox.extensions import agent_command, has_extensions, shutdown_reason

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loam" / "runtimes" / "extensions"))

from agent_events import ApiError, Registry
from agent_telemetry import Telemetry

METADATA = {"functionName": "fn", "functionVersion": "$LATEST", "handler": "index.handler"}


def _next_in_thread(registry: Registry, ext_id: str) -> tuple[threading.Thread, list[Any]]:
    got: list[Any] = []
    thread = threading.Thread(target=lambda: got.append(registry.next_event(ext_id)),
                              daemon=True)
    thread.start()
    return thread, got


def _ready(registry: Registry, ext_id: str) -> threading.Thread:
    thread, _ = _next_in_thread(registry, ext_id)
    assert registry.wait_until(registry.all_ready, None)
    return thread


def test_external_extension_registers_once() -> None:
    registry = Registry(METADATA)
    registry.add_external("my-ext")
    assert not registry.all_registered()
    ext = registry.register("my-ext", ["INVOKE", "SHUTDOWN"])
    assert registry.all_registered()
    assert ext.events == ("INVOKE", "SHUTDOWN")
    with pytest.raises(ApiError) as err:
        registry.register("my-ext", ["INVOKE"])
    assert (err.value.status, err.value.error_type) == (403, "Extension.InvalidExtensionState")
    assert err.value.message == ("State transition from Registered to Registered failed for "
                                 "extension my-ext. Error: State transition is not allowed")


@pytest.mark.parametrize(("name", "events", "message"), [
    ("my-ext", ["INVOKE", "RESTORE"], "RESTORE: ErrorInvalidEventType"),
    ("internal", ["SHUTDOWN"], "SHUTDOWN: ShutdownEventNotSupportedForInternalExtension"),
])
def test_bad_event_types_are_refused(name: str, events: list[str], message: str) -> None:
    registry = Registry(METADATA)
    registry.add_external("my-ext")
    with pytest.raises(ApiError) as err:
        registry.register(name, events)
    assert (err.value.status, err.value.error_type) == (403, "Extension.InvalidEventType")
    assert err.value.message == message


def test_internal_registration_closes_after_init() -> None:
    registry = Registry(METADATA)
    registry.register("internal", ["INVOKE"])
    registry.close_registration()
    with pytest.raises(ApiError) as err:
        registry.register("late", ["INVOKE"])
    assert err.value.error_type == "Extension.RegistrationClosed"


def test_unknown_identifier() -> None:
    with pytest.raises(ApiError) as err:
        Registry(METADATA).next_event("00000000-0000-0000-0000-000000000000")
    assert (err.value.status, err.value.error_type) == (403,
                                                        "Extension.UnknownExtensionIdentifier")


def test_invoke_phase_ends_when_subscribers_are_back_in_next() -> None:
    registry = Registry(METADATA)
    registry.add_external("my-ext")
    ext = registry.register("my-ext", ["INVOKE"])
    first = _ready(registry, ext.id)
    assert registry.invoke_done()
    registry.begin_invoke({"eventType": "INVOKE", "requestId": "r1"})
    first.join(2)
    assert ext.state == "Running" and not registry.invoke_done()
    _next_in_thread(registry, ext.id)
    assert registry.wait_until(registry.invoke_done, None)


def test_shutdown_goes_to_its_subscribers_only() -> None:
    registry = Registry(METADATA)
    for name in ("a", "b"):
        registry.add_external(name)
    a = registry.register("a", ["INVOKE", "SHUTDOWN"])
    b = registry.register("b", ["INVOKE"])
    thread, got = _next_in_thread(registry, a.id)
    others = registry.begin_shutdown({"eventType": "SHUTDOWN", "shutdownReason": "spindown"})
    thread.join(2)
    assert got == [{"eventType": "SHUTDOWN", "shutdownReason": "spindown"}]
    assert others == [b]


def test_crash_and_init_error_are_fatal() -> None:
    registry = Registry(METADATA)
    ext = registry.add_external("my-ext")
    registry.exited(ext, "exit status 3", expected=False)
    assert registry.fatal == ("Extension.Crash", "Error: exit status 3")
    assert not registry.wait_until(registry.all_registered, None)
    registry = Registry(METADATA)
    registry.add_external("my-ext")
    ext = registry.register("my-ext", [])
    registry.report_error(ext.id, "Extension.NoConfig", "InitError")
    assert registry.fatal == ("Extension.InitError", "Error: Extension.NoConfig")


GOOD = b"""{"schemaVersion": "2022-07-01", "types": ["platform", "function"],
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/t"}}"""


@pytest.mark.parametrize("body", [
    b"not json",
    b'{"types": ["function"], "destination": {"protocol": "HTTP", "URI": "http://sandbox:1"}}',
    GOOD.replace(b'"function"', b'"metrics"'),
    GOOD.replace(b"sandbox.localdomain", b"example.com"),
    GOOD.replace(b'"HTTP"', b'"TCP"'),  # TCP takes a port, not a URI
    b'{"schemaVersion": "2022-12-13", "types": ["function"], '
    b'"destination": {"protocol": "TCP", "port": 0}}',
    GOOD[:-1] + b', "buffering": {"timeoutMs": 5}}',
])
def test_telemetry_subscription_is_validated(body: bytes) -> None:
    with pytest.raises(ApiError) as err:
        Telemetry().subscribe("my-ext", body)
    assert (err.value.status, err.value.error_type) == (400, "ValidationError")


def test_telemetry_subscription_closes_after_init() -> None:
    telemetry = Telemetry()
    telemetry.close_subscriptions()
    with pytest.raises(ApiError) as err:
        telemetry.subscribe("my-ext", GOOD)
    assert (err.value.status, err.value.error_type) == (403, "Telemetry.SubscriptionClosed")


@pytest.mark.parametrize(("reason", "expected"), [
    ("idle-timeout", "spindown"), ("retired", "spindown"), ("evicted", "spindown"),
    ("shutdown", "spindown"), ("timeout", "timeout"), ("crash", "failure"),
    ("init-error", "failure"),
])
def test_shutdown_reasons(reason: str, expected: str) -> None:
    assert shutdown_reason(reason) == expected


def test_only_layers_with_extensions_get_the_agent(tmp_path: Path) -> None:
    assert not has_extensions(None)
    assert not has_extensions(tmp_path)
    (tmp_path / "extensions" / "lib").mkdir(parents=True)
    assert not has_extensions(tmp_path)
    (tmp_path / "extensions" / "my-ext").write_text("#!/bin/sh\n")
    assert has_extensions(tmp_path)
    command = agent_command("/usr/bin/python3", 3, "python", ["py", "boot.py"], 10)
    assert command[:6] == ["/usr/bin/python3", "-S", "-E", "/var/agent/agent.py", "3", "python"]
    assert 9.0 < int(command[6]) / 1000 - time.time() < 10  # answers before loam's timeout
    assert command[7:] == ["py", "boot.py"]
