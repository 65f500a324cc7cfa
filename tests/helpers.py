"""Test helpers: a real ``loam serve`` process, clients for it, packages."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_loam/health", timeout=5) as r:
                return bool(r.status == 200)
        except OSError:
            return False


def start_server(data_dir: Path, port: int | None = None, extra_env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> Server:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    # Development mode unless a test says otherwise: tests of other things use any key
    # (tests/functional/test_sigv4.py runs a server that checks signatures).
    # Function log lines on the server's console too: tests read them from its log.
    env = {"LOAM_DEV_MODE": "1", "LOAM_ECHO_FUNCTION_LOGS": "1", **os.environ,
           **(extra_env or {})}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "loam", "serve", "--port", str(port), "--data-dir",
             str(data_dir), *(args or [])],
            stdout=log, stderr=subprocess.STDOUT, env=env,
        )
    server = Server(f"http://127.0.0.1:{port}", port, data_dir, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"loam serve exited early:\n{server.log()}")
        if server.alive():
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"loam serve did not become healthy:\n{server.log()}")


@contextlib.contextmanager
def running_server(data_dir: Path, **kwargs: Any) -> Iterator[Server]:
    server = start_server(data_dir, **kwargs)
    try:
        yield server
    finally:
        server.stop()


def client(server: Server, service: str = "lambda") -> Any:
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )


CGROUP_ROOT = Path("/sys/fs/cgroup")


def node_cgroup_name(data_dir: Path) -> str:
    """The name of the node's parent cgroup(s): a hash of its data directory."""
    return "loam-" + hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]


def node_cgroup(data_dir: Path) -> Path:
    """The node's parent cgroup (v1: the one in the memory hierarchy; v2: the
    unified one)."""
    memory = CGROUP_ROOT / "memory"
    return (memory if memory.is_dir() else CGROUP_ROOT) / node_cgroup_name(data_dir)


def template_ids(data_dir: Path) -> set[str]:
    """The node's templates, by id (each has a directory, as well as its cgroup)."""
    tdir = data_dir / "templates"
    return {p.name for p in tdir.iterdir() if p.is_dir()} if tdir.is_dir() else set()


def environment_ids(data_dir: Path, templates: bool = False) -> list[str]:
    """The node's live environments, by id: each has a cgroup of its own (forked ones
    have no directory). Templates are left out unless ``templates``."""
    try:
        ids = sorted(p.name for p in node_cgroup(data_dir).iterdir() if p.is_dir())
    except FileNotFoundError:
        return []
    if templates:
        return ids
    made = template_ids(data_dir)
    return [i for i in ids if i not in made]


def processes() -> Iterator[tuple[int, list[str]]]:
    """Every process on the host: its pid and the fields of ``/proc/<pid>/stat`` after
    the command name (state, ppid, …; ``fields[11]`` and ``[12]`` are utime, stime)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        yield int(entry), stat[stat.rindex(")") + 2:].split()


def make_zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            # A fixed timestamp: the same files always make the same zip (and CodeSha256).
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16  # what writestr gives a name
            zf.writestr(info, content)
    return buf.getvalue()


def create_function(lam: Any, name: str, code: dict[str, str | bytes] | bytes,
                    handler: str = "index.handler", wait: bool = True,
                    **kwargs: Any) -> dict[str, Any]:
    package = code if isinstance(code, bytes) else make_zip(code)
    params: dict[str, Any] = {
        "FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": handler,
        "Code": {"ZipFile": package},
    }
    params.update(kwargs)
    out: dict[str, Any] = lam.create_function(**params)
    if wait:
        lam.get_waiter("function_active_v2").wait(
            FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    return out
