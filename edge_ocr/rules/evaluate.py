"""OCV on a synthetic production stream: how often wrong codes fail and good codes pass.

A stream of items carries an expected code drawn from an item template, changed every
``batch_items`` items through ``ExpectedCode.set`` (as the firmware bridge would). Most items
are printed correctly; ``wrong_rate`` carry a wrong code (one character changed within its
field's class, or a different valid date) and ``degraded_rate`` a badly degraded print of the
right code (a fifth to nearly half of the ink erased in blotches, uneven fading, low contrast,
blur and noise). Every line crop is read with the real ``LineRecognizer`` and judged by
``RulesEngine``.

Glyphs come from ``edge_ocr.render`` by default (numpy and OpenCV only, so the evaluation runs
on a device); ``training.calibration.held_out_draw`` draws with the held-out training fonts.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.recognize import LineRecognizer
from edge_ocr.render import render_dot_matrix, render_hershey
from edge_ocr.rules.config import RulesConfig
from edge_ocr.rules.engine import RulesEngine, RulesResult
from edge_ocr.rules.ocv import ExpectedCode
from edge_ocr.rules.template import (
    MONTH_NAMES,
    ItemTemplate,
    LineTemplate,
    parse_template,
    sample_line,
)
from edge_ocr.types import LineCrop

Ink = npt.NDArray[np.float32]
Draw = Callable[[str, np.random.Generator], tuple[Ink, int]]
"""Draws a text: (ink coverage 0-1 with 1 = ink, capital height in pixels)."""

GOOD, WRONG, DEGRADED = "good", "wrong", "degraded"
DEFAULT_TEMPLATE = "LOT [A-Z0-9]{7} | EXP {date:YYYY-MM-DD}"


def runtime_draw(text: str, rng: np.random.Generator) -> tuple[Ink, int]:
    """Dot-matrix or Hershey triplex (a font the bundled model never trained on)."""
    char_height = int(rng.integers(20, 40))
    if rng.random() < 0.5:
        return render_dot_matrix(text, char_height, rng).ink, char_height
    italic = bool(rng.random() < 0.3)
    return render_hershey(text, char_height, cv2.FONT_HERSHEY_TRIPLEX, italic, rng).ink, char_height


def _margins(ink: Ink, char_height: int, rng: np.random.Generator) -> Ink:
    """Cut around the ink with a locator's margins: some background on every side."""
    mask = ink > 0.2
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return ink
    pad = char_height
    padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    top, bottom = (int(rng.uniform(0.15, 0.45) * char_height) for _ in range(2))
    left, right = (int(rng.uniform(0.2, 0.8) * char_height) for _ in range(2))
    cut: Ink = padded[
        rows[0] + pad - top : rows[-1] + 1 + pad + bottom,
        cols[0] + pad - left : cols[-1] + 1 + pad + right,
    ]
    return cut


def _finish(
    ink: Ink, contrast: float, blur: float, noise: float, rng: np.random.Generator
) -> LineCrop:
    """Dark ink on light paper (one in five light on dark), blurred, with sensor noise."""
    paper = rng.uniform(max(0.55, contrast + 0.05), 1.0)
    image = paper - contrast * ink
    if rng.random() < 0.2:
        image = 1.0 - image
    image = image * 255.0
    if blur > 0:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    image = image + rng.normal(0.0, noise, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def good_print(ink: Ink, char_height: int, rng: np.random.Generator) -> LineCrop:
    """A sound print under steady light: fair contrast, slight blur and noise."""
    ink = _margins(ink, char_height, rng)
    blur = rng.uniform(0.0, 0.6) * char_height / 24
    return _finish(ink, rng.uniform(0.4, 0.85), blur, rng.uniform(1.0, 6.0), rng)


def damage(ink: Ink, char_height: int, rng: np.random.Generator) -> Ink:
    """Erase blotches until a fifth to nearly half of the ink is gone (missing dots, a
    clogged nozzle, a scuffed pack), then fade what is left unevenly."""
    damaged = ink.copy()
    total = float(ink.sum())
    target = rng.uniform(0.2, 0.45)
    ys, xs = np.nonzero(ink > 0.3)
    for _ in range(400):
        if ys.size == 0 or float(damaged.sum()) <= (1.0 - target) * total:
            break
        pick = int(rng.integers(ys.size))
        radius = max(1, int(rng.uniform(0.08, 0.2) * char_height))
        cv2.circle(damaged, (int(xs[pick]), int(ys[pick])), radius, 0.0, -1)
    fade = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(0.5, 1.0), damaged.shape[1])
    faded: Ink = (damaged * fade[np.newaxis, :]).astype(np.float32)
    return faded


