"""Invocation semantics: sync, async and dry-run; admission; results."""
