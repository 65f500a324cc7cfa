"""loam — Lambda On Any Machine: a self-hosted, AWS Lambda-compatible platform."""

__version__ = "0.1.0"
