"""Field rules, OCV verdicts, confidence rejects and print-quality grades (numpy/OpenCV only).

The one entry point the commands and the pipeline need::

    engine = RulesEngine.from_options(charset, RulesConfig(), template=..., expect=...)
    result = engine.apply(probabilities_of_the_item_lines, crops_of_the_item_lines)
    # result.lines, result.verdict, result.grade, result.detail, result.quality

The pattern language and the grading method are documented in ``edge_ocr/rules/README.md``.
"""

from __future__ import annotations

from edge_ocr.rules.config import Breakpoints, GradingConfig, RulesConfig, RulesConfigError
from edge_ocr.rules.constrained import LineDecode, ctc_from_characters, decode_line
from edge_ocr.rules.engine import RulesEngine, RulesResult
from edge_ocr.rules.ocv import ExpectedCode, parse_expected
from edge_ocr.rules.settings import RulesSettings, SetExpected
from edge_ocr.rules.template import ItemTemplate, LineTemplate, TemplateError, parse_template
from edge_ocr.rules.tracking import TrackedRules, lattice_reads

__all__ = [
    "Breakpoints",
    "ExpectedCode",
    "GradingConfig",
    "ItemTemplate",
    "LineDecode",
    "LineTemplate",
    "RulesConfig",
    "RulesConfigError",
    "RulesEngine",
    "RulesResult",
    "RulesSettings",
    "SetExpected",
    "TemplateError",
    "TrackedRules",
    "ctc_from_characters",
    "decode_line",
    "lattice_reads",
    "parse_expected",
    "parse_template",
]
