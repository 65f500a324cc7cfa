"""``loam deploy <dir>``: create the function, or update its code and configuration, and
wait until it is ready to invoke.

Plan, then execute: the directory is zipped deterministically, the function
is read (GetFunction), and only what differs is sent: CreateFunction for a
new function; for an existing one UpdateFunctionCode when ``CodeSha256``
differs, then UpdateFunctionConfiguration for the settings given on the
command line that differ. After each write the command polls until
``State`` is ``Active`` and ``LastUpdateStatus`` is ``Successful`` (Lambda
refuses a second update while one is ``InProgress``), and a ``Failed``
state ends it with the function's own reason code.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from loam.cli.connection import CommandFailed, Connection, UsageError, client_options
from loam.cli.output import Output
from loam.cli.package import ProgressBody, code_sha256, zip_directory
from loam.clock import Clock, SystemClock

__all__ = ["DeploySpec", "Deployer", "UploadProgress", "parse_environment", "register"]

DEFAULT_ROLE = "arn:aws:iam::{account}:role/loam-function"
PROGRESS_THRESHOLD = 1 << 20  # bodies from 1 MiB up report their upload
_UPLOADS = ("CreateFunction", "UpdateFunctionCode")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deploy = sub.add_parser("deploy", parents=[client_options()],
                            help="zip a directory and create or update a function from it")
    deploy.add_argument("directory", type=Path, help="the function's code")
    deploy.add_argument("--name", required=True, help="function name")
    deploy.add_argument("--runtime", default=None, help="e.g. python3.12 (needed to create)")
    deploy.add_argument("--handler", default=None, help="e.g. index.handler (needed to create)")
    deploy.add_argument("--memory", type=int, default=None, metavar="MB", help="MemorySize")
    deploy.add_argument("--timeout", type=int, default=None, metavar="SECONDS", help="Timeout")
    deploy.add_argument("--env", action="append", default=None, metavar="K=V",
                        help="an environment variable (repeat; replaces all of them)")
    deploy.add_argument("--role", default=None,
                        help="execution role ARN for a new function (default "
                             + DEFAULT_ROLE.format(account="$LOAM_ACCOUNT_ID") + ")")
    deploy.add_argument("--wait-timeout", type=float, default=300.0, metavar="SECONDS",
                        help="how long to wait for Active / Successful (default 300)")
    deploy.set_defaults(run=_run)


def parse_environment(pairs: list[str] | None) -> dict[str, str] | None:
    """``["K=V", ...]`` as Lambda's Variables; ``None`` when ``--env`` was not given."""
    if pairs is None:
        return None
    variables: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {pair!r}: expected KEY=VALUE")
        variables[key] = value
    return variables


@dataclass(frozen=True)
class DeploySpec:
    """What the command line asks for; ``None`` means "leave as it is"."""

    name: str
    runtime: str | None = None
    handler: str | None = None
    memory: int | None = None
    timeout: int | None = None
    environment: dict[str, str] | None = None
    role: str | None = None

    def settings(self) -> dict[str, Any]:
        """The configuration members given, as UpdateFunctionConfiguration takes them."""
        given: dict[str, Any] = {"Runtime": self.runtime, "Handler": self.handler,
                                 "MemorySize": self.memory, "Timeout": self.timeout}
        out = {key: value for key, value in given.items() if value is not None}
        if self.environment is not None:
            out["Environment"] = {"Variables": self.environment}
        return out

    def changed_settings(self, current: dict[str, Any]) -> dict[str, Any]:
        """The given settings that differ from the function's ``current`` configuration."""
        changed: dict[str, Any] = {}
        for key, value in self.settings().items():
            if key == "Environment":
                if current.get("Environment", {}).get("Variables", {}) != value["Variables"]:
                    changed[key] = value
            elif current.get(key) != value:
                changed[key] = value
        return changed


@dataclass
class UploadProgress:
    """Reports bytes sent: a rewritten line on a terminal, a line per tenth when piped."""

    stream: TextIO
    label: str
    _last_tenth: int = field(default=-1, init=False)

    def __call__(self, sent: int, total: int) -> None:
        percent = 100 * sent // total if total else 100
        text = f"loam: uploading {self.label}: {sent}/{total} bytes sent ({percent}%)"
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r" + text + ("\n" if sent >= total else ""))
        elif percent // 10 != self._last_tenth:
            self._last_tenth = percent // 10
            self.stream.write(text + "\n")
        self.stream.flush()


