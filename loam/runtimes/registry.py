"""Runtime identifiers → the program on this machine that runs them.

Families:
- ``python3.9`` … ``python3.14``: a Python interpreter running
  ``runtimes/python/bootstrap.py``; default the interpreter running loam;
- ``nodejs18.x`` … ``nodejs24.x``: a Node.js binary running
  ``runtimes/node/bootstrap.mjs``; default the ``node`` on PATH (absent from
  the registry when there is none);
- ``provided``, ``provided.al2``, ``provided.al2023``: the function's own
  ``bootstrap`` behind the Lambda Runtime API, served by
  ``runtimes/provided/runtime_api.py`` on loam's Python.

A JSON file (``--runtime-registry`` / ``LOAM_RUNTIME_REGISTRY``) overrides
the program of any identifier, e.g. ``{"python3.12": "/usr/bin/python3.12",
"nodejs22.x": "/opt/node22/bin/node"}``. The mapping is logged at start-up and
reported by ``GetFunction`` in ``RuntimeVersionConfig``. Probing a program
happens once per program, not once per identifier.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "NODE_RUNTIMES",
    "PROVIDED_RUNTIMES",
    "PYTHON_RUNTIMES",
    "RuntimeRegistry",
    "RuntimeSpec",
    "python_bootstrap_dir",
]

PYTHON_RUNTIMES = tuple(f"python3.{minor}" for minor in range(9, 15))
NODE_RUNTIMES = ("nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x")
PROVIDED_RUNTIMES = ("provided", "provided.al2", "provided.al2023")
_HERE = Path(__file__).resolve().parent


def python_bootstrap_dir() -> Path:
    """The directory mounted read-only at ``/var/runtime`` for Python functions."""
    return _HERE / "python"


@dataclass(frozen=True)
class RuntimeSpec:
    identifier: str
    family: str  # "python", "nodejs" or "provided"
    interpreter: Path
    version: str
    # Host directories the program needs, mounted read-only at the same path.
    mounts: tuple[Path, ...]
    # Mounted read-only at /var/runtime; ``arguments`` follow the interpreter.
    runtime_dir: Path = _HERE / "python"
    arguments: tuple[str, ...] = ("-X", "utf8", "/var/runtime/bootstrap.py")

    @property
    def description(self) -> str:
        name = "Node.js" if self.family == "nodejs" else "Python"
        return f"{self.identifier} → {self.interpreter} ({name} {self.version})"


@cache
def _probe_python(interpreter: Path) -> tuple[str, Path, tuple[Path, ...]]:
    code = (
        "import sys, json; print(json.dumps([sys.version.split()[0], sys.executable,"
        " sys.base_prefix, sys.base_exec_prefix]))"
    )
    out = subprocess.run(
        [str(interpreter), "-S", "-E", "-c", code], capture_output=True, text=True, check=True,
        timeout=30,
    ).stdout
    version, executable, prefix, exec_prefix = json.loads(out)
    mounts = {Path(prefix).resolve(), Path(exec_prefix).resolve()}
    return version, Path(executable).resolve(), tuple(sorted(mounts))


@cache
def _probe_node(binary: Path) -> tuple[str, Path, tuple[Path, ...]]:
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    real = binary.resolve()
    prefix = real.parent.parent
    mounts = () if str(real).startswith("/usr/") else (prefix,)
    return out.strip().removeprefix("v"), real, mounts


def _default_interpreter() -> Path:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


def _family(identifier: str) -> str:
    if identifier.startswith("nodejs"):
        return "nodejs"
    if identifier.startswith("provided"):
        return "provided"
    return "python"


class RuntimeRegistry:
    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        python = _default_interpreter()
        self._wanted: dict[str, Path] = {rid: python for rid in PYTHON_RUNTIMES}
        self._wanted.update({rid: python for rid in PROVIDED_RUNTIMES})
        node = shutil.which("node")
        if node:
            self._wanted.update({rid: Path(node) for rid in NODE_RUNTIMES})
        for rid, path in (overrides or {}).items():
            self._wanted[rid] = Path(path)
        self._specs: dict[str, RuntimeSpec] = {}

    @classmethod
    def from_file(cls, path: Path | None) -> RuntimeRegistry:
        if path is None:
            return cls()
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError(f"{path}: expected a JSON object of runtime → interpreter path")
        return cls(data)

    def identifiers(self) -> tuple[str, ...]:
        return tuple(sorted(self._wanted))

    def supports(self, identifier: str) -> bool:
        return identifier in self._wanted

    def resolve(self, identifier: str) -> RuntimeSpec:
        spec = self._specs.get(identifier)
        if spec is None:
            spec = self._build(identifier, self._wanted[identifier])
            self._specs[identifier] = spec
        return spec

    def _build(self, identifier: str, program: Path) -> RuntimeSpec:
        family = _family(identifier)
        if family == "nodejs":
            version, binary, mounts = _probe_node(program)
            return RuntimeSpec(identifier, family, binary, version, mounts,
                               _HERE / "node", ("/var/runtime/bootstrap.mjs",))
        version, executable, mounts = _probe_python(program)
        if family == "provided":
            return RuntimeSpec(identifier, family, executable, version, mounts,
                               _HERE / "provided", ("-X", "utf8", "/var/runtime/runtime_api.py"))
        return RuntimeSpec(identifier, family, executable, version, mounts)
