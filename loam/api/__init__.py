"""The AWS wire protocols: routing, parsing, validation, serialisation."""
