"""``quantize int8`` and ``quantize check``: the export, its contract, and the gate both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quantize_support import DIGITS, SHAPE, Tiny
from typer.testing import CliRunner

from edge_ocr.contract import file_sha256, load_contract
from quantize.cli import app
from quantize.parity import class_deltas, compare

runner = CliRunner()


def test_int8_writes_a_full_int8_model_and_its_contract(good_int8: Path, tiny: Tiny) -> None:
    contract = load_contract(good_int8.with_suffix(".json"))
    assert contract.kind == "line"
    assert contract.charset == DIGITS
    assert (contract.input_height, contract.input_width) == (SHAPE.height, SHAPE.width)
    assert contract.tflite_sha256 == file_sha256(good_int8)
    assert contract.input_quantization.dtype == contract.output_quantization.dtype == "int8"
    # The 0-255 → 0-1 rescaling is folded into the input quantization: pixel - 128.
    assert abs(contract.input_quantization.scale - 1 / 255) < 1e-6
    assert contract.input_quantization.zero_point == -128
    assert contract.training["calibration_images"] == 100
    assert str(tiny.calib_dir) in contract.training["calibration"]
    assert contract.name == "tiny"


def test_check_passes_a_correctly_calibrated_model(good_int8: Path, tiny: Tiny) -> None:
    result = runner.invoke(
        app,
        [
            "check",
            str(tiny.keras_path),
            str(good_int8),
            "--data",
            str(tiny.test_dir),
            "--max-drop",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert report["samples"] == 300
    # The model really reads, so the comparison means something.
    assert report["float_exact"] >= 0.9
    assert report["float_exact"] - report["int8_exact"] <= 0.03
    assert report["agreement"] >= 0.95
    assert report["int8_cer"] <= 0.05
    assert {c["char"] for c in report["classes"]} == set(DIGITS)


def test_check_fails_a_broken_calibration_with_a_clear_message(
    black_int8: Path, tiny: Tiny
) -> None:
    result = runner.invoke(
        app, ["check", str(tiny.keras_path), str(black_int8), "--data", str(tiny.test_dir)]
    )
    assert result.exit_code == 1, result.output
    assert "points below float" in result.stderr
    assert "do not ship tiny.tflite" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "largest int8 losses" in result.stdout  # the per-character table says where it broke


def test_check_human_output_reports_agreement(good_int8: Path, tiny: Tiny) -> None:
    result = runner.invoke(
        app,
        [
            "check",
            str(tiny.keras_path),
            str(good_int8),
            "--data",
            str(tiny.test_dir),
            "--samples",
            "60",
            "--max-drop",
            "5",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "60 images" in result.stdout
    assert "agreement" in result.stdout
    assert "passed: int8 is within 5 points of float" in result.stdout


def test_per_character_deltas_come_from_alignments() -> None:
    deltas = class_deltas(["123", "45"], ["123", "45"], ["128", "4"])
    by_char = {d.char: d for d in deltas}
    assert by_char["3"].int8_accuracy == 0.0 and by_char["3"].float_accuracy == 1.0
    assert by_char["5"].delta_points == -100.0
    assert by_char["1"].delta_points == 0.0
    assert deltas[0].char in ("3", "5")  # largest losses first


def test_the_gate_is_on_exact_accuracy_points() -> None:
    truths = ["11", "22", "33", "44"]
    result = compare(truths, truths, ["11", "22", "33", "40"], "line", "unit", 25.0)
    assert result.drop_points == pytest.approx(25.0) and result.passed
    assert result.agreement == 0.75
    stricter = compare(truths, truths, ["11", "22", "33", "40"], "line", "unit", 24.9)
    assert not stricter.passed


def test_int8_calibrates_on_synthetic_lines(tiny: Tiny, tmp_path: Path) -> None:
    out = tmp_path / "synthetic.tflite"
    result = runner.invoke(
        app,
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            "synthetic",
            "--samples",
            "40",
            "--charset",
            DIGITS,
            "--name",
            "digits",
            "--reject-threshold",
            "0.3",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    contract = load_contract(out.with_suffix(".json"))
    assert contract.name == "digits" and contract.reject_threshold == 0.3
    assert contract.training["calibration"].startswith("synthetic lines, training fonts")
    assert contract.training["calibration_images"] == 40


def test_the_drop_comes_with_its_paired_interval() -> None:
    truths = [f"{i:03d}" for i in range(100)]
    float_read = list(truths)
    int8_read = list(truths)
    for i in range(6):  # 6 lines only float reads right, 2 only int8
        int8_read[i] = "x"
    for i in range(6, 8):
        float_read[i] = "x"
    result = compare(truths, float_read, int8_read, "line", "unit", 0.5)
    assert (result.float_only_right, result.int8_only_right) == (6, 2)
    assert result.drop_points == pytest.approx(4.0)
    # 1.96 * sqrt(b + c - (b - c)^2 / n) / n, in points
    assert abs(result.drop_margin_points - 196 * (8 - 16 / 100) ** 0.5 / 100) < 1e-9
    assert result.to_dict()["drop_margin_points"] == round(result.drop_margin_points, 4)
