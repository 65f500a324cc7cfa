"""Functions and their configuration: validation, state, and transitions."""
