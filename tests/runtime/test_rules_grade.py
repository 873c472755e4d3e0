"""Print-quality grading: breakpoints, the measured quantities, worst-of grading, config."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.render import render_dot_matrix, render_hershey
from edge_ocr.rules.config import Breakpoints, GradingConfig, RulesConfig, RulesConfigError
from edge_ocr.rules.constrained import decode_line
from edge_ocr.rules.engine import RulesEngine
from edge_ocr.rules.evaluate import damage
from edge_ocr.rules.grade import (
    UNMEASURED,
    LineQuality,
    contrast_of,
    grade_item,
    grade_of,
    measure_line,
)

INDEX = {c: i + 1 for i, c in enumerate(DEFAULT_CHARSET)}


def sure_matrix(text: str) -> np.ndarray:
    classes = len(DEFAULT_CHARSET) + 1
    frames = [np.eye(classes, dtype=np.float32)[0]]
    for char in text:
        frame = np.zeros(classes, np.float32)
        frame[INDEX[char]] = 0.99
        frame[0] = 0.01
        frames += [frame, np.eye(classes, dtype=np.float32)[0]]
    return np.stack(frames)


def printed(ink: np.ndarray, paper: float = 220, ink_level: float = 40) -> np.ndarray:
    padded = cv2.copyMakeBorder(ink, 8, 8, 12, 12, cv2.BORDER_CONSTANT, value=0.0)
    return np.rint(paper + (ink_level - paper) * padded).astype(np.uint8)


def test_breakpoints_map_grade_limits_to_scores() -> None:
    rising = Breakpoints(0.0, 0.2, 0.4, 0.55, 0.7, 1.0)
    assert [rising.score(v) for v in (0.2, 0.4, 0.55, 0.7)] == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert rising.score(-1.0) == 0.0 and rising.score(2.0) == 1.0
    assert rising.score(0.1) == pytest.approx(0.1)
    falling = Breakpoints(0.6, 0.45, 0.35, 0.25, 0.15, 0.05)
    assert falling.score(0.35) == pytest.approx(0.4) and falling.score(0.01) == 1.0
    assert falling.score(0.9) == 0.0
    with pytest.raises(RulesConfigError, match="strictly one way"):
        Breakpoints(0.0, 0.3, 0.2, 0.5, 0.7, 1.0)


def test_grade_letters() -> None:
    assert [grade_of(s) for s in (1.0, 0.8, 0.79, 0.6, 0.4, 0.2, 0.19, 0.0)] == list("AABBCDFF")


def test_contrast_of_crops() -> None:
    ink = render_hershey("LOT 42", 24, cv2.FONT_HERSHEY_SIMPLEX, False, np.random.default_rng(0))
    strong = contrast_of(printed(ink.ink, 230, 30))
    weak = contrast_of(printed(ink.ink, 150, 120))
    assert strong > 0.6 and 0.05 < weak < 0.15
    assert contrast_of(np.full((20, 60), 128, np.uint8)) == 0.0


def test_a_clean_print_measures_well_and_a_damaged_one_does_not() -> None:
    rng = np.random.default_rng(0)  # a print the segmenter cuts into its 10 characters
    text = "LOT A7K2291"
    decode = decode_line(sure_matrix(text), DEFAULT_CHARSET)
    drawn = render_dot_matrix(text, 28, rng)
    clean = measure_line(decode, printed(drawn.ink))
    assert clean.margin > 0.9 and clean.contrast > 0.6
    assert clean.completeness > 0.7
    assert 0.0 <= clean.spacing < 0.15 and 0.0 <= clean.baseline < 0.05
    damaged = measure_line(decode, printed(damage(drawn.ink, 28, rng), 200, 150))
    assert damaged.contrast < 0.3
    assert damaged.completeness < clean.completeness
    config = GradingConfig()
    assert grade_item([clean], config).grade in ("A", "B")
    assert grade_item([damaged], config).grade in ("D", "F")


def test_grade_is_the_worst_quantity_of_the_worst_line() -> None:
    good = LineQuality(0.99, 0.8, 0.95, 0.02, 0.01)
    low_contrast = LineQuality(0.99, 0.18, 0.95, UNMEASURED, UNMEASURED)
    grade = grade_item([good, low_contrast], GradingConfig())
    assert grade.grade == "D" and grade.limiting == "contrast"
    assert grade.quality["contrast"] == pytest.approx(0.18)
    assert grade.quality["spacing"] == pytest.approx(0.02)  # the measured line's value
    assert grade.quality["score"] == grade.quality["contrast_score"]
    only_unmeasured = grade_item([low_contrast], GradingConfig())
    assert only_unmeasured.quality["spacing"] == UNMEASURED
    assert "spacing_score" not in only_unmeasured.quality
    assert grade_item([], GradingConfig()).grade == "F"


def test_engine_grades_items_and_can_fail_poor_prints() -> None:
    rng = np.random.default_rng(5)
    text = "LOT 42"
    crop = printed(render_hershey(text, 26, cv2.FONT_HERSHEY_SIMPLEX, False, rng).ink, 150, 115)
    engine = RulesEngine(DEFAULT_CHARSET, expected=text)
    result = engine.apply([sure_matrix(text)], [crop])
    assert result.verdict == "pass" and result.grade in ("D", "F")
    assert set(result.quality) >= {"margin", "contrast", "completeness", "score"}
    strict = RulesEngine(DEFAULT_CHARSET, RulesConfig(pass_min_grade="C"), expected=text)
    failed = strict.apply([sure_matrix(text)], [crop])
    assert failed.verdict == "fail"
    assert failed.detail is not None and failed.detail.startswith("print quality grade")


def test_rules_config_validation_names_the_key() -> None:
    with pytest.raises(RulesConfigError, match=r"rules.char_reject must be within 0-1"):
        RulesConfig(char_reject=1.5)
    with pytest.raises(RulesConfigError, match="pass_min_grade must be one of"):
        RulesConfig(pass_min_grade="E")
    with pytest.raises(RulesConfigError, match="two different characters"):
        RulesConfig(confusable=("O",))
    config = RulesConfig.from_mapping(
        {
            "char_reject": 0.6,
            "beam_width": 8,
            "confusable": ["O0"],
            "pass_min_grade": "C",
            "grading": {"contrast": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
        },
        where="config.toml [rules]",
    )
    assert config.char_reject == 0.6 and config.confusable == ("O0",)
    assert config.grading.contrast.a == 0.4
    with pytest.raises(RulesConfigError, match=r"config.toml \[rules\]: unknown key 'char_rejet'"):
        RulesConfig.from_mapping({"char_rejet": 0.5}, where="config.toml [rules]")
    with pytest.raises(RulesConfigError, match=r"rules\.beam_width must be a whole number"):
        RulesConfig.from_mapping({"beam_width": 2.5})
    with pytest.raises(RulesConfigError, match=r"rules\.grading\.margin must be six numbers"):
        RulesConfig.from_mapping({"grading": {"margin": [1, 2]}})
    with pytest.raises(RulesConfigError, match="unknown quantity 'sharpness'"):
        RulesConfig.from_mapping({"grading": {"sharpness": [0, 1, 2, 3, 4, 5]}})
    with pytest.raises(RulesConfigError, match=r"rules: rules\.line_reject must be within"):
        RulesConfig.from_mapping({"line_reject": -1})
