"""Starting a run from a shipped int8 model: the bundled model rebuilt as float, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.preprocess import LineShape
from training.cli import app
from training.data import generate_line_set
from training.synth import CLEAN, synthetic_sources


def test_the_bundled_lines_model_rebuilds_as_float() -> None:
    """The rebuilt float model reads generated code lines as the shipped int8 model does."""
    from training.line_run import int8_reads
    from training.train import predict_texts
    from training.warm_start import float_line_model

    shape = LineShape(32, 256)
    source = synthetic_sources("lines", held_out=False, quality=CLEAN)
    statistics = generate_line_set(source.sample, 96, 31, shape)
    lines = generate_line_set(source.sample, 40, 32, shape)
    model, contract = float_line_model("lines", statistics.images)
    assert contract.charset == DEFAULT_CHARSET
    float_reads = predict_texts(model, lines.images, DEFAULT_CHARSET)
    int8, _ = int8_reads(Path(__file__).parents[2] / "edge_ocr/models/lines.tflite", lines)
    assert np.mean([a == b for a, b in zip(float_reads, int8, strict=True)]) >= 0.85
    assert np.mean([a == b for a, b in zip(float_reads, lines.texts, strict=True)]) >= 0.8


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ("captcha", "give it --width 128"),
        ("chars", "not a line model"),
        ("no-such-model", "model not found"),
    ],
)
def test_a_model_the_run_cannot_start_from_is_refused_at_once(
    tmp_path: Path, init: str, message: str
) -> None:
    result = CliRunner().invoke(
        app, ["train", "--kind", "line", "--init", init, "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()  # refused before drawing any data
