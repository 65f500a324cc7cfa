"""``benchmarks/report.py``: each benchmark rewrites only its own section."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report import percentile, spread, write_section


def test_sections_are_appended_then_replaced_in_place(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nOld numbers from before the sections.\n")
    write_section("cold", "## Cold\n\n1 ms", doc)
    write_section("warm", "## Warm\n\n2 ms", doc)
    assert "Old numbers" not in doc.read_text()  # replaced by the header: it had no sections
    write_section("cold", "## Cold\n\n3 ms", doc)
    doc.write_text(doc.read_text() + "\nHand-written analysis.\n")
    write_section("warm", "## Warm\n\n4 ms", doc)
    text = doc.read_text()
    assert "<!-- bench:cold -->\n## Cold\n\n3 ms\n<!-- /bench:cold -->" in text
    assert "<!-- bench:warm -->\n## Warm\n\n4 ms\n<!-- /bench:warm -->" in text
    assert text.index("bench:cold") < text.index("bench:warm") < text.index("Hand-written")
    assert "1 ms" not in text and "2 ms" not in text


def test_percentile_and_spread() -> None:
    samples = [float(x) for x in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile([7.0], 99) == 7
    assert spread([3.0, 1.0, 2.0], "{:.0f}") == "1 / 2 / 3"
