"""Calibration measures: reliability bins, ECE, reject trade-offs."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ocr.rules.confidence import (
    correct_characters,
    reject_curve,
    reliability,
    threshold_for_accuracy,
)


def test_a_calibrated_source_has_a_small_ece() -> None:
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0, 1, 20000)
    correct = rng.uniform(0, 1, 20000) < confidence
    diagram = reliability(confidence.tolist(), correct.tolist(), bins=10)
    assert diagram.samples == 20000 and sum(b.count for b in diagram.bins) == 20000
    assert diagram.ece < 0.02
    for bin_ in diagram.bins:
        assert bin_.accuracy == pytest.approx(bin_.confidence, abs=0.04)


def test_an_overconfident_source_has_its_gap_as_ece() -> None:
    confidence = [0.95] * 100
    correct = [True] * 70 + [False] * 30
    diagram = reliability(confidence, correct, bins=10)
    assert diagram.ece == pytest.approx(0.25) and diagram.mce == pytest.approx(0.25)
    assert diagram.bins[9].count == 100 and diagram.bins[0].count == 0
    assert diagram.to_dict()["ece"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="3 confidences for 2 outcomes"):
        reliability([0.1, 0.2, 0.3], [True, False])


def test_reject_curve_and_threshold() -> None:
    confidence = [0.1, 0.3, 0.6, 0.8, 0.9, 0.99]
    correct = [False, False, True, False, True, True]
    points = reject_curve(confidence, correct, [0.0, 0.5, 0.85])
    assert [p.rejected for p in points] == pytest.approx([0.0, 2 / 6, 4 / 6])
    assert points[1].kept_accuracy == pytest.approx(0.75)
    assert points[1].kept_errors == pytest.approx(1 / 6)
    assert threshold_for_accuracy(confidence, correct, 0.99) == pytest.approx(0.9)
    assert threshold_for_accuracy(confidence, correct, 0.7) == pytest.approx(0.6)
    assert threshold_for_accuracy([], [], 0.9) == 1.0


def test_correct_characters_by_alignment() -> None:
    assert correct_characters("LOT 42", "LOT 42") == [True] * 6
    assert correct_characters("LOT 42", "L0T 42") == [True, False, True, True, True, True]
    assert correct_characters("LOT 42", "LOT 42X") == [True] * 6 + [False]
    assert correct_characters("LOT 42", "LT 42") == [True] * 5
