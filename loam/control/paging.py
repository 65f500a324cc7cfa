"""One page of a list held in memory, with AWS's opaque ``Marker`` / ``NextMarker``."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, TypeVar

from loam.errors import InvalidParameterValueException

__all__ = ["page_of"]

T = TypeVar("T")


def page_of(items: Sequence[T], key: str, marker: str | None, max_items: int | None,
            page_limit: int) -> dict[str, Any]:
    """``{key: the page, "NextMarker": …}``: at most ``page_limit`` items, whatever
    ``max_items`` asks for; the marker is the next item's index, encoded."""
    start = _decode(marker)
    limit = min(max_items or page_limit, page_limit)
    out: dict[str, Any] = {key: list(items[start:start + limit])}
    if start + limit < len(items):
        out["NextMarker"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
    return out


def _decode(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        return int(base64.urlsafe_b64decode(marker.encode()).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameterValueException("Invalid Marker.") from exc