class Deployer:
    """Runs one deployment against a botocore ``lambda`` client."""

    def __init__(self, lam: Any, clock: Clock, sleep: Callable[[float], None],
                 notes: TextIO, wait_timeout: float = 300.0, poll: float = 0.25) -> None:
        self._lam = lam
        self._clock = clock
        self._sleep = sleep
        self._notes = notes
        self._wait_timeout = wait_timeout
        self._poll = poll

    def deploy(self, spec: DeploySpec, package: bytes) -> tuple[str, dict[str, Any]]:
        """Create or update; returns ``(created|updated|unchanged, final configuration)``."""
        current = self._current(spec.name)
        if current is None:
            return "created", self._create(spec, package)
        action = "unchanged"
        if current.get("CodeSha256") != code_sha256(package):
            self._note(f"updating the code of {spec.name}")
            self._lam.update_function_code(FunctionName=spec.name, ZipFile=package)
            current = self.wait_ready(spec.name)
            action = "updated"
        changed = spec.changed_settings(current)
        if changed:
            self._note(f"updating {', '.join(sorted(changed))} of {spec.name}")
            self._lam.update_function_configuration(FunctionName=spec.name, **changed)
            current = self.wait_ready(spec.name)
            action = "updated"
        return action, current

    def wait_ready(self, name: str) -> dict[str, Any]:
        """Poll until Active and Successful; a Failed state raises with its reason."""
        deadline = self._clock.monotonic() + self._wait_timeout
        while True:
            config: dict[str, Any] = self._lam.get_function_configuration(FunctionName=name)
            state, update = config.get("State"), config.get("LastUpdateStatus")
            if state == "Failed":
                raise CommandFailed(config.get("StateReasonCode") or "Failed",
                                    config.get("StateReason") or f"{name} failed to start")
            if update == "Failed":
                raise CommandFailed(config.get("LastUpdateStatusReasonCode") or "Failed",
                                    config.get("LastUpdateStatusReason")
                                    or f"the update of {name} failed")
            if state == "Active" and update in (None, "Successful"):
                return config
            if self._clock.monotonic() >= deadline:
                raise CommandFailed("Timeout", f"{name} is still {state}/{update} after "
                                    f"{self._wait_timeout:g} s")
            self._sleep(self._poll)

    def _current(self, name: str) -> dict[str, Any] | None:
        try:
            response = self._lam.get_function(FunctionName=name)
        except self._lam.exceptions.ResourceNotFoundException:
            return None
        configuration: dict[str, Any] = response["Configuration"]
        return configuration

    def _create(self, spec: DeploySpec, package: bytes) -> dict[str, Any]:
        if spec.runtime is None or spec.handler is None:
            raise UsageError(f"{spec.name} does not exist yet: creating it needs --runtime "
                             "and --handler")
        self._note(f"creating {spec.name}")
        account = os.environ.get("LOAM_ACCOUNT_ID", "123456789012")
        self._lam.create_function(FunctionName=spec.name, Role=spec.role or
                                  DEFAULT_ROLE.format(account=account),
                                  Code={"ZipFile": package}, **spec.settings())
        return self.wait_ready(spec.name)

    def _note(self, text: str) -> None:
        print(f"loam: {text}", file=self._notes, flush=True)


def report_uploads(lam: Any, progress: UploadProgress, threshold: int = PROGRESS_THRESHOLD) -> None:
    """Make the client's large CreateFunction / UpdateFunctionCode bodies report progress."""

    def wrap_body(request: Any, **_: Any) -> None:
        body = request.body
        if isinstance(body, bytes | bytearray) and len(body) >= threshold:
            request.body = ProgressBody(bytes(body), progress)

    for operation in _UPLOADS:
        lam.meta.events.register(f"before-send.lambda.{operation}", wrap_body)


def _run(args: argparse.Namespace, connection: Connection, out: Output) -> int:
    spec = DeploySpec(name=args.name, runtime=args.runtime, handler=args.handler,
                      memory=args.memory, timeout=args.timeout,
                      environment=parse_environment(args.env), role=args.role)
    if not args.directory.is_dir():
        raise UsageError(f"{args.directory} is not a directory")
    package = zip_directory(args.directory)
    lam = connection.client("lambda")
    report_uploads(lam, UploadProgress(sys.stderr, f"{spec.name} ({len(package)} byte zip)"))
    deployer = Deployer(lam, SystemClock(), time.sleep, sys.stderr, args.wait_timeout)
    action, config = deployer.deploy(spec, package)
    out.note(f"loam: {spec.name} {action} (State {config.get('State')}, "
             f"LastUpdateStatus {config.get('LastUpdateStatus')})")
    fields = [(key, config.get(key)) for key in ("FunctionName", "FunctionArn", "Runtime",
                                                 "Handler", "MemorySize", "Timeout",
                                                 "CodeSha256", "State", "LastUpdateStatus")]
    config.pop("ResponseMetadata", None)
    out.record([("Action", action), *fields], {"Action": action, "Configuration": config})
    return 0
