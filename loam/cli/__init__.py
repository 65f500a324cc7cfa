"""The ``loam`` command line."""
