"""The rules stage as one call: field templates, OCV verdict, rejects and grade for an item.

``RulesEngine(charset, config, template=..., expected=...)`` is what ``edge-ocr read``,
``edge-ocr run`` and the service build once; ``engine.apply(probabilities, crops)`` then turns
the recognizer's ``T x C`` matrices of one item's lines (top to bottom) into the event fields:
``lines``, ``verdict``, ``grade``, ``detail`` and ``quality``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_ocr.events import LineResult
from edge_ocr.rules.config import GRADES, RulesConfig
from edge_ocr.rules.constrained import LineDecode, ctc_from_characters, decode_line
from edge_ocr.rules.grade import Grade, grade_item, measure_line
from edge_ocr.rules.ocv import (
    FAIL,
    NO_READ,
    PASS,
    ExpectedCode,
    LineCheck,
    unsure_positions,
    verify,
)
from edge_ocr.rules.template import ItemTemplate, TemplateError, parse_template
from edge_ocr.types import FloatArray, LineCrop

if TYPE_CHECKING:
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.recognize import LineRecognizer

    Recognizer = LineRecognizer | CharRecognizer

REJECT_MARK = "?"


def lattice_charset(recognizer: Recognizer) -> str:
    """The charset of the probability lattices ``item_probabilities`` returns: the model's,
    plus ' ' for a char model without one (word gaps come from the segmenter)."""
    charset = recognizer.model.contract.charset
    if recognizer.model.contract.kind == "char" and " " not in charset:
        return charset + " "
    return charset


def item_probabilities(recognizer: Recognizer, crops: Sequence[LineCrop]) -> list[FloatArray]:
    """One ``T x C`` CTC lattice per line crop, in one interpreter call: the line model's output
    as it is, or a char model's per-character output laid out by ``ctc_from_characters``."""
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.segment import char_crops

    if not crops:
        return []
    if not isinstance(recognizer, CharRecognizer):
        binned = np.stack([recognizer.bin(c) for c in crops])
        return list(recognizer.probabilities(binned))
    char_recognizer = recognizer
    segmentations = [char_recognizer.segment(c) for c in crops]
    cuts = [char_crops(s, char_recognizer.segment_config) for s in segmentations]
    flat = [c for cut in cuts for c in cut]
    rows = (
        char_recognizer.probabilities(np.stack([char_recognizer.bin(c) for c in flat]))
        if flat
        else np.zeros((0, len(char_recognizer.charset)), np.float32)
    )
    lattices: list[FloatArray] = []
    start = 0
    for segmentation, cut in zip(segmentations, cuts, strict=True):
        lattice, _ = ctc_from_characters(
            rows[start : start + len(cut)], char_recognizer.charset, segmentation.spaces
        )
        lattices.append(lattice)
        start += len(cut)
    return lattices


@dataclass(frozen=True)
class RulesResult:
    """The rules' view of one item, ready for ``ItemEvent`` (same field names)."""

    lines: tuple[LineResult, ...]
    verdict: str | None
    grade: str | None
    detail: str | None
    quality: dict[str, float] = field(default_factory=dict)
    decodes: tuple[LineDecode, ...] = ()
    """The full decoding behind each line (candidates, costs, per-character margins)."""
    checks: tuple[LineCheck, ...] = ()
    """Per-line verification against the expected code (empty without one)."""


