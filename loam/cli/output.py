"""What the client commands print: coloured tables on a terminal, plain text when piped,
JSON for scripts.

Three formats, picked by ``--output`` (default: ``table`` when stdout is a
terminal, else ``text``):

- ``table``: ``rich`` tables with a header row, coloured unless ``NO_COLOR`` is set;
- ``text``: one line per row, fields separated by tabs, no header (for ``cut`` / ``awk``);
- ``json``: the API's own document (less ``ResponseMetadata``), indented.

Data goes to stdout; notes (progress, log tails, "deleted") go to stderr, so
piping stdout always yields just the data.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

__all__ = ["FORMATS", "Output", "add_output_argument", "cell"]

FORMATS = ("table", "text", "json")


def add_output_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", "-o", choices=FORMATS, default=None,
                        help="table (default on a terminal), text (default when piped) or json")


def cell(value: object) -> str:
    """One value as a table cell: empty for missing, compact JSON for structures."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)
    return str(value)


class Output:
    """Prints rows, records and documents in one of ``FORMATS``."""

    def __init__(self, fmt: str | None = None, stdout: TextIO | None = None,
                 stderr: TextIO | None = None, color: bool | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if fmt is None:
            fmt = "table" if _isatty(self.stdout) else "text"
        if fmt not in FORMATS:
            raise ValueError(f"unknown output format {fmt!r}")
        self.format = fmt
        self._color = color

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Output:
        return cls(getattr(args, "output", None))

    @property
    def is_json(self) -> bool:
        return self.format == "json"

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[object]],
              document: object = None) -> None:
        """Rows under ``columns``; in JSON, ``document`` (the rows' source) instead."""
        if self.format == "json":
            self.json(document if document is not None else
                      [dict(zip(columns, row, strict=True)) for row in rows])
        elif self.format == "text":
            for row in rows:
                print("\t".join(cell(value) for value in row), file=self.stdout)
        else:
            self._rich_table(columns, rows)

    def record(self, fields: Sequence[tuple[str, object]], document: object) -> None:
        """One resource as field / value lines; in JSON, its whole ``document``."""
        if self.format == "json":
            self.json(document)
        elif self.format == "text":
            for name, value in fields:
                print(f"{name}\t{cell(value)}", file=self.stdout)
        else:
            self._rich_table(("FIELD", "VALUE"), fields, header=False)

    def json(self, document: object) -> None:
        print(json.dumps(document, indent=2, default=str), file=self.stdout, flush=True)

    def json_line(self, document: object) -> None:
        print(json.dumps(document, default=str), file=self.stdout, flush=True)

    def line(self, text: str) -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        print(text, file=self.stderr, flush=True)

    def _rich_table(self, columns: Sequence[str], rows: Sequence[Sequence[object]],
                    header: bool = True) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=self.stdout, force_terminal=self._color,
                          no_color=self._color is False, highlight=False, soft_wrap=False)
        table = Table(show_header=header, header_style="bold cyan", box=None,
                      pad_edge=False)
        for index, name in enumerate(columns):
            table.add_column(name, style="bold" if index == 0 else None, overflow="fold")
        for row in rows:
            table.add_row(*(_styled(cell(value)) for value in row))
        console.print(table)


_STATE_STYLES = {"Active": "green", "Successful": "green", "Pending": "yellow",
                 "InProgress": "yellow", "Inactive": "dim", "Failed": "red"}


def _styled(text: str) -> Any:
    from rich.text import Text

    return Text(text, style=_STATE_STYLES.get(text, ""))


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
