"""Execution environments: isolation, lifecycle and the warm pool."""
