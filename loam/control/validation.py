"""Lambda's own rules on top of the service model's constraints."""

from __future__ import annotations

import json
from typing import Any

from loam.errors import InvalidParameterValueException, ValidationException
from loam.runtimes.registry import RuntimeRegistry

__all__ = ["check_environment", "check_limits", "check_runtime", "check_snap_start"]

ENV_LIMIT = 4096
MAX_MEMORY = 10_240
MAX_TIMEOUT = 900
MAX_EPHEMERAL = 10_240
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
DEPRECATED = {"python2.7", "python3.6", "python3.7", "python3.8"}


# Managed runtimes of loam's registry that AWS offers SnapStart on (Python 3.12 and later).
SNAP_START_RUNTIMES = frozenset({"python3.12", "python3.13", "python3.14"})


def check_snap_start(apply_on: str, runtime: str) -> None:
    if apply_on == "PublishedVersions" and runtime not in SNAP_START_RUNTIMES:
        raise InvalidParameterValueException(
            f"{runtime} is not supported for SnapStart enabled functions."
        )


def check_runtime(runtime: str, registry: RuntimeRegistry) -> None:
    if runtime in DEPRECATED:
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions."
        )
    if not registry.supports(runtime):
        raise InvalidParameterValueException(
            f"The runtime parameter of {runtime} is not supported by this loam node. "
            f"Supported runtimes: {', '.join(registry.identifiers())}."
        )


def check_limits(params: dict[str, Any]) -> None:
    violations = []
    memory = params.get("MemorySize")
    if memory is not None and memory > MAX_MEMORY:
        violations.append(f"Value '{memory}' at 'memorySize' failed to satisfy constraint: "
                          f"Member must have value less than or equal to {MAX_MEMORY}")
    timeout = params.get("Timeout")
    if timeout is not None and timeout > MAX_TIMEOUT:
        violations.append(f"Value '{timeout}' at 'timeout' failed to satisfy constraint: "
                          f"Member must have value less than or equal to {MAX_TIMEOUT}")
    ephemeral = params.get("EphemeralStorage", {}).get("Size")
    if ephemeral is not None and ephemeral > MAX_EPHEMERAL:
        violations.append(f"Value '{ephemeral}' at 'ephemeralStorage.size' failed to satisfy "
                          f"constraint: Member must have value less than or equal to "
                          f"{MAX_EPHEMERAL}")
    if violations:
        raise ValidationException.from_violations(violations)
    if params.get("PackageType") == "Image" or params.get("Code", {}).get("ImageUri"):
        raise InvalidParameterValueException(
            "PackageType Image is not supported by loam; deploy a .zip package."
        )


def check_environment(variables: dict[str, str]) -> None:
    reserved = sorted(k for k in variables if k in RESERVED_ENV)
    if reserved:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
    if len(measured.encode()) > ENV_LIMIT:
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided exceeded the 4KB limit. String measured: " + measured
        )
