"""How well ``edge_ocr.segment`` splits generated lines: the rate per print style and a figure.

A line counts as right when the segmenter finds exactly as many characters as it prints (the
issue's measure). The figure shows the rate per style, for lines with and without touching
characters, and example lines with their boxes: green where the count is right, red where not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.segment import segment_line
from training.chars import SegmentationLine

TARGET = 0.99
"""Issue 3: lines split into the right number of characters."""


@dataclass(frozen=True)
class Example:
    """One measured line: what the segmenter saw (normalised, boxes drawn) and whether its
    count was right."""

    image: npt.NDArray[np.uint8]
    text: str
    kind: str
    found: int
    right: bool


def measure(
    lines: Iterable[SegmentationLine], examples_per_kind: int = 1
) -> tuple[dict[str, dict[str, float]], list[Example]]:
    """Rates overall, per style and for touching / apart lines, and a few right and wrong
    examples of each style."""
    tally: dict[str, list[int]] = {}
    examples: list[Example] = []
    shown: dict[tuple[str, bool], int] = {}
    for line in lines:
        segmentation = segment_line(line.image)
        wanted = len(line.text.replace(" ", ""))
        right = len(segmentation.boxes) == wanted
        for key in ("all", line.kind, "touching" if line.touching else "apart"):
            counts = tally.setdefault(key, [0, 0])
            counts[0] += int(right)
            counts[1] += 1
        if shown.get((line.kind, right), 0) < examples_per_kind:
            shown[(line.kind, right)] = shown.get((line.kind, right), 0) + 1
            picture = cv2.cvtColor(segmentation.normalised, cv2.COLOR_GRAY2RGB)
            colour = (60, 220, 60) if right else (240, 50, 50)
            for x, y, w, h in segmentation.boxes:
                cv2.rectangle(picture, (x, y), (x + w - 1, y + h - 1), colour, 1)
            examples.append(Example(picture, line.text, line.kind, len(segmentation.boxes), right))
    rates = {
        key: {"lines": total, "correct": right, "accuracy": round(right / total, 4)}
        for key, (right, total) in sorted(tally.items())
    }
    return rates, examples


def segmentation_accuracy(lines: Iterable[SegmentationLine]) -> dict[str, dict[str, float]]:
    """Share of lines split into exactly as many characters as they print, overall, by print
    style and for lines with touching characters."""
    return measure(lines, examples_per_kind=0)[0]


def plot(rates: dict[str, dict[str, float]], examples: list[Example], out: Path) -> None:
    """Rates as bars against the target, then the example lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys: list[str] = [
        k for k in ("all", "truetype", "hershey", "dot_matrix", "seven_segment") if k in rates
    ]
    keys += [k for k in ("touching", "apart") if k in rates]
    shown = sorted(examples, key=lambda e: e.kind)
    shown = [e for e in shown if e.right][:4] + [e for e in shown if not e.right][:4]
    figure = plt.figure(figsize=(9, 2.6 + 1.1 * len(shown)))
    grid = figure.add_gridspec(1 + len(shown), 1, height_ratios=[2.6] + [1.1] * len(shown))
    bars = figure.add_subplot(grid[0, 0])
    values = [100 * rates[k]["accuracy"] for k in keys]
    colours = ["tab:green" if v >= 100 * TARGET else "tab:red" for v in values]
    bars.bar(range(len(keys)), values, color=colours)
    bars.axhline(100 * TARGET, color="black", linestyle="--", linewidth=1)
    bars.set_xticks(
        range(len(keys)), [f"{k}\n({int(rates[k]['lines'])} lines)" for k in keys], fontsize=8
    )
    bars.set_ylim(min(values) - 5, 100.5)
    bars.set_ylabel("right count, %")
    for index, value in enumerate(values):
        bars.text(index, value + 0.2, f"{value:.1f}", ha="center", fontsize=8)
    bars.set_title(f"lines split into the right number of characters (target {TARGET:.0%})")
    for index, example in enumerate(shown):
        axis = figure.add_subplot(grid[1 + index, 0])
        axis.imshow(example.image)
        axis.set_axis_off()
        wanted = len(example.text.replace(" ", ""))
        axis.set_title(
            f"{example.kind}: {example.text!r}: {example.found} found, {wanted} printed",
            fontsize=8,
            color="darkgreen" if example.right else "darkred",
        )
    figure.tight_layout()
    figure.savefig(out, dpi=80)
    plt.close(figure)
