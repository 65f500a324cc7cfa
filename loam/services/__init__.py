"""Embedded AWS-compatible neighbours a Lambda application needs when no cloud
is there (DESIGN.md, ``services/``)."""

__all__: list[str] = []
