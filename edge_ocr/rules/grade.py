"""Print-quality grade A-F from measurable quantities, in the manner of ISO/IEC 15415.

Each line yields five quantities (``edge_ocr/rules/README.md`` has the full method):

- ``margin``: the smallest per-character recognition margin, best minus second-best allowed
  class at the character's strongest frame (``CharDetail.margin``). A print the model reads
  without doubt has margins near 1.
- ``contrast``: ink-to-background contrast of the raw crop, 0-1: the crop's grey levels split by
  Otsu's threshold, difference of the two classes' medians over 255.
- ``completeness``: the weakest character's ink against what its identity predicts. Each read
  character's ink (pixels of the binarised binned line in its column span) is divided by its dot
  count in the 5x7 dot-matrix font, a font-independent measure of how much stroke a character
  carries ('1' little, '8' much), and by the line's median of that ratio. Missing dots, a
  faded or broken stroke drop it; a uniformly faded line is caught by ``contrast`` instead.
- ``spacing``: coefficient of variation of the character pitch (distance between centres of
  neighbouring characters within a word), from connected components of the binarised binned
  line grouped into as many characters as were read.
- ``baseline``: RMS distance of the character bottoms from their fitted straight baseline, in
  character heights (punctuation, which does not stand on the baseline, is left out).

Each quantity is mapped to a 0-1 score by ``Breakpoints`` (``RulesConfig.grading``); a grade is
A (score >= 0.8), B (>= 0.6), C (>= 0.4), D (>= 0.2) or F, and the item's grade is the worst
line's worst quantity, as ISO 15415 takes the lowest parameter grade. Every quantity and score
goes into the event's ``quality`` dict so a user can set their own limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.preprocess import to_gray
from edge_ocr.render import DOT_MATRIX_5X7, Box
from edge_ocr.rules.config import GRADES, GradingConfig
from edge_ocr.rules.constrained import LineDecode
from edge_ocr.segment import ink_mask, segment_line
from edge_ocr.types import LineCrop

QUANTITIES = ("margin", "contrast", "completeness", "spacing", "baseline")
UNMEASURED = -1.0
"""A quantity that could not be measured on a line; it does not count towards the grade."""
OFF_BASELINE = frozenset("-:")
"""Characters that do not stand on the baseline ('.' does, '-' and ':' float)."""

_DOTS = {c: sum(row.count("1") for row in rows) for c, rows in DOT_MATRIX_5X7.items()}


def grade_of(score: float) -> str:
    """A (>= 0.8), B (>= 0.6), C (>= 0.4), D (>= 0.2), F."""
    for grade, limit in zip(GRADES, (0.8, 0.6, 0.4, 0.2), strict=False):
        if score >= limit:
            return grade
    return "F"


@dataclass(frozen=True)
class LineQuality:
    """The measured quantities of one line (see the module docstring)."""

    margin: float
    contrast: float
    completeness: float
    spacing: float
    baseline: float

    def values(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in QUANTITIES}


@dataclass(frozen=True)
class Grade:
    """An item's grade, the quantity that set it, and every quantity with its score."""

    grade: str
    limiting: str
    quality: dict[str, float]


def contrast_of(crop: LineCrop) -> float:
    """Difference of the medians of Otsu's two grey-level classes, 0-1."""
    gray = to_gray(crop)
    if gray.size < 4 or int(gray.max()) - int(gray.min()) < 2:
        return 0.0
    level, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    high = gray[gray > level]
    low = gray[gray <= level]
    if high.size == 0 or low.size == 0:
        return 0.0
    return float(np.median(high) - np.median(low)) / 255.0


