"""``loam serve`` and friends."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from loam.config import DEFAULT_PORT, Settings
from loam.errors import SandboxUnavailable
from loam.store import StoreError

if TYPE_CHECKING:
    from loam.auth.keys import AccessKey

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
        dev_mode=True if args.dev_mode else None,
        echo_function_logs=True if args.echo_function_logs else None,
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
    _announce_access(node.auth.dev_mode, node.auth.first_start_key())
    print("loam: serving Lambda, SQS, EventBridge, API Gateway v2 and HTTP triggers on "
          f"{settings.base_url} (data in {settings.data_dir}; {_server_stack()})\n"
          f"loam: the web console is at {settings.base_url}/console/",
          file=sys.stderr, flush=True)
    # http "auto": httptools (a dependency) when importable, else h11; loop
    # "auto": uvloop (a dependency). Descriptors that uvloop's spawn lets
    # through to an environment are closed by the jail first thing. No
    # proxy-header rewriting and no access log: loam uses neither, and both
    # cost on every request.
    uvicorn.run(LambdaApp(node), host=settings.host, port=settings.port,
                log_level="warning", lifespan="on", timeout_graceful_shutdown=5,
                loop="auto", http="auto", proxy_headers=False, access_log=False)
    return 0


def _announce_access(dev_mode: bool, first_key: AccessKey | None) -> None:
    """Say loudly when requests go unchecked, and show a first key once."""
    if dev_mode:
        print("loam: " + "!" * 72 + "\nloam: DEVELOPMENT MODE: requests are NOT authenticated; "
              "any access key is accepted.\nloam: Unset LOAM_DEV_MODE (or drop --dev-mode) to "
              "require SigV4 signatures from loam's access keys.\nloam: " + "!" * 72,
              file=sys.stderr, flush=True)
    if first_key is not None:
        print("loam: " + "=" * 72 + "\nloam: created the first access key (shown only now; "
              "manage keys with `loam keys`):\n"
              f"loam:   AWS_ACCESS_KEY_ID={first_key.access_key_id}\n"
              f"loam:   AWS_SECRET_ACCESS_KEY={first_key.secret}\nloam: " + "=" * 72,
              file=sys.stderr, flush=True)


def _keys(args: argparse.Namespace) -> int:
    """``loam keys create|list|delete``: the node's access keys, in its database."""
    from loam.auth.keys import AccessKeys
    from loam.clock import SystemClock
    from loam.store.sql import open_database

    settings = Settings.from_environment(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url)
    try:
        database = open_database(settings.database_url, settings.data_dir)
        keys = AccessKeys(database, SystemClock())
        if args.action == "create":
            key = keys.create()
            print(f"AWS_ACCESS_KEY_ID={key.access_key_id}\nAWS_SECRET_ACCESS_KEY={key.secret}")
        elif args.action == "list":
            for key in keys.list():
                created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(key.created))
                print(f"{key.access_key_id}\t{created}")
        elif not keys.delete(args.access_key_id or ""):
            print(f"loam: no access key {args.access_key_id}", file=sys.stderr)
            return 1
        database.close()
    except (StoreError, ValueError) as exc:
        print(f"loam: {exc}", file=sys.stderr)
        return 2
    return 0


def _client_command(args: argparse.Namespace) -> int:
    """An API client command: one stderr line and a documented exit code on failure."""
    from loam.cli.connection import Connection, run_command
    from loam.cli.output import Output

    return run_command(lambda: int(args.run(args, Connection.from_args(args),
                                            Output.from_args(args))))


def _server_stack() -> str:
    """What serves the API: ``uvicorn, loop=uvloop, http=httptools``."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn, loop={loop}, http={http}"


EXIT_CODES = """\
exit codes (client commands): 0 ok, 1 the function returned an error, 2 usage error
(arguments, credentials, files), 3 AWS API error, 4 connection error.
Errors print one line: loam: <AWS error code>: <message>"""


def build_parser() -> argparse.ArgumentParser:
    """Every command: ``serve`` and ``keys`` act on a node; the others are API clients."""
    from loam.cli import completion, cost, deploy, functions, invoke, logs, tune

    parser = argparse.ArgumentParser(prog="loam", description="Lambda On Any Machine",
                                     epilog=EXIT_CODES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    serve.add_argument("--echo-function-logs", action="store_true",
                       help="also print function log lines on this console "
                            "(also LOAM_ECHO_FUNCTION_LOGS=1)")
    serve.add_argument("--dev-mode", action="store_true",
                       help="accept any access key, unsigned requests too (also LOAM_DEV_MODE=1)")
    keys = sub.add_parser("keys", help="manage the access keys API requests are signed with")
    keys.add_argument("action", choices=["create", "list", "delete"])
    keys.add_argument("access_key_id", nargs="?", help="the key to delete")
    keys.add_argument("--data-dir", default=None, help="data directory (default ./loam-data)")
    keys.add_argument("--database-url", default=None,
                      help="'sqlite' (default) or a postgresql:// URL")
    for module in (functions, deploy, invoke, logs, cost, tune, completion):
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        from loam.cli.completion import script

        print(script(parser, args.shell), end="")
        return 0
    if hasattr(args, "run"):
        return _client_command(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "keys":
        if args.action == "delete" and not args.access_key_id:
            parser.error("keys delete needs an access key id")
        return _keys(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