def degraded_print(ink: Ink, char_height: int, rng: np.random.Generator) -> LineCrop:
    """A badly degraded print, still partly legible to a person: damaged ink, low contrast,
    blur and noise."""
    ink = _margins(damage(ink, char_height, rng), char_height, rng)
    blur = rng.uniform(0.4, 1.0) * char_height / 24
    return _finish(ink, rng.uniform(0.15, 0.3), blur, rng.uniform(3.0, 8.0), rng)


def _wrong_line(line: LineTemplate, text: str, rng: np.random.Generator) -> str:
    """The same line with one character changed within its slot's class, or (for a line with a
    date, half the time) a different valid date. The result still fits the template."""
    date_fields = [f for f in line.fields if f.kind == "date"]
    if date_fields and rng.random() < 0.5 and len(text) == line.end:
        field_ = date_fields[int(rng.integers(len(date_fields)))]
        start = field_.first_slot
        for _ in range(50):
            shift = int(rng.integers(1, 400)) * (1 if rng.random() < 0.5 else -1)
            value = _shift_date(text[start : start + field_.length], field_.tokens, shift)
            if value is not None and value != text[start : start + field_.length]:
                candidate = text[:start] + value + text[start + field_.length :]
                if line.match(candidate):
                    return candidate
    # One character: walk the slots the text used and pick one with a choice.
    states = line.start
    choices: list[tuple[int, list[str]]] = []
    for position, char in enumerate(text):
        allowed = sorted(line.allowed(states) - {char, " "})
        if allowed:
            choices.append((position, allowed))
        states = line.step(states, char)
    for _ in range(50):
        position, allowed = choices[int(rng.integers(len(choices)))]
        candidate = (
            text[:position] + allowed[int(rng.integers(len(allowed)))] + text[position + 1 :]
        )
        if candidate != text and line.match(candidate):
            return candidate
    raise ValueError(f"cannot make a wrong code from {text!r} that fits {line.source!r}")


def _shift_date(value: str, tokens: tuple[str, ...], days: int) -> str | None:
    parts: dict[str, int] = {}
    position = 0
    for token in tokens:
        part = value[position : position + len(token)]
        position += len(token)
        if token == "MON":
            parts["month"] = MONTH_NAMES.index(part) + 1
        elif token in ("YYYY", "YY", "MM", "DD"):
            parts[token] = int(part)
    year = parts.get("YYYY", 2000 + parts.get("YY", 0))
    try:
        day = dt.date(year, parts.get("MM", parts.get("month", 1)), parts.get("DD", 1))
        day += dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return None
    values = {
        "YYYY": f"{day.year:04d}",
        "YY": f"{day.year % 100:02d}",
        "MM": f"{day.month:02d}",
        "DD": f"{day.day:02d}",
        "MON": MONTH_NAMES[day.month - 1],
    }
    return "".join(values.get(token, token) for token in tokens)


