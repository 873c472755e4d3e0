"""training/calibration.py: the calibration report on a small held-out set, real int8 model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.calibration import (
    PLOT_NAME,
    REPORT_NAME,
    held_out_draw,
    held_out_lines,
    load_recognizer,
    write_calibration_report,
)
import itertools


def test_report_json_and_reliability_plot(tmp_path: Path) -> None:
    lines = held_out_lines(48, seed=7)
    recognizer = load_recognizer("lines")
    figures = write_calibration_report(
        recognizer,
        lines,
        tmp_path / "calibration",
        templates=("L[0-9]{4}", "EXP {date:YYYY-MM-DD}"),
        per_template=10,
    )
    report = json.loads((tmp_path / "calibration" / REPORT_NAME).read_text())
    assert report == json.loads(json.dumps(figures))
    png = (tmp_path / "calibration" / PLOT_NAME).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    chars = report["characters"]
    assert sum(b["count"] for b in chars["bins"]) == chars["samples"] > 48
    assert 0.0 <= chars["ece"] <= 1.0 and 0.0 <= report["line_confidence"]["ece"] <= 1.0
    assert report["line_confidence"]["samples"] == 48
    assert report["config"]["char_reject"] == 0.5
    assert 0.0 <= report["suggested"]["char_reject_for_99_percent"] <= 1.0
    curve = report["character_reject_curve"]
    assert curve[0]["threshold"] == 0.0 and curve[0]["rejected"] == 0.0
    assert all(a["rejected"] <= b["rejected"] for a, b in itertools.pairwise(curve))
    for figures_of_template in report["constrained_decoding"].values():
        assert figures_of_template["lines"] == 10
        assert figures_of_template["template_broken"] == 0


def test_held_out_draw_renders_any_text() -> None:
    draw = held_out_draw()
    rng = np.random.default_rng(0)
    for text in ("LOT A7K2291", "12:30", "EXP 2027-04-11"):
        ink, height = draw(text, rng)
        assert ink.dtype == np.float32 and ink.max() > 0.5 and 20 <= height < 40


def test_calibrate_command_writes_the_report_and_the_ocv_stream(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    out = tmp_path / "cal"
    arguments = ["calibrate", "lines", "--out", str(out), "--lines", "24"]
    result = CliRunner().invoke(app, [*arguments, "--per-template", "4", "--ocv-items", "30"])
    assert result.exit_code == 0, result.output
    assert "OCV on 30 items" in result.output
    assert json.loads((out / REPORT_NAME).read_text())["line_confidence"]["samples"] == 24
    ocv = json.loads((out / "ocv.json").read_text())
    assert ocv["items"] == 30 and sum(sum(v.values()) for v in ocv["verdicts"].values()) == 30
    assert (out / PLOT_NAME).read_bytes()[:4] == b"\x89PNG"


def test_calibrate_command_refuses_a_bad_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(app, ["calibrate", str(bad), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "error" in result.output


def test_training_report_summary_points_at_the_calibration_folder(tmp_path: Path) -> None:
    import shutil

    from edge_ocr.model import BUNDLED_DIR
    from training.line_run import calibration_summary

    for suffix in (".tflite", ".json"):
        shutil.copyfile(BUNDLED_DIR / f"lines{suffix}", tmp_path / f"model{suffix}")
    summary = calibration_summary(tmp_path / "model.tflite", held_out_lines(24, seed=3), "captcha")
    assert 0.0 <= summary["character_ece"] <= 1.0 and 0.0 <= summary["line_ece"] <= 1.0
    report = json.loads((tmp_path / summary["report"]).read_text())
    assert "constrained_decoding" not in report  # templates are for code lines only
