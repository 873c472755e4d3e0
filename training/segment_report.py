"""How well ``edge_ocr.segment`` splits generated lines: the rate per print style and a figure.

A line counts as right when the segmenter finds exactly as many characters as it prints (the
issue's measure). Each line is measured with the classical segmenter and, given a character
classifier, with classifier-guided segmentation (``edge_ocr.segment_guided``) started from the
same classical boxes. The figure shows the rates per style, for lines with and without
touching characters, and example lines with their boxes (guided where measured): green where
the count is right, red where not.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.segment import Segmentation, segment_line
from edge_ocr.segment_guided import GuidedSegmenter, build_lattice
from training.chars import SegmentationLine

TARGET = 0.99
"""Issue 3: lines split into the right number of characters."""
CHUNK = 64
"""Lines whose guided candidates go through the classifier in one call."""


@dataclass(frozen=True)
class Example:
    """One measured line: what the segmenter saw (normalised, boxes drawn) and whether its
    count was right."""

    image: npt.NDArray[np.uint8]
    text: str
    kind: str
    found: int
    right: bool


Rates = dict[str, dict[str, float]]
"""Per key ("all", a print style, "touching" / "apart"): lines, correct and accuracy."""


def segmented(
    lines: Iterable[SegmentationLine], guide: GuidedSegmenter | None
) -> Iterator[tuple[SegmentationLine, Segmentation, Segmentation | None]]:
    """Each line with its classical segmentation and, given a guide, its guided one (the
    candidates of ``CHUNK`` lines classified per call)."""
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, CHUNK)):
        classical = [segment_line(line.image) for line in chunk]
        guided: list[Segmentation | None] = [None] * len(chunk)
        if guide is not None:
            lattices = [build_lattice(s, guide.config, guide.segment_config) for s in classical]
            guided = [g.segmentation for g in guide.choose(lattices)]
        yield from zip(chunk, classical, guided, strict=True)


def _tally(tally: dict[str, list[int]], line: SegmentationLine, right: bool) -> None:
    for key in ("all", line.kind, "touching" if line.touching else "apart"):
        counts = tally.setdefault(key, [0, 0])
        counts[0] += int(right)
        counts[1] += 1


def _rates(tally: dict[str, list[int]]) -> Rates:
    return {
        key: {"lines": total, "correct": right, "accuracy": round(right / total, 4)}
        for key, (right, total) in sorted(tally.items())
    }


def measure(
    lines: Iterable[SegmentationLine],
    examples_per_kind: int = 1,
    guide: GuidedSegmenter | None = None,
) -> tuple[Rates, Rates | None, list[Example]]:
    """Classical rates and, given a guide, guided rates: overall, per style and for touching
    / apart lines; and a few right and wrong examples of each style (guided where measured)."""
    tallies: dict[str, dict[str, list[int]]] = {"classical": {}, "guided": {}}
    examples: list[Example] = []
    shown: dict[tuple[str, bool], int] = {}
    for line, classical, guided in segmented(lines, guide):
        wanted = len(line.text.replace(" ", ""))
        _tally(tallies["classical"], line, len(classical.boxes) == wanted)
        if guided is not None:
            _tally(tallies["guided"], line, len(guided.boxes) == wanted)
        final = guided or classical
        right = len(final.boxes) == wanted
        if shown.get((line.kind, right), 0) < examples_per_kind:
            shown[(line.kind, right)] = shown.get((line.kind, right), 0) + 1
            examples.append(_example(line, final, right))
    guided_rates = _rates(tallies["guided"]) if guide is not None else None
    return _rates(tallies["classical"]), guided_rates, examples


def _example(line: SegmentationLine, segmentation: Segmentation, right: bool) -> Example:
    picture = cv2.cvtColor(segmentation.normalised, cv2.COLOR_GRAY2RGB)
    colour = (60, 220, 60) if right else (240, 50, 50)
    for x, y, w, h in segmentation.boxes:
        cv2.rectangle(picture, (x, y), (x + w - 1, y + h - 1), colour, 1)
    return Example(picture, line.text, line.kind, len(segmentation.boxes), right)


def segmentation_accuracy(lines: Iterable[SegmentationLine]) -> Rates:
    """Share of lines the classical segmenter splits into exactly as many characters as they
    print, overall, by print style and for lines with touching characters."""
    return measure(lines, examples_per_kind=0)[0]


def plot(rates: Rates, guided: Rates | None, examples: list[Example], out: Path) -> None:
    """Rates as bars against the target (classical and, where measured, guided side by side),
    then the example lines."""
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
    series = [("classical", rates)] + ([("guided", guided)] if guided is not None else [])
    step = 0.8 / len(series)
    lowest = 100.0
    for number, (name, measured) in enumerate(series):
        values = [100 * measured[k]["accuracy"] for k in keys]
        lowest = min(lowest, *values)
        positions = [i + (number - (len(series) - 1) / 2) * step for i in range(len(keys))]
        final = number == len(series) - 1  # coloured against the target; classical grey
        colours = [
            ("tab:green" if v >= 100 * TARGET else "tab:red") if final else "silver" for v in values
        ]
        bars.bar(positions, values, width=step, color=colours, label=name)
        for position, value in zip(positions, values, strict=True):
            bars.text(position, value + 0.2, f"{value:.1f}", ha="center", fontsize=7)
    bars.axhline(100 * TARGET, color="black", linestyle="--", linewidth=1)
    bars.set_xticks(
        range(len(keys)), [f"{k}\n({int(rates[k]['lines'])} lines)" for k in keys], fontsize=8
    )
    bars.set_ylim(lowest - 5, 100.5)
    bars.set_ylabel("right count, %")
    if guided is not None:
        bars.legend(fontsize=7, loc="lower right")
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
