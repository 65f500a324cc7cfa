"""List operations' ``NextToken``: an opaque token naming the last item returned."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from loam.services.events.errors import ValidationException

__all__ = ["DEFAULT_LIMIT", "after_token", "page"]

DEFAULT_LIMIT = 100


def after_token(params: dict[str, Any]) -> str:
    """The name listing resumes after ("" from the start)."""
    token = params.get("NextToken")
    if not token:
        return ""
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        after = doc["after"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise ValidationException("The NextToken provided is not valid.") from None
    if not isinstance(after, str):
        raise ValidationException("The NextToken provided is not valid.")
    return after


def page(names: Sequence[str], limit: int) -> str | None:
    """The token for the next page, given one more row than ``limit`` was fetched."""
    if len(names) <= limit:
        return None
    doc = json.dumps({"after": names[limit - 1]}).encode()
    return base64.urlsafe_b64encode(doc).decode()
