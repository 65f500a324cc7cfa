"""Runtime hooks, as AWS's ``snapshot-restore-py`` package offers them.

``register_before_snapshot`` hooks run once in a template, after Init and
before its first fork; ``register_after_restore`` hooks run in every
environment forked from it, before it serves its first invocation. Both
register ``func(*args, **kwargs)`` and return ``func`` (usable as decorators).
In an environment started fresh (no template) neither runs, as on AWS
without SnapStart.
"""

from collections.abc import Callable
from typing import Any

_before_snapshot: list[tuple[Callable[..., Any], tuple, dict]] = []
_after_restore: list[tuple[Callable[..., Any], tuple, dict]] = []


def register_before_snapshot(func: Callable[..., Any], *args: Any,
                             **kwargs: Any) -> Callable[..., Any]:
    _before_snapshot.append((func, args, kwargs))
    return func


def register_after_restore(func: Callable[..., Any], *args: Any,
                           **kwargs: Any) -> Callable[..., Any]:
    _after_restore.append((func, args, kwargs))
    return func


def get_before_snapshot() -> list[tuple[Callable[..., Any], tuple, dict]]:
    return _before_snapshot


def get_after_restore() -> list[tuple[Callable[..., Any], tuple, dict]]:
    return _after_restore
