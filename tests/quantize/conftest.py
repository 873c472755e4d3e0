"""Session fixtures of the quantize tests: a tiny line model that really reads, trained once
with fixed seeds, and its int8 (good and deliberately broken) and float exports."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The repo runs pytest with --import-mode=importlib, which puts no test directory on sys.path;
# the shared helpers in quantize_support.py need this one.
sys.path.insert(0, str(Path(__file__).parent))

from quantize_support import DIGITS, SHAPE, TRAIN_STEPS, Tiny, digit_crops, write_folder

from edge_ocr.preprocess import bin_line


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    import keras

    from training.ctc import CTCLoss
    from training.data import encode_labels
    from training.models import LineModelConfig, build_line_model, logits_model

    root = tmp_path_factory.mktemp("tiny")
    crops, texts = digit_crops(1600, seed=1)
    images = np.stack([bin_line(c, SHAPE) for c in crops]).astype(np.float32)[..., None] / 255.0
    labels = encode_labels(texts, DIGITS, 8)
    keras.utils.set_random_seed(0)
    config = LineModelConfig(
        width=SHAPE.width,
        num_classes=len(DIGITS) + 1,
        channels=(16, 24, 32),
        stem_channels=8,
        temporal_blocks=1,
        bn_momentum=0.8,
    )
    model = build_line_model(config)
    trainable = logits_model(model)
    schedule = keras.optimizers.schedules.CosineDecay(1e-2, TRAIN_STEPS, alpha=0.05)
    trainable.compile(optimizer=keras.optimizers.Adam(schedule), loss=CTCLoss())
    trainable.fit(images, labels, batch_size=32, epochs=TRAIN_STEPS // 50, shuffle=True, verbose=0)
    keras_path = root / "tiny.keras"
    model.save(keras_path)
    calib_crops, calib_texts = digit_crops(150, seed=2)
    test_crops, test_texts = digit_crops(300, seed=3)
    return Tiny(
        keras_path,
        write_folder(root / "calib", calib_crops, calib_texts),
        write_folder(root / "test", test_crops, test_texts),
        root,
    )


@pytest.fixture(scope="session")
def good_int8(tiny: Tiny) -> Path:
    """The tiny model quantized through the CLI on a calibration folder of its own kind."""
    from typer.testing import CliRunner

    from quantize.cli import app

    out = tiny.root / "good" / "tiny.tflite"
    result = CliRunner().invoke(
        app,
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(tiny.calib_dir),
            "--charset",
            DIGITS,
            "--samples",
            "100",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def black_int8(tiny: Tiny) -> Path:
    """The same model calibrated on all-black images: every activation range collapses."""
    from typer.testing import CliRunner

    from quantize.cli import app

    black = tiny.root / "black_calib"
    crops, texts = digit_crops(20, seed=4)
    write_folder(black, [np.zeros_like(c) for c in crops], texts)
    out = tiny.root / "black" / "tiny.tflite"
    result = CliRunner().invoke(
        app,
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(black),
            "--charset",
            DIGITS,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def float_tflite(tiny: Tiny) -> Path:
    """The tiny model converted without quantization, with a contract that says so."""
    import keras
    import tensorflow as tf

    from edge_ocr.contract import ModelContract, TensorQuantization, file_sha256

    model = keras.models.load_model(tiny.keras_path, compile=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    out = tiny.root / "float" / "tiny_float.tflite"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(converter.convert())
    none = TensorQuantization("float32", 0.0, 0)
    ModelContract(
        "tiny_float", "line", DIGITS, SHAPE.height, SHAPE.width, none, none, file_sha256(out)
    ).save(out.with_suffix(".json"))
    return out