class RulesEngine:
    """Applies the configured rules to the lines of one item at a time.

    ``template``: field template (string or compiled), which constrains decoding line by line.
    ``expected``: the expected code (string, compiled, or an ``ExpectedCode`` that may change
    at run time); with it every item gets a verdict. With neither, items still get rejects and a
    grade, and no verdict. ``grading=False`` skips the image measurements.
    """

    def __init__(
        self,
        charset: str,
        config: RulesConfig | None = None,
        template: str | ItemTemplate | None = None,
        expected: str | ItemTemplate | ExpectedCode | None = None,
        grading: bool = True,
    ) -> None:
        self.charset = charset
        self.config = config or RulesConfig()
        self.template = parse_template(template, charset) if isinstance(template, str) else template
        if isinstance(expected, ExpectedCode):
            self.expected: ExpectedCode | None = expected
        elif expected is None:
            self.expected = None
        else:
            holder = ExpectedCode(charset=charset)
            if isinstance(expected, str):
                holder.set(expected)
            else:
                holder.set(str(expected))
            self.expected = holder
        self.grading = grading
        current = self.expected.current() if self.expected is not None else None
        if self.template is not None and current is not None:
            self.check_line_counts(current)

    @classmethod
    def from_options(
        cls,
        charset: str,
        config: RulesConfig | None = None,
        template: str | None = None,
        expect: str | None = None,
        expect_file: Path | str | None = None,
        grading: bool = True,
    ) -> RulesEngine:
        """What a command line or a config file gives: raises ``TemplateError`` with a one-line
        message for a bad template, expected code or file."""
        if expect is not None and expect_file is not None:
            raise TemplateError("give the expected code as text or as a file, not both")
        expected = None
        if expect is not None or expect_file is not None:
            expected = ExpectedCode(text=expect, path=expect_file, charset=charset)
        return cls(charset, config, template, expected, grading)

    def check_line_counts(self, expected: ItemTemplate) -> None:
        assert self.template is not None
        if len(self.template.lines) != len(expected.lines):
            raise TemplateError(
                f"the template has {len(self.template.lines)} line(s) but the expected code "
                f"has {len(expected.lines)}"
            )

    @property
    def lines_per_item(self) -> int:
        """Lines of an item: the template's, else the expected code's, else 1."""
        if self.template is not None:
            return len(self.template.lines)
        current = self.expected.current() if self.expected is not None else None
        return len(current.lines) if current is not None else 1

    @property
    def verifies(self) -> bool:
        """True when items get a verdict (a template or an expected code is set)."""
        return self.template is not None or self.expected is not None

    @classmethod
    def for_recognizer(
        cls,
        recognizer: Recognizer,
        config: RulesConfig | None = None,
        template: str | None = None,
        expect: str | None = None,
        expect_file: Path | str | None = None,
        grading: bool = True,
    ) -> RulesEngine:
        """``from_options`` with the charset the recognizer's lattices use."""
        return cls.from_options(
            lattice_charset(recognizer), config, template, expect, expect_file, grading
        )

    def read(self, recognizer: Recognizer, crops: Sequence[LineCrop]) -> RulesResult:
        """Recognize (one batched call) and apply the rules to one item's line crops."""
        return self.apply(item_probabilities(recognizer, crops), crops)

    def apply(
        self, probabilities: Sequence[FloatArray], crops: Sequence[LineCrop] | None = None
    ) -> RulesResult:
        """Decode, verify and grade one item from its lines' ``T x C`` probability matrices and
        raw crops (top to bottom; the grade measures contrast and geometry on the crops, and
        without crops there is no grade)."""
        if crops is not None and len(crops) != len(probabilities):
            raise ValueError(f"{len(probabilities)} probability matrices for {len(crops)} crops")
        templates = self.template.lines if self.template is not None else ()
        decodes = tuple(
            decode_line(
                probs, self.charset, templates[i] if i < len(templates) else None, self.config
            )
            for i, probs in enumerate(probabilities)
        )
        lines = tuple(self._line_result(d) for d in decodes)
        grade: Grade | None = None
        if self.grading and crops:  # no crops, or no lines: nothing to grade
            grade = grade_item(
                [measure_line(d, c) for d, c in zip(decodes, crops, strict=True)],
                self.config.grading,
            )
        verdict, detail, checks = self._verdict(decodes, probabilities)
        if verdict == PASS and grade is not None and self.config.pass_min_grade is not None:
            limit = self.config.pass_min_grade
            if GRADES.index(grade.grade) > GRADES.index(limit):
                verdict = FAIL
                value = grade.quality.get(grade.limiting, 0.0)
                detail = (
                    f"print quality grade {grade.grade} is below {limit} "
                    f"({grade.limiting} {value:.2f})"
                )
        return RulesResult(
            lines,
            verdict,
            grade.grade if grade is not None else None,
            detail,
            dict(grade.quality) if grade is not None else {},
            decodes,
            checks,
        )

    def _line_result(self, decode: LineDecode) -> LineResult:
        rejected = set(unsure_positions(decode, self.config))
        text = "".join(REJECT_MARK if i in rejected else c for i, c in enumerate(decode.text))
        return LineResult(
            text, decode.confidence, tuple(round(c.confidence, 4) for c in decode.chars)
        )

    def _verdict(
        self, decodes: Sequence[LineDecode], probabilities: Sequence[FloatArray]
    ) -> tuple[str | None, str | None, tuple[LineCheck, ...]]:
        if self.expected is not None:
            expected = self.expected.current()
            if expected is None:
                return NO_READ, "no expected code set", ()
            result = verify(expected, decodes, probabilities, self.charset, self.config)
            return result.verdict, result.detail, result.lines
        if self.template is None:
            return None, None, ()
        return (*self._template_verdict(decodes), ())

    def _template_verdict(self, decodes: Sequence[LineDecode]) -> tuple[str, str | None]:
        """Without an expected code, the verdict says whether the print fits the template."""
        assert self.template is not None
        if not decodes:
            return NO_READ, "no text read"
        if len(decodes) != len(self.template.lines):
            return NO_READ, f"template has {len(self.template.lines)} line(s), read {len(decodes)}"
        failures: list[str] = []
        doubts: list[str] = []
        for number, (decode, line) in enumerate(zip(decodes, self.template.lines, strict=True), 1):
            unsure = unsure_positions(decode, self.config)
            low = decode.confidence < self.config.line_reject
            if decode.template_matched:
                if unsure:
                    doubts.append(
                        f"line {number}, position {unsure[0] + 1}: {decode.text[unsure[0]]!r} "
                        f"is uncertain"
                    )
                elif low:
                    doubts.append(f"line {number}: confidence {decode.confidence:.2f}")
                continue
            mismatch = line.mismatch(decode.text)
            where = (
                f"position {mismatch.position + 1}: {mismatch.reason}"
                if mismatch is not None
                else decode.problem or "no allowed string close enough"
            )
            message = f"line {number} does not fit {line.source!r}: {where}"
            if unsure or low:
                doubts.append(message + " (uncertain read)")
            else:
                failures.append(message)
        if failures:
            return FAIL, "; ".join(failures)
        if doubts:
            return NO_READ, "; ".join(doubts)
        return PASS, None
