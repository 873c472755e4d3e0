"""Char models (contract kind 'char': H x W crops in, one softmax over the charset out) go
through the same int8 → check path as line models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from quantize_support import DIGITS, char_crops, write_folder
from typer.testing import CliRunner

from edge_ocr.contract import load_contract
from edge_ocr.preprocess import bin_char
from quantize.cli import app
from quantize.data import load_images

runner = CliRunner()
STEPS = 150


@pytest.fixture(scope="module")
def char_keras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small char classifier trained for a few steps on digit crops."""
    import keras

    from training.models import CharModelConfig, build_char_model

    crops, texts = char_crops(1200, seed=5)
    images = np.stack([bin_char(c, 32, 24) for c in crops]).astype(np.float32)[..., None] / 255.0
    labels = np.array([DIGITS.index(t) for t in texts])
    keras.utils.set_random_seed(0)
    model = build_char_model(CharModelConfig(num_classes=len(DIGITS), channels=(8, 16, 24)))
    for layer in model.layers:  # inference statistics must catch up within a few steps
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.8
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, batch_size=32, epochs=STEPS * 32 // len(labels), verbose=0)
    path = tmp_path_factory.mktemp("char") / "digits.keras"
    model.save(path)
    return path


def test_char_model_quantizes_and_passes_check(char_keras: Path, tmp_path: Path) -> None:
    calib = write_folder(tmp_path / "calib", *char_crops(100, seed=6))
    test = write_folder(tmp_path / "test", *char_crops(200, seed=7))
    out = tmp_path / "digits.tflite"
    result = runner.invoke(
        app,
        ["int8", str(char_keras), "--calib", str(calib), "--charset", DIGITS, "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    contract = load_contract(out.with_suffix(".json"))
    assert contract.kind == "char" and contract.num_classes == len(DIGITS)
    assert (contract.input_height, contract.input_width) == (32, 24)

    result = runner.invoke(
        app, ["check", str(char_keras), str(out), "--data", str(test), "--max-drop", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["kind"] == "char" and report["samples"] == 200
    assert report["float_exact"] > 0.8  # chance is 0.1: the model reads
    assert report["agreement"] >= 0.95


def test_synthetic_character_crops() -> None:
    crops = load_images("synthetic", "char", 32, 24, "AB7", 30, seed=0, held_out=True)
    assert crops.images.shape == (30, 32, 24) and crops.images.dtype == np.uint8
    assert set(crops.texts) <= set("AB7")
    assert all(image.max() > 100 for image in crops.images)  # text bright on black


def test_non_character_class_is_declared_with_its_own_flag(
    char_keras: Path, tmp_path: Path
) -> None:
    """A char model trained with a non-character class has one output more than its charset:
    ``--non-char`` says so, and the class count is checked either way."""
    calib = write_folder(tmp_path / "calib", *char_crops(60, seed=6))
    out = tmp_path / "nine.tflite"
    common = [str(char_keras), "--calib", str(calib), "--samples", "60", "--out", str(out)]
    result = runner.invoke(app, ["int8", *common, "--charset", DIGITS, "--non-char"])
    assert result.exit_code == 2
    assert "plus the non-character class" in result.output
    result = runner.invoke(app, ["int8", *common, "--charset", DIGITS[:-1], "--non-char"])
    assert result.exit_code == 0, result.output
    contract = load_contract(out.with_suffix(".json"))
    assert contract.non_char and contract.num_classes == len(DIGITS)
