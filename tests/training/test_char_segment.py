"""Segmentation on lines drawn in the training fonts (TrueType through Pillow, Hershey,
dot-matrix, 7-segment), composed on paper as the line model's data is."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_ocr.segment import segment_line
from training.chars import segmentation_lines, synthetic_fonts
from training.synth import compose, render_line
from training.segment_report import segmentation_accuracy


def test_composed_code_lines_split_into_the_right_number_of_characters() -> None:
    result = segmentation_accuracy(segmentation_lines(200, seed=21))
    accuracy = {key: value["accuracy"] for key, value in result.items()}
    # Measured on 3,000 such lines: see the char-mode figures in the README.
    assert accuracy["all"] >= 0.86, result
    assert accuracy["truetype"] >= 0.85, result
    assert accuracy["apart"] >= 0.86, result


def test_wide_letters_of_a_proportional_font_are_not_cut() -> None:
    """'M' and 'W' are wide, even on a line whose other characters are alike: only a glyph
    group wider than 1.9 typical characters holds touching ones (1.7 split 28 of these 40 right)."""
    font = next(f for f in synthetic_fonts(held_out=False) if f.name == "DejaVuSans")
    correct = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        text = "".join(rng.choice(list("0123456789ABCDEFHKLMNPRSTUVWXYZ"), size=7))
        drawn = render_line(text, font, 30, rng)
        image = np.clip(np.rint(compose(np.pad(drawn.ink, 8), rng)[0]), 0, 255).astype(np.uint8)
        correct += len(segment_line(image).boxes) == len(text)
    assert correct >= 31, f"{correct}/40"


def test_segmentation_lines_are_reproducible() -> None:
    first = [line.text for line in segmentation_lines(5, seed=3)]
    again = [line.text for line in segmentation_lines(5, seed=3)]
    assert first == again
    assert all(line.text.strip() == line.text for line in segmentation_lines(5, seed=3))


def test_segmentation_command_writes_rates_and_a_figure(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from training.cli import app

    result = CliRunner().invoke(
        app, ["segmentation", "--lines", "12", "--seed", "5", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "segmentation.json").read_text())
    assert report["rates"]["all"]["lines"] == 12
    assert report["held_out"] is True
    assert (tmp_path / "segmentation.png").stat().st_size > 10_000
