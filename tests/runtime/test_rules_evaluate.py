"""The synthetic OCV stream, on a small sample, read by the real bundled line model."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ocr.model import load_model
from edge_ocr.recognize import LineRecognizer
from edge_ocr.rules.evaluate import (
    DEFAULT_TEMPLATE,
    _wrong_line,
    degraded_print,
    evaluate_ocv,
    good_print,
    runtime_draw,
)
from edge_ocr.rules.template import parse_template, sample_line


@pytest.fixture(scope="module")
def recognizer() -> LineRecognizer:
    return LineRecognizer(load_model("lines", accel="cpu"))


def test_wrong_codes_differ_and_still_fit_the_template() -> None:
    rng = np.random.default_rng(0)
    for line in parse_template(DEFAULT_TEMPLATE + " | {time:HH:MM} L[0-9]").lines:
        for _ in range(40):
            text = sample_line(line, rng)
            wrong = _wrong_line(line, text, rng)
            assert wrong != text and line.match(wrong)
            assert len(wrong) == len(text)


def test_prints_are_uint8_crops_and_degraded_ones_have_less_contrast() -> None:
    rng = np.random.default_rng(1)
    ink, height = runtime_draw("LOT A7K2291", rng)
    good = good_print(ink, height, rng)
    bad = degraded_print(ink, height, rng)
    assert good.dtype == np.uint8 and bad.dtype == np.uint8
    assert np.ptp(np.percentile(bad, [2, 98])) < np.ptp(np.percentile(good, [2, 98]))


def test_small_stream_is_counted_consistently(recognizer: LineRecognizer) -> None:
    result = evaluate_ocv(
        recognizer, items=36, seed=3, wrong_rate=0.3, degraded_rate=0.3, batch_items=12, chunk=16
    )
    assert result.items == 36
    assert sum(sum(v.values()) for v in result.verdicts.values()) == 36
    assert sum(sum(v.values()) for v in result.grades.values()) == 36
    assert set().union(*result.verdicts.values()) <= {"pass", "fail", "no-read"}
    assert set().union(*result.grades.values()) <= set("ABCDF")
    for kind in ("good", "wrong", "degraded"):
        assert len(result.fail_evidence[kind]) == result.verdicts[kind].get("fail", 0)
    assert 0.0 <= result.wrong_fail_rate <= 1.0 and 0.0 <= result.good_fail_rate <= 1.0
    degraded = [e for e in result.examples if e["kind"] == "degraded"]
    assert len(degraded) == sum(result.verdicts["degraded"].values())
    for example in result.examples:
        if example["kind"] == "wrong":
            assert example["printed"] != example["expected"]
    summary = result.to_dict()
    assert summary["fail_rate_at_threshold"]["wrong"]["4"] == pytest.approx(
        result.fail_rate_at("wrong", 4.0), abs=1e-5
    )
