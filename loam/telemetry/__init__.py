"""Function logs, platform report lines, metrics and billing."""
