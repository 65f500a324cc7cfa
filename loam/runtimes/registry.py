"""Runtime identifiers → the interpreter on this machine that runs them.

The default maps every managed Python identifier (``python3.9`` …
``python3.14``) to the interpreter running loam itself; a JSON file
(``--runtime-registry`` / ``LOAM_RUNTIME_REGISTRY``) overrides entries, e.g.
``{"python3.12": "/usr/bin/python3.12"}``. The mapping is logged at start-up
and reported by ``GetFunction`` in ``RuntimeVersionConfig``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PYTHON_RUNTIMES", "RuntimeRegistry", "RuntimeSpec", "python_bootstrap_dir"]

PYTHON_RUNTIMES = tuple(f"python3.{minor}" for minor in range(9, 15))


def python_bootstrap_dir() -> Path:
    """The directory mounted read-only at ``/var/runtime`` for Python functions."""
    return Path(__file__).resolve().parent / "python"


@dataclass(frozen=True)
class RuntimeSpec:
    identifier: str
    family: str
    interpreter: Path
    version: str
    # Host directories the interpreter needs, mounted read-only at the same path.
    mounts: tuple[Path, ...]

    @property
    def description(self) -> str:
        return f"{self.identifier} → {self.interpreter} (Python {self.version})"


def _probe(interpreter: Path) -> tuple[str, Path, tuple[Path, ...]]:
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


def _default_interpreter() -> Path:
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(base))


class RuntimeRegistry:
    def __init__(self, overrides: dict[str, str] | None = None) -> None:
        self._wanted: dict[str, Path] = {rid: _default_interpreter() for rid in PYTHON_RUNTIMES}
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
            interpreter = self._wanted[identifier]
            version, executable, mounts = _probe(interpreter)
            spec = RuntimeSpec(identifier, "python", executable, version, mounts)
            self._specs[identifier] = spec
        return spec
