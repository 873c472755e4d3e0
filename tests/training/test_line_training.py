"""The real training path on a tiny problem: loss falls, reads beat chance, int8 export reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.cli import app
from edge_ocr.preprocess import LineShape, bin_line
from training.data import LineSet
from training.fonts import FontKind, truetype_fonts
from training.synth import LineSynthesizer

pytestmark = pytest.mark.slow
SHAPE = LineShape(32, 128)


def _digit_lines(count: int, seed: int) -> tuple[LineSet, list[np.ndarray]]:
    font = next(f for f in truetype_fonts() if f.name == "DejaVuSans")
    synthesizer = LineSynthesizer([font], kind_weights={FontKind.TRUETYPE: 1.0})
    rng = np.random.default_rng(seed)
    texts = [
        "".join(rng.choice(list("0123456789"), size=int(rng.integers(3, 6)))) for _ in range(count)
    ]
    crops = [synthesizer.draw(t, font, rng).image for t in texts]
    images = np.stack([bin_line(c, SHAPE) for c in crops])
    return LineSet(images, texts, ["DejaVuSans"] * count, ["truetype"] * count), crops


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    from training.train import TrainConfig, train_line_model

    train_set, _ = _digit_lines(1500, seed=1)
    validation, _ = _digit_lines(200, seed=2)
    out = tmp_path_factory.mktemp("run")
    config = TrainConfig(
        out=str(out),
        epochs=6,
        batch_size=32,
        learning_rate=5e-3,
        warmup_steps=20,
        width=128,
        channels=(24, 32, 48),
        stem_channels=12,
        temporal_blocks=1,
        max_steps_per_epoch=40,
        patience=10,
        bn_momentum=0.8,
    )
    state = train_line_model(config, train_set, validation, verbose=False, log=lambda _: None)
    return out, state


def test_loss_falls_and_reads_beat_chance(trained: tuple[Path, dict[str, object]]) -> None:
    _, state = trained
    history = state["history"]
    assert isinstance(history, list)
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]
    # Guessing or the "only blanks" plateau give a CER of 0.9-1.0; a model that learned does better.
    assert min(h["val_cer"] for h in history) < 0.6


def test_int8_export_reads_through_the_cli(
    trained: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    import keras

    from quantize.int8 import export_int8

    run_dir, _ = trained
    calibration, _ = _digit_lines(100, seed=3)
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    contract = export_int8(
        model, calibration.images, tmp_path / "tiny.tflite", "tiny", "line", DEFAULT_CHARSET
    )
    assert contract.input_quantization.dtype == "int8"
    assert contract.output_quantization.dtype == "int8"
    assert (
        json.loads((tmp_path / "tiny.json").read_text())["tflite_sha256"] == contract.tflite_sha256
    )

    test_set, crops = _digit_lines(40, seed=4)
    for index, crop in enumerate(crops):
        cv2.imwrite(str(tmp_path / f"{index:03d}.png"), crop)
    result = CliRunner().invoke(
        app,
        [
            "read",
            "--json",
            "--accel",
            "cpu",
            "--model",
            str(tmp_path / "tiny.tflite"),
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    reads = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(reads) == 40
    correct_chars = sum(
        sum(a == b for a, b in zip(r["text"], t, strict=False))
        for r, t in zip(reads, test_set.texts, strict=True)
    )
    total_chars = sum(len(t) for t in test_set.texts)
    assert correct_chars / total_chars > 0.3  # chance is 0.1 per aligned digit
    assert all(0.0 <= r["confidence"] <= 1.0 for r in reads)


def _five_steps_from(run_dir: Path, init_from: str, out: Path) -> dict[str, Any]:
    """Five low-LR steps of the tiny run's configuration, started from ``init_from``."""
    from dataclasses import replace

    from training.train import TrainConfig, train_line_model

    base_config = TrainConfig(**json.loads((run_dir / "config.json").read_text()))
    train_set, _ = _digit_lines(400, seed=5)
    validation, _ = _digit_lines(200, seed=2)
    config = replace(
        base_config,
        out=str(out),
        epochs=1,
        max_steps_per_epoch=5,
        learning_rate=1e-4,
        warmup_steps=2,
        channels=tuple(base_config.channels),  # type: ignore[arg-type]
        init_from=init_from,
    )
    return train_line_model(config, train_set, validation, verbose=False, log=lambda _: None)


