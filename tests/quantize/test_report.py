"""``quantize report``: the int8 audit, figures checked against the Keras model, and latency."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from quantize_support import Tiny
from typer.testing import CliRunner

from quantize.analysis import Lifetime, greedy_plan
from quantize.cli import app

runner = CliRunner()


def _keras_figures(keras_path: Path) -> tuple[int, int]:
    """(MACs, parameters after batch-norm folding) computed from the Keras layers."""
    import keras

    model = keras.models.load_model(keras_path, compile=False)
    macs = params = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            macs += h * w * c * kh * kw
            params += kh * kw * c + c  # kernel, and the bias that batch norm folds into
        elif isinstance(layer, keras.layers.Conv2D):
            _, h, w, c = layer.output.shape
            kh, kw = layer.kernel_size
            depth = layer.input.shape[-1]
            macs += h * w * c * kh * kw * depth
            params += kh * kw * depth * c + c
    return macs, params


def test_report_of_an_int8_export(good_int8: Path, tiny: Tiny) -> None:
    result = runner.invoke(
        app, ["report", str(good_int8), "--json", "--batch", "4", "--repeats", "3"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["full_int8"] is True and report["problems"] == []
    assert report["file_bytes"] == good_int8.stat().st_size
    assert set(report["op_counts"]) == {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "SOFTMAX"}
    for op in report["ops"]:
        for tensor in op["inputs"] + op["outputs"]:
            assert tensor["dtype"] == "int8" or (tensor["dtype"] == "int32" and tensor["constant"])
    macs, params = _keras_figures(tiny.keras_path)
    assert report["macs"] == macs
    assert report["parameters"] == params
    assert report["inputs"][0]["dtype"] == "int8" and report["inputs"][0]["shape"] == [1, 32, 96, 1]
    arena = report["arena"]
    biggest_step = max(
        sum(
            t["shape"][1] * t["shape"][2] * t["shape"][3]
            for t in op["inputs"] + op["outputs"]
            if not t["constant"]
        )
        for op in report["ops"]
    )
    assert arena["activations"] >= arena["live_lower_bound"] >= biggest_step
    assert arena["recommended"] >= arena["activations"] + arena["overhead"]
    timings = {(t["accel"], t["batch"]): t for t in report["latency"]}
    assert set(timings) == {("cpu", 1), ("cpu", 4), ("none", 1), ("none", 4)}
    assert all(t["median_ms"] > 0 and not t["error"] for t in timings.values())


def test_report_text_lists_every_op(good_int8: Path) -> None:
    result = runner.invoke(app, ["report", str(good_int8), "--no-latency"])
    assert result.exit_code == 0, result.output
    assert "every op is int8" in result.stdout
    assert "CONV_2D" in result.stdout and "MACs" in result.stdout and "arena" in result.stdout


def test_report_fails_a_float_model_and_names_the_op(float_tflite: Path) -> None:
    result = runner.invoke(app, ["report", str(float_tflite), "--no-latency"])
    assert result.exit_code == 1
    assert result.stderr.startswith("quantize: error:")
    assert result.stderr.count("\n") == 1
    assert "not a full-int8 model: op 0 CONV_2D" in result.stderr
    assert "float32" in result.stderr


def test_report_needs_no_tensorflow(good_int8: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from quantize.cli import app\n"
        f"result = CliRunner().invoke(app, ['report', {str(good_int8)!r}, '--repeats', '2'])\n"
        "assert result.exit_code == 0, result.output\n"
        "heavy = {'tensorflow', 'keras'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr[-2000:]


def test_greedy_plan_reuses_memory_of_dead_tensors() -> None:
    # A chain a -> b -> c -> d: a and c never live together, nor b and d.
    chain = [
        Lifetime(0, 64, 0, 0),
        Lifetime(1, 32, 0, 1),
        Lifetime(2, 64, 1, 2),
        Lifetime(3, 32, 2, 3),
    ]
    offsets = greedy_plan(chain)
    peak = max(offsets[b.tensor] + b.size for b in chain)
    assert peak == 96
    for first in chain:
        for second in chain:
            alive_together = first.first <= second.last and second.first <= first.last
            if first.tensor < second.tensor and alive_together:
                a0, b0 = offsets[first.tensor], offsets[second.tensor]
                assert a0 + first.size <= b0 or b0 + second.size <= a0


def test_report_finds_bundled_models_by_name() -> None:
    from edge_ocr.model import bundled_models

    if "lines" not in bundled_models():
        pytest.skip("no bundled lines model in this checkout")
    result = runner.invoke(app, ["report", "lines", "--no-latency", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["path"].endswith("edge_ocr/models/lines.tflite")
    assert report["full_int8"] is True
