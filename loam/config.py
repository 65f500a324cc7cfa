"""Settings of one loam node, from the command line and ``LOAM_*`` variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Settings", "opted_out", "templates_enabled"]

DEFAULT_PORT = 9070


def _env(name: str, default: str) -> str:
    return os.environ.get(f"LOAM_{name}", default)


def _flag(name: str) -> bool:
    """``LOAM_<name>``, off unless set to something other than 0 or empty."""
    return _env(name, "0") not in ("0", "")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path("./loam-data")
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # "sqlite" (embedded default) or a postgresql:// URL.
    database_url: str = "sqlite"
    account_concurrency: int = 1000
    keep_alive_seconds: float = 300.0
    max_idle_environments: int = 64
    # AWS's scaling rate: each function adds at most this many environments per window.
    scale_limit: int = 1000
    scale_window_seconds: float = 10.0
    # Below this much MemAvailable, idle environments are evicted (LRU first).
    min_free_memory_mb: int = 512
    # Path of a JSON file mapping runtime identifiers to interpreters.
    runtime_registry: Path | None = None
    # Public base URL used in Code.Location; derived from host/port if empty.
    public_url: str = ""
    # Fork new environments of an initialised version from a template (default;
    # LOAM_TEMPLATES=0 or --no-templates starts every environment fresh).
    templates: bool = field(default_factory=lambda: templates_enabled())
    # Development mode (LOAM_DEV_MODE=1, --dev-mode): any access key is accepted, unsigned
    # requests too. Off by default: every API request must be signed with a loam key.
    dev_mode: bool = field(default_factory=lambda: _flag("DEV_MODE"))
    # Also print every function log line on the node's console (LOAM_ECHO_FUNCTION_LOGS=1,
    # --echo-function-logs). Off by default: the logs API (`aws logs tail`, `loam logs`)
    # is where they are read, and a flooding function must not flood the console too.
    echo_function_logs: bool = field(default_factory=lambda: _flag("ECHO_FUNCTION_LOGS"))
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "host": _env("HOST", "127.0.0.1"),
            "port": int(_env("PORT", str(DEFAULT_PORT))),
            "data_dir": Path(_env("DATA_DIR", "./loam-data")),
            "region": _env("REGION", "us-east-1"),
            "account_id": _env("ACCOUNT_ID", "123456789012"),
            "database_url": _env("DATABASE_URL", "sqlite"),
            "account_concurrency": int(_env("ACCOUNT_CONCURRENCY", "1000")),
            "keep_alive_seconds": float(_env("KEEP_ALIVE_SECONDS", "300")),
            "max_idle_environments": int(_env("MAX_IDLE_ENVIRONMENTS", "64")),
            "scale_limit": int(_env("SCALE_LIMIT", "1000")),
            "scale_window_seconds": float(_env("SCALE_WINDOW_SECONDS", "10")),
            "min_free_memory_mb": int(_env("MIN_FREE_MEMORY_MB", "512")),
            "public_url": _env("PUBLIC_URL", ""),
            "templates": templates_enabled(),
            "dev_mode": _flag("DEV_MODE"),
            "echo_function_logs": _flag("ECHO_FUNCTION_LOGS"),
        }
        registry = _env("RUNTIME_REGISTRY", "")
        if registry:
            values["runtime_registry"] = Path(registry)
        values.update({k: v for k, v in overrides.items() if v is not None})
        data_dir = values["data_dir"]
        assert isinstance(data_dir, Path)
        values["data_dir"] = data_dir.resolve()
        return cls(**values)  # type: ignore[arg-type]

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"


def templates_enabled() -> bool:
    """``LOAM_TEMPLATES``: fork environments from per-version templates (default on)."""
    return not opted_out(_env("TEMPLATES", "1"))


def opted_out(value: str) -> bool:
    """Whether a ``LOAM_TEMPLATES`` value (node or function) turns templates off."""
    return value.strip().lower() in ("0", "false", "no", "off")