def test_warm_restart_starts_from_the_base_weights(
    trained: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """A second stage with ``init_from`` continues from what the base run learned."""
    base_dir, base_state = trained
    state = _five_steps_from(base_dir, str(base_dir / "model.keras"), tmp_path)
    base_history = base_state["history"]
    assert isinstance(base_history, list)
    # Five tiny steps from scratch read nothing (CER near 1); from the base weights they read.
    assert state["history"][0]["val_cer"] < 0.6
    assert state["history"][0]["loss"] < 0.6 * base_history[0]["loss"]


def test_an_int8_model_rebuilds_as_float_and_fine_tunes(
    trained: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """``--init model.tflite``: the float model rebuilt from int8 reads as the original did, its
    unfolded batch norms read the same in training mode, and a run continues from it."""
    import keras

    from quantize.int8 import export_int8
    from training.train import predict_texts
    from training.warm_start import float_line_model

    run_dir, _ = trained
    original = keras.models.load_model(run_dir / "model.keras", compile=False)
    calibration, _ = _digit_lines(200, seed=6)
    export_int8(
        original, calibration.images, tmp_path / "tiny.tflite", "tiny", "line", DEFAULT_CHARSET
    )
    rebuilt, contract = float_line_model(str(tmp_path / "tiny.tflite"), calibration.images)
    assert contract.name == "tiny"
    test_set, _ = _digit_lines(150, seed=7)
    original_reads = predict_texts(original, test_set.images, DEFAULT_CHARSET)
    rebuilt_reads = predict_texts(rebuilt, test_set.images, DEFAULT_CHARSET)
    assert np.mean([a == b for a, b in zip(original_reads, rebuilt_reads, strict=True)]) > 0.85

    pixels = calibration.images[:64].astype(np.float32)[..., None] / 255.0
    inference = np.asarray(rebuilt(pixels, training=False)).argmax(axis=-1)
    batch_statistics = np.asarray(rebuilt(pixels, training=True)).argmax(axis=-1)
    assert np.mean(inference == batch_statistics) > 0.95

    state = _five_steps_from(run_dir, str(tmp_path / "tiny.tflite"), tmp_path / "fine-tuned")
    assert state["history"][0]["val_cer"] < 0.6  # five steps from scratch read nothing


def test_bundle_runs_a_missing_base_stage_first(tmp_path: Path) -> None:
    from training.commands.bundle import _with_prerequisites
    from training.recipes import bundled_recipes

    recipes = bundled_recipes(str(tmp_path))
    assert _with_prerequisites(["lines"], recipes) == [
        "lines-base",
        "lines-2",
        "lines-3",
        "lines-4",
        "lines-5",
        "lines-6",
        "lines",
    ]
    assert recipes["lines"].options.config.init_from == f"{tmp_path}/lines-6/model.keras"
    # The first GPU stage starts from lines-5's int8 export, rebuilt as float.
    assert recipes["lines-6"].options.config.init_from == f"{tmp_path}/lines-5"
    assert recipes["lines"].options.moderate_share > 0
    assert not recipes["lines-3"].options.moderate_share
    assert _with_prerequisites(["captcha", "lines-base"], recipes) == [
        "captcha-base",
        "captcha-2",
        "captcha-3",
        "captcha",
        "lines-base",
    ]
    (tmp_path / "captcha-2").mkdir()
    (tmp_path / "captcha-2" / "model.keras").write_bytes(b"")
    assert _with_prerequisites(["captcha"], recipes) == ["captcha-3", "captcha"]
    assert recipes["captcha"].options.config.init_from == f"{tmp_path}/captcha-3/model.keras"
    assert recipes["captcha-2"].options.config.init_from == f"{tmp_path}/captcha/model.keras"
    assert recipes["captcha"].options.emphasis and not recipes["captcha-3"].options.emphasis
    assert not recipes["lines-base"].install


def test_labels_ctc_cannot_align_are_left_out() -> None:
    from training.train import ctc_alignable

    # 4 time steps: "AB" fits, "AA" needs A-blank-A (3), "AAAA" needs 7, five letters need 5.
    assert ctc_alignable(["AB", "AA", "AAAA", "ABCDE", ""], 4).tolist() == [
        True,
        True,
        False,
        False,
        True,
    ]


def test_a_run_trained_elsewhere_exports_without_its_training_set(tmp_path: Path) -> None:
    """The GPU-box flow: ``train_only`` stops after training; the same run on a box with
    TensorFlow, without the (huge) training set, evaluates, exports and reports."""
    from training.line_run import LineRunOptions, run_line
    from training.train import TrainConfig

    run_dir = tmp_path / "run"
    options = LineRunOptions(
        config=TrainConfig(
            out=str(run_dir),
            epochs=1,
            batch_size=16,
            warmup_steps=2,
            width=128,
            channels=(16, 24, 32),
            stem_channels=8,
            temporal_blocks=1,
            max_steps_per_epoch=4,
            bn_momentum=0.8,
        ),
        synthetic_samples=160,
        validation_samples=32,
        test_samples=32,
        calibration_samples=24,
        workers=1,
    )
    assert run_line(options, log=lambda _: None, verbose=False, train_only=True) == {}
    state = json.loads((run_dir / "state.json").read_text())
    assert state["finished"] and (run_dir / "model.keras").is_file()
    assert not (run_dir / "model.tflite").exists()
    (run_dir / "train_set.npz").unlink()  # stays on the GPU box

    messages: list[str] = []
    report = run_line(options, log=messages.append, verbose=False)
    assert not (run_dir / "train_set.npz").exists()  # not regenerated: nothing was trained
    assert any("calibrating on 24 fresh lines" in m for m in messages)
    assert (run_dir / "model.tflite").is_file()
    assert report["history"] == state["history"]
    assert report["config"]["data_summary"]["train_lines"] == state["train_lines"] > 100
    assert set(report["sets"]) == {"held_out_fonts", "validation"}
