"""``loam serve`` and friends."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
from pathlib import Path

from loam.config import DEFAULT_PORT, Settings
from loam.errors import SandboxUnavailable
from loam.store import StoreError

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from loam.api.app import LambdaApp
    from loam.node import Node

    if args.no_templates:
        os.environ["LOAM_TEMPLATES"] = "0"  # read where the environment pool is built
    settings = Settings.from_environment(
        host=args.host, port=args.port, data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url, runtime_registry=args.runtime_registry,
        region=args.region, account_id=args.account_id,
        templates=False if args.no_templates else None,
    )
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        node = Node(settings)
    except (SandboxUnavailable, StoreError, ValueError) as exc:
        print(f"loam: {exc}", file=sys.stderr)
        return 2
    print(f"loam: serving the Lambda API on {settings.base_url} "
          f"(data in {settings.data_dir}; {_server_stack()})", file=sys.stderr, flush=True)
    # http "auto": httptools (a dependency) when importable, else h11. The
    # loop stays asyncio's: uvloop spawns environments with host descriptors
    # open in them (see docs/performance.md). No proxy-header rewriting and
    # no access log: loam uses neither, and both cost on every request.
    uvicorn.run(LambdaApp(node), host=settings.host, port=settings.port,
                log_level="warning", lifespan="on", timeout_graceful_shutdown=5,
                loop="asyncio", http="auto", proxy_headers=False, access_log=False)
    return 0


def _server_stack() -> str:
    """What serves the API: ``uvicorn, loop=asyncio, http=httptools``."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn, loop=asyncio, http={http}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loam", description="Lambda On Any Machine")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run a loam node (API + worker)")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--data-dir", default=None, help="data directory (default ./loam-data)")
    serve.add_argument("--region", default=None, help="region in ARNs (default us-east-1)")
    serve.add_argument("--account-id", default=None,
                       help="account id in ARNs (default 123456789012)")
    serve.add_argument("--database-url", default=None,
                       help="'sqlite' (default) or a postgresql:// URL")
    serve.add_argument("--runtime-registry", type=Path, default=None,
                       help="JSON file mapping runtime identifiers to interpreters")
    serve.add_argument("--no-templates", action="store_true",
                       help="start every environment fresh (no fork from a per-version "
                            "template; also LOAM_TEMPLATES=0)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
