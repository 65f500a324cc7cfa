"""``loam tune``'s charts: text bars for the terminal and a small PNG.

The PNG is written with the standard library (zlib + the PNG chunk format,
RGB, 8 bits, no interlace): two panels one above the other, average
duration (blue) and cost per invocation (orange) for each memory size, on a
grid of quarters of the panel's largest value. Under each pair of bars the
memory size in MB, and at each panel's top left its largest value (ms, then
USD per 1M invocations), drawn with a 3×5 pixel digit font.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from loam.cli.connection import UsageError

if TYPE_CHECKING:
    from loam.cli.tune import SizeResult

__all__ = ["PNG_SIGNATURE", "check_target", "encode_png", "png_chart", "terminal_chart"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAR_WIDTH = 30  # characters of the longest terminal bar

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)
GRID: Colour = (220, 220, 220)
AXIS: Colour = (60, 60, 60)
DURATION: Colour = (52, 101, 164)
COST: Colour = (230, 126, 34)

# 3×5 glyphs, one string of 15 pixels per character, row by row.
_GLYPHS = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111",
    "3": "111001111001111", "4": "101101111001001", "5": "111100111001111",
    "6": "111100111101111", "7": "111001001001001", "8": "111101111101111",
    "9": "111101111001111", ".": "000000000000010", "$": "011110010011110",
    "m": "000000111111101", "s": "000011010001110", " ": "000000000000000",
    "/": "001001010100100", "M": "101111111101101",
}
_SCALE = 2  # glyph pixels per font pixel
_PANEL_H, _SLOT_W, _BAR_W, _MARGIN = 160, 48, 14, 24


def check_target(path: Path) -> None:
    """Fail before the run, not after it, when the PNG cannot be written there."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--chart {path}: expected a file name ending in .png")
    if not path.parent.resolve().is_dir():
        raise UsageError(f"--chart {path}: the directory {path.parent} does not exist")


def terminal_chart(results: Sequence[SizeResult]) -> list[str]:
    """Two bar charts, duration then cost per 1M invocations, one bar per memory size."""
    lines: list[str] = []
    longest_ms = max(r.average_ms for r in results) or 1.0
    longest_cost = max(r.cost for r in results) or Decimal(1)
    lines.append("average duration (ms)")
    for r in results:
        lines.append(f"{r.memory_mb:>6} MB {_bar(r.average_ms / longest_ms)} "
                     f"{r.average_ms:.2f}")
    lines.append("cost per 1M invocations (USD)")
    for r in results:
        lines.append(f"{r.memory_mb:>6} MB {_bar(float(r.cost / longest_cost))} "
                     f"{r.cost * 1_000_000:.4f}")
    return lines


def _bar(fraction: float) -> str:
    eighths = round(max(0.0, min(1.0, fraction)) * BAR_WIDTH * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(BAR_WIDTH)


class _Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(WHITE) * (width * height))

    def fill(self, x0: int, y0: int, x1: int, y1: int, colour: Colour) -> None:
        """Fill [x0, x1) × [y0, y1), clipped to the canvas."""
        x0, x1 = max(0, x0), min(self.width, x1)
        if x1 <= x0:
            return
        row = bytes(colour) * (x1 - x0)
        for y in range(max(0, y0), min(self.height, y1)):
            start = (y * self.width + x0) * 3
            self.pixels[start:start + len(row)] = row

    def text(self, x: int, y: int, text: str, colour: Colour = AXIS) -> None:
        for index, char in enumerate(text):
            glyph = _GLYPHS.get(char, _GLYPHS[" "])
            left = x + index * 4 * _SCALE
            for bit, on in enumerate(glyph):
                if on == "1":
                    px, py = left + bit % 3 * _SCALE, y + bit // 3 * _SCALE
                    self.fill(px, py, px + _SCALE, py + _SCALE, colour)


def png_chart(results: Sequence[SizeResult]) -> bytes:
    """Duration and cost against memory, as PNG bytes."""
    width = 2 * _MARGIN + max(1, len(results)) * _SLOT_W
    label_h = 8 * _SCALE
    height = 2 * (_PANEL_H + label_h + _MARGIN) + _MARGIN
    canvas = _Canvas(width, height)
    panels = [([r.average_ms for r in results], DURATION,
               f"{max(r.average_ms for r in results):.1f}ms"),
              ([float(r.cost * 1_000_000) for r in results], COST,
               f"${max(r.cost for r in results) * 1_000_000:.4f}/1M")]
    for index, (values, colour, label) in enumerate(panels):
        top = _MARGIN + index * (_PANEL_H + label_h + _MARGIN)
        _panel(canvas, top, values, colour, label, [r.memory_mb for r in results])
    return encode_png(width, height, bytes(canvas.pixels))


def _panel(canvas: _Canvas, top: int, values: Sequence[float], colour: Colour, label: str,
           sizes: Sequence[int]) -> None:
    bottom = top + _PANEL_H
    left, right = _MARGIN, canvas.width - _MARGIN
    for quarter in range(5):
        y = bottom - quarter * _PANEL_H // 4
        canvas.fill(left, y, right, y + 1, GRID)
    canvas.fill(left, top, left + 1, bottom + 1, AXIS)
    canvas.fill(left, bottom, right, bottom + 1, AXIS)
    canvas.text(left + 4, top - 6 * _SCALE, label)
    highest = max(values) or 1.0
    for slot, (value, size) in enumerate(zip(values, sizes, strict=True)):
        centre = left + slot * _SLOT_W + _SLOT_W // 2
        bar_h = max(1, round(value / highest * (_PANEL_H - 4)))
        canvas.fill(centre - _BAR_W // 2, bottom - bar_h, centre + _BAR_W // 2, bottom, colour)
        text = str(size)
        canvas.text(centre - len(text) * 2 * _SCALE, bottom + 3, text)


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (rows top to bottom, 3 bytes a pixel)."""
    if len(rgb) != width * height * 3:
        raise ValueError("pixel data does not match the size")
    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride:(y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9))
            + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
