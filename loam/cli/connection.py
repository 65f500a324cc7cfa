"""How the client commands reach a loam node: endpoint, region, credentials, exit codes.

The commands are a thin client over the public HTTP API: every call is an
ordinary SigV4-signed AWS request made by botocore, so credentials come from
where the AWS SDKs look (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, ``~/.aws/credentials``). Every failure ends as one line on
stderr, ``loam: <code>: <message>``, and one of the exit codes below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TextIO

__all__ = [
    "DEFAULT_ENDPOINT",
    "DEFAULT_REGION",
    "CommandFailed",
    "Connection",
    "ExitCode",
    "UsageError",
    "add_connection_arguments",
    "client_options",
    "run_command",
]

DEFAULT_ENDPOINT = "http://127.0.0.1:9070"
DEFAULT_REGION = "us-east-1"


class ExitCode(IntEnum):
    """The documented exit codes of the client commands."""

    OK = 0
    FUNCTION_ERROR = 1  # the function ran and failed (Invoke's FunctionError)
    USAGE = 2  # bad arguments, missing credentials, unreadable files
    API_ERROR = 3  # the API refused the request (an AWS error code)
    CONNECTION = 4  # the endpoint could not be reached or hung up


class UsageError(Exception):
    """A command's arguments cannot work; reported as ``loam: <message>``, exit 2."""


class CommandFailed(Exception):
    """A step failed with an AWS-style code (e.g. a function whose update Failed)."""

    def __init__(self, code: str, message: str, exit_code: ExitCode = ExitCode.API_ERROR) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Connection:
    """Where and as whom to call; ``client(service)`` builds a botocore client."""

    endpoint_url: str
    region: str
    profile: str | None = None
    read_timeout: float = 960.0  # longer than Lambda's 900 s maximum timeout

    @classmethod
    def from_args(cls, args: argparse.Namespace,
                  environ: dict[str, str] | None = None) -> Connection:
        env = os.environ if environ is None else environ
        return cls(
            endpoint_url=args.endpoint_url or env.get("LOAM_ENDPOINT") or DEFAULT_ENDPOINT,
            region=args.region or env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION")
            or DEFAULT_REGION,
            profile=args.profile,
        )

    def client(self, service: str) -> Any:
        import botocore.session
        from botocore.config import Config

        session = botocore.session.Session(profile=self.profile)
        config = Config(retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=10, read_timeout=self.read_timeout)
        return session.create_client(service, region_name=self.region,
                                     endpoint_url=self.endpoint_url, config=config)


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--endpoint-url", default=None,
                       help=f"the node's URL (default $LOAM_ENDPOINT, else {DEFAULT_ENDPOINT})")
    group.add_argument("--region", default=None,
                       help=f"region to sign for (default $AWS_DEFAULT_REGION, else "
                            f"{DEFAULT_REGION})")
    group.add_argument("--profile", default=None,
                       help="a profile from ~/.aws/credentials (default $AWS_PROFILE)")


def run_command(command: Callable[[], int], stderr: TextIO | None = None) -> int:
    """Run ``command``, turning every failure into one stderr line and an exit code."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        NoRegionError,
        ParamValidationError,
        PartialCredentialsError,
        ProfileNotFound,
    )
    from botocore.exceptions import ConnectionError as EndpointUnreachable

    err = stderr or sys.stderr
    try:
        return command()
    except UsageError as exc:
        return _report(err, None, str(exc), ExitCode.USAGE)
    except CommandFailed as exc:
        return _report(err, exc.code, exc.message, exc.exit_code)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code") or "UnknownError"
        message = error.get("Message") or str(exc)
        return _report(err, code, message, ExitCode.API_ERROR)
    except (EndpointUnreachable, HTTPClientError) as exc:
        return _report(err, type(exc).__name__, str(exc), ExitCode.CONNECTION)
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError,
            ParamValidationError) as exc:
        return _report(err, type(exc).__name__, str(exc), ExitCode.USAGE)
    except BotoCoreError as exc:
        return _report(err, type(exc).__name__, str(exc), ExitCode.API_ERROR)
    except OSError as exc:  # reading a package or a payload file
        return _report(err, None, str(exc), ExitCode.USAGE)
    except KeyboardInterrupt:
        return 130


def _report(err: TextIO, code: str | None, message: str, exit_code: ExitCode) -> int:
    line = " ".join(message.split())  # one line, whatever botocore wrapped
    print(f"loam: {code}: {line}" if code else f"loam: {line}", file=err, flush=True)
    return int(exit_code)


def client_options() -> argparse.ArgumentParser:
    """The options every client command takes: connection and ``--output``."""
    from loam.cli.output import add_output_argument

    parent = argparse.ArgumentParser(add_help=False)
    add_connection_arguments(parent)
    add_output_argument(parent)
    return parent