@dataclass(frozen=True)
class OcvEvaluation:
    """Counts of verdicts and grades per kind of item, and the headline rates."""

    items: int
    verdicts: dict[str, dict[str, int]]
    grades: dict[str, dict[str, int]]
    seconds: float
    examples: tuple[dict[str, Any], ...] = field(default=())
    fail_evidence: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Per kind, the evidence (nats) of every item called ``fail``: with a higher
    ``RulesConfig.fail_evidence`` exactly those under it would turn ``no-read``, so this is what
    the threshold is chosen from (``fail_rate_at``)."""
    degraded_false_passes: int = 0

    def rate(self, kind: str, verdict: str) -> float:
        counts = self.verdicts.get(kind, {})
        total = sum(counts.values())
        return counts.get(verdict, 0) / total if total else 0.0

    @property
    def wrong_fail_rate(self) -> float:
        """Share of wrong codes called ``fail`` (target >= 0.99)."""
        return self.rate(WRONG, "fail")

    @property
    def good_fail_rate(self) -> float:
        """Share of good codes called ``fail`` (target <= 0.005)."""
        return self.rate(GOOD, "fail")

    @property
    def degraded_false_pass_rate(self) -> float:
        """Share of badly degraded prints that ``pass`` with a grade of A, B or C."""
        return self.degraded_false_passes / max(1, sum(self.verdicts.get(DEGRADED, {}).values()))

    def fail_rate_at(self, kind: str, threshold: float) -> float:
        """Share of ``kind`` items that would fail with ``fail_evidence`` raised to
        ``threshold`` (valid at or above the threshold the stream was run with)."""
        total = sum(self.verdicts.get(kind, {}).values())
        failing = sum(1 for e in self.fail_evidence.get(kind, ()) if e >= threshold)
        return failing / total if total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "verdicts": self.verdicts,
            "grades": self.grades,
            "wrong_fail_rate": round(self.wrong_fail_rate, 5),
            "good_fail_rate": round(self.good_fail_rate, 5),
            "good_pass_rate": round(self.rate(GOOD, "pass"), 5),
            "good_no_read_rate": round(self.rate(GOOD, "no-read"), 5),
            "degraded_false_pass_rate": round(self.degraded_false_pass_rate, 5),
            "degraded_no_read_or_low_grade_rate": round(1.0 - self.degraded_false_pass_rate, 5),
            "fail_rate_at_threshold": {
                kind: {str(t): round(self.fail_rate_at(kind, t), 5) for t in (4, 5, 6, 7, 8, 9)}
                for kind in (GOOD, WRONG)
            },
            "seconds": round(self.seconds, 2),
            "examples": list(self.examples),
        }


@dataclass
class _Item:
    kind: str
    expected: str
    printed: list[str]
    crops: list[LineCrop]


class _Tally:
    """Running counts of the stream."""

    def __init__(self) -> None:
        kinds = (GOOD, WRONG, DEGRADED)
        self.verdicts: dict[str, Counter[str]] = {k: Counter() for k in kinds}
        self.grades: dict[str, Counter[str]] = {k: Counter() for k in kinds}
        self.fail_evidence: dict[str, list[float]] = {k: [] for k in kinds}
        self.examples: list[dict[str, Any]] = []
        self.false_passes = 0

    def add(self, item: _Item, result: RulesResult) -> None:
        kind = item.kind
        verdict = result.verdict or "none"
        self.verdicts[kind][verdict] += 1
        self.grades[kind][result.grade or "none"] += 1
        if verdict == "fail":
            strongest = max((c.evidence for c in result.checks), default=0.0)
            self.fail_evidence[kind].append(round(strongest, 3))
        if kind == DEGRADED and verdict == "pass" and result.grade in ("A", "B", "C"):
            self.false_passes += 1
        clean = (kind == GOOD and verdict == "pass") or (kind == WRONG and verdict == "fail")
        if not clean or kind == DEGRADED:
            self.examples.append(
                {
                    "kind": kind,
                    "expected": item.expected,
                    "printed": " | ".join(item.printed),
                    "read": " | ".join(d.text for d in result.decodes),
                    "verdict": verdict,
                    "grade": result.grade,
                    "detail": result.detail,
                    "quality": result.quality,
                }
            )


def _kind(rng: np.random.Generator, wrong_rate: float, degraded_rate: float) -> str:
    draw = rng.random()
    if draw < wrong_rate:
        return WRONG
    return DEGRADED if draw < wrong_rate + degraded_rate else GOOD


def evaluate_ocv(
    recognizer: LineRecognizer,
    template: str = DEFAULT_TEMPLATE,
    items: int = 2000,
    seed: int = 0,
    wrong_rate: float = 0.05,
    degraded_rate: float = 0.05,
    config: RulesConfig | None = None,
    draw: Draw | None = None,
    use_template: bool = True,
    batch_items: int = 100,
    chunk: int = 64,
) -> OcvEvaluation:
    """Run the synthetic OCV stream (module docstring) and count verdicts and grades.

    ``use_template``: read with ``template`` as the field template too (fielding and OCV
    together), or verify the plain greedy reads. ``examples`` keeps every item that was not a
    clean good pass or a wrong-code fail, plus every degraded item, for inspection.
    """
    started = time.monotonic()
    charset = recognizer.model.contract.charset
    item_template: ItemTemplate = parse_template(template, charset)
    rng = np.random.default_rng(seed)
    draw = draw or runtime_draw
    expected = ExpectedCode(charset=charset)
    engine = RulesEngine(
        charset, config, item_template if use_template else None, expected, grading=True
    )
    tally = _Tally()
    code: list[str] = []
    pending: list[_Item] = []

    def flush() -> None:
        crops = [crop for item in pending for crop in item.crops]
        probabilities = recognizer.probabilities(np.stack([recognizer.bin(c) for c in crops]))
        row = 0
        for item in pending:
            if str(expected.current()) != item.expected:
                expected.set(item.expected)  # as the firmware bridge's SET_EXPECTED would
            count = len(item.crops)
            tally.add(item, engine.apply(list(probabilities[row : row + count]), item.crops))
            row += count
        pending.clear()

    for index in range(items):
        if index % batch_items == 0:
            code = [sample_line(line, rng) for line in item_template.lines]
        kind = _kind(rng, wrong_rate, degraded_rate)
        printed = list(code)
        if kind == WRONG:
            which = int(rng.integers(len(printed)))
            printed[which] = _wrong_line(item_template.lines[which], printed[which], rng)
        maker = degraded_print if kind == DEGRADED else good_print
        crops = [maker(*draw(text, rng), rng) for text in printed]
        pending.append(_Item(kind, " | ".join(code), printed, crops))
        if len(pending) >= chunk:
            flush()
    if pending:
        flush()
    return OcvEvaluation(
        items,
        {k: dict(v) for k, v in tally.verdicts.items()},
        {k: dict(v) for k, v in tally.grades.items()},
        time.monotonic() - started,
        tuple(tally.examples),
        {k: tuple(values) for k, values in tally.fail_evidence.items()},
        tally.false_passes,
    )