def measure_line(decode: LineDecode, crop: LineCrop) -> LineQuality:
    """The five quantities of one read line (``UNMEASURED`` where the segmentation of the crop
    does not agree with the read, see the module docstring)."""
    margin = min((c.margin for c in decode.chars), default=0.0)
    contrast = contrast_of(crop)
    printed = [c for c in decode.text if c != " "]
    segmentation = segment_line(crop)
    if not printed or not segmentation.boxes:
        return LineQuality(margin, contrast, 0.0, UNMEASURED, UNMEASURED)
    mask = ink_mask(segmentation.normalised)
    if len(segmentation.boxes) == len(printed):
        boxes = segmentation.boxes
        completeness = _completeness(mask, boxes, printed)
        spacing = _pitch_spread(boxes, segmentation.spaces)
        baseline = _baseline_spread(boxes, printed, segmentation.band_height)
        return LineQuality(margin, contrast, completeness, spacing, baseline)
    # Touching or broken characters: cut the inked extent into equal cells, one per character
    # read (exact for monospaced and dot-matrix print, approximate for proportional fonts).
    band_top, band_bottom = segmentation.band
    columns = np.flatnonzero(mask[band_top : band_bottom + 1].any(axis=0))
    x0, x1 = int(columns[0]), int(columns[-1]) + 1
    width = (x1 - x0) / len(decode.text)
    cells = [
        (round(x0 + i * width), band_top, max(1, round(width)), band_bottom - band_top + 1)
        for i, c in enumerate(decode.text)
        if c != " "
    ]
    return LineQuality(
        margin, contrast, _completeness(mask, cells, printed), UNMEASURED, UNMEASURED
    )


def _completeness(mask: npt.NDArray[np.bool_], boxes: Sequence[Box], chars: Sequence[str]) -> float:
    """Weakest character's ink per expected dot, over the line's median (letters and digits
    only: punctuation carries too little ink to judge)."""
    ratios = [
        float(mask[y : y + h, x : x + w].sum()) / _DOTS[c]
        for (x, y, w, h), c in zip(boxes, chars, strict=True)
        if c.isalnum() and c in _DOTS
    ]
    if not ratios:
        return UNMEASURED
    typical = float(np.median(ratios))
    return min(1.0, min(ratios) / typical) if typical > 0 else 0.0


def _pitch_spread(boxes: Sequence[Box], spaces: Sequence[int]) -> float:
    """Coefficient of variation of centre-to-centre distances within words."""
    centres = np.array([x + w / 2.0 for x, _, w, _ in boxes])
    if centres.size < 3:
        return 0.0
    pitches = np.diff(centres)
    within = np.array([i + 1 not in spaces for i in range(len(pitches))], dtype=bool)
    pitches = pitches[within]
    if pitches.size < 2:
        return 0.0
    return float(np.std(pitches) / max(1e-6, float(np.mean(pitches))))


def _baseline_spread(boxes: Sequence[Box], chars: Sequence[str], band_height: int) -> float:
    """RMS residual of character bottoms around a fitted line, in text-band heights."""
    kept = [
        (x + w / 2.0, float(y + h), float(h))
        for (x, y, w, h), c in zip(boxes, chars, strict=True)
        if c not in OFF_BASELINE
    ]
    if len(kept) < 3:
        return 0.0
    heights = np.array([k[2] for k in kept])
    tall = heights >= 0.5 * float(np.median(heights))  # '.' is too small to fit a line with
    x = np.array([k[0] for k in kept])[tall]
    y = np.array([k[1] for k in kept])[tall]
    if x.size < 3:
        return 0.0
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    return float(np.sqrt(np.mean(residual**2)) / max(1, band_height))


def grade_item(lines: Sequence[LineQuality], config: GradingConfig) -> Grade:
    """Worst line, worst quantity: the item's grade, its limiting quantity and the quality dict
    (each quantity's worst value over the lines, and its score as ``<name>_score``)."""
    if not lines:
        return Grade("F", "no_lines", {})
    quality: dict[str, float] = {}
    worst_score = 1.0
    limiting = QUANTITIES[0]
    for name in QUANTITIES:
        breakpoints = getattr(config, name)
        measured = [line for line in lines if getattr(line, name) != UNMEASURED]
        if not measured:
            quality[name] = UNMEASURED
            continue
        scores = [breakpoints.score(getattr(line, name)) for line in measured]
        index = int(np.argmin(scores))
        quality[name] = round(float(getattr(measured[index], name)), 4)
        quality[f"{name}_score"] = round(scores[index], 4)
        if scores[index] < worst_score:
            worst_score = scores[index]
            limiting = name
    quality["score"] = round(worst_score, 4)
    return Grade(grade_of(worst_score), limiting, quality)
