"""The char training path on a tiny problem: loss falls, accuracy beats chance, the int8 export
reads lines through ``edge-ocr read``, and the baselines and commands run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.charmode import CharRecognizer
from edge_ocr.model import load_model
from training.char_train import AugmentConfig, CharTrainConfig, augment_batch
from training.chars import CharSet, CharSynthConfig, generate_char_set, synthetic_fonts

pytestmark = pytest.mark.slow
CHARSET = "0147"
TINY = CharTrainConfig(
    channels=(8, 16, 24),
    epochs=5,
    steps_per_epoch=12,
    batch_size=32,
    learning_rate=1e-2,
    warmup_steps=5,
    refit_below=0,
)


def _chars(count: int, seed: int) -> CharSet:
    fonts = [f for f in synthetic_fonts(held_out=False) if f.name == "hershey-simplex"]
    return generate_char_set(
        count, seed, charset=CHARSET, fonts=fonts, config=CharSynthConfig(degrade=0.0)
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, CharSet, Path]:
    from quantize.int8 import export_int8
    from training.char_train import train_char_model

    train = _chars(360, seed=1)
    result = train_char_model(TINY, train, log=lambda _: None)
    out = tmp_path_factory.mktemp("char") / "model.tflite"
    export_int8(result.model, train.images[:100], out, "tiny-char", "char", CHARSET)
    return result, train, out


def test_loss_falls_and_accuracy_beats_chance(trained: tuple[object, CharSet, Path]) -> None:
    from training.char_train import TrainedChar, predict

    result, _, _ = trained
    assert isinstance(result, TrainedChar)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.8 * losses[0]
    test = _chars(120, seed=2)
    accuracy = float(np.mean(predict(result.model, test.images) == test.labels))
    assert accuracy > 0.6, accuracy  # chance is 0.25
    assert result.model.count_params() <= 60_000


def test_int8_model_reads_a_line_through_the_cli(
    trained: tuple[object, CharSet, Path], tmp_path: Path
) -> None:
    from edge_ocr.cli import app

    _, _, tflite = trained
    line = np.full((60, 200), 225, np.uint8)
    cv2.putText(line, "1047", (14, 44), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 25, 3)
    cv2.imwrite(str(tmp_path / "line.png"), line)
    result = CliRunner().invoke(
        app, ["read", "--json", "--accel", "cpu", "--model", str(tflite), str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(read) == {"file", "text", "confidence", "chars", "model"}
    assert len(read["chars"]) == len(read["text"]) == 4
    assert sum(a == b for a, b in zip(read["text"], "1047", strict=True)) >= 3
    for char in read["chars"]:
        assert set(char) == {"char", "confidence", "rejected"}


def test_the_depthwise_head_learns_and_exports_the_same_int8_ops(tmp_path: Path) -> None:
    """The depthwise pooling head (a learned weight per position of the last map) trains like
    the average one and adds no op that XNNPACK or TFLite Micro would miss."""
    from quantize.int8 import export_int8
    from quantize.report import build_report
    from training.char_train import predict, train_char_model

    train = _chars(360, seed=1)
    result = train_char_model(replace(TINY, pooling="depthwise"), train, log=lambda _: None)
    pool = result.model.get_layer("pool_dw")
    assert pool.kernel_size == (4, 3)  # the whole 4 x 3 map of a 32 x 24 input
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.8 * losses[0]
    test = _chars(120, seed=2)
    assert float(np.mean(predict(result.model, test.images) == test.labels)) > 0.6
    out = tmp_path / "model.tflite"
    export_int8(result.model, train.images[:100], out, "tiny-dw", "char", CHARSET)
    report = build_report(out, latency=False)
    assert report.problems == ()
    assert set(report.op_counts) <= {
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "ADD",
        "MEAN",
        "FULLY_CONNECTED",
        "SOFTMAX",
    }
    int8 = CharRecognizer(load_model(str(out), accel="cpu")).probabilities(test.images)
    assert float(np.mean(int8.argmax(axis=1) == test.labels)) > 0.6


def test_augmentation_keeps_shape_and_changes_images() -> None:
    rng = np.random.default_rng(0)
    images = _chars(16, seed=3).images
    augmented = augment_batch(images, rng, AugmentConfig())
    assert augmented.shape == images.shape and augmented.dtype == np.uint8
    assert not np.array_equal(augmented, images)
    assert np.array_equal(augment_batch(images, rng, AugmentConfig().off()), images)


def test_knn_and_svm_baselines_run_on_the_same_split() -> None:
    from training.baselines import run_baselines

    train, test = _chars(160, seed=4), _chars(60, seed=5)
    results = run_baselines(train, test, seed=0)
    assert set(results) == {"knn", "svm"}
    for result in results.values():
        assert 0.5 < result.accuracy <= 1.0
        assert len(result.predictions) == len(test)
    assert results["knn"].params["n_neighbors"] in (1, 3, 5, 7, 9)


def test_commands_give_one_line_errors(tmp_path: Path) -> None:
    from training.cli import app

    runner = CliRunner()
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (
        ["train-char", "--data", str(empty), "--out", str(tmp_path / "run")],
        ["baseline", "--data", str(empty)],
        ["curve", "--data", str(empty), "--out", str(tmp_path / "curve")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert result.output.count("training: error:") == 1
        assert "Traceback" not in result.output
    result = runner.invoke(
        app,
        ["train-char", "--data", "digits", "--out", str(tmp_path / "r"), "--pretrain", "imagenet"],
    )
    assert result.exit_code == 2 and "--pretrain must be 'synthetic'" in result.output
    for option, value, message in (
        ("--channels", "24,48", "--channels must be three positive integers"),
        ("--channels", "a,b,c", "--channels must be three positive integers"),
        ("--pooling", "max", "--pooling must be one of average, depthwise"),
    ):
        result = runner.invoke(
            app, ["train-char", "--data", "digits", "--out", str(tmp_path / "r"), option, value]
        )
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("layout", ["missing", "images_without_labels", "bad_csv", "corrupt"])
def test_bad_char_data_is_one_line_and_a_non_zero_exit(tmp_path: Path, layout: str) -> None:
    """The issue's spelling ``train --kind char`` and the other char commands on data a user
    gets wrong: no folder, images with neither labels.csv nor label folders, a labels.csv
    without labels, only corrupt images."""
    from training.cli import app

    data = tmp_path / "data"
    if layout != "missing":
        data.mkdir()
    if layout == "images_without_labels":
        cv2.imwrite(str(data / "a.png"), np.full((40, 30), 200, np.uint8))
    elif layout == "bad_csv":
        cv2.imwrite(str(data / "a.png"), np.full((40, 30), 200, np.uint8))
        (data / "labels.csv").write_text("file,label\na.png\n\n", encoding="utf-8")
    elif layout == "corrupt":
        (data / "7").mkdir()
        (data / "7" / "x.png").write_bytes(b"not a png at all")
    runner = CliRunner()
    for command in (
        ["train", "--kind", "char", "--data", str(data), "--out", str(tmp_path / "run")],
        ["baseline", "--data", str(data)],
        ["curve", "--data", str(data), "--out", str(tmp_path / "curve")],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        errors = [line for line in result.output.splitlines() if "training: error:" in line]
        assert len(errors) == 1, result.output
        assert "Traceback" not in result.output
        assert str(data) in errors[0]


def test_baseline_command_on_a_folder(tmp_path: Path) -> None:
    from training.cli import app

    chars = _chars(80, seed=6)
    for index, (image, label) in enumerate(zip(chars.images, chars.texts(), strict=True)):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "data" / label / f"{index}.png"), 255 - image)
    out = tmp_path / "baseline.json"
    result = CliRunner().invoke(
        app, ["baseline", "--data", str(tmp_path / "data"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "KNN  test accuracy" in result.output
    summary = json.loads(out.read_text())
    assert summary["train_images"] + summary["test_images"] == 80
    assert summary["knn"]["accuracy"] > 0.5


def test_curve_parts_are_nested_and_stratified() -> None:
    from training.curve import nested_parts

    labels = np.repeat(np.arange(4), 25).astype(np.int64)
    parts = nested_parts(labels, (0.1, 0.5, 1.0), seed=0)
    assert [len(p) for p in parts] == [8, 48, 100]  # round(2.5) == 2, round(12.5) == 12
    assert set(parts[0]) <= set(parts[1]) <= set(parts[2])
    assert all(np.bincount(labels[p]).min() >= 2 for p in parts)
    with pytest.raises(ValueError, match="fractions"):
        nested_parts(labels, (0.0,), seed=0)


def test_synthetic_pretraining_then_fine_tuning() -> None:
    from training.char_train import predict, train_char_model

    pretrain = _chars(160, seed=7)
    train = _chars(96, seed=8)
    config = replace(TINY, epochs=3, steps_per_epoch=10)
    result = train_char_model(config, train, lambda _: None, pretrain, pretrain_epochs=3)
    assert len(result.pretrain_history) == 3
    assert len(result.history) == 3
    test = _chars(80, seed=9)
    assert float(np.mean(predict(result.model, test.images) == test.labels)) > 0.4
    with pytest.raises(ValueError, match="charset"):
        other = CharSet(pretrain.images, pretrain.labels, "abcd", pretrain.sources, pretrain.kinds)
        train_char_model(config, train, lambda _: None, other)


def test_a_whole_char_run_reports_cnn_and_baselines_on_every_test_set(tmp_path: Path) -> None:
    from training.char_train import train_char_command

    report = train_char_command(
        data="synthetic",
        out=tmp_path,
        charset=CHARSET,
        synthetic_train=240,
        synthetic_test=60,
        synthetic_non_chars=80,
        epochs=3,
        config=TINY,
    )
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["results"] == report["results"]
    assert set(saved["results"]) == {"cnn_float", "cnn_int8", "knn", "svm"}
    assert saved["data"]["train_images"] == 320
    assert saved["non_chars"]["train_images"] == 80 and saved["non_chars"]["test_images"] == 20
    assert 0.0 <= saved["non_chars"]["int8_rejected"] <= 1.0
    degraded = saved["extra_tests"]["held_out_degraded"]
    assert degraded["test_images"] == 60
    assert {"cnn_float", "cnn_int8", "knn", "svm", "per_kind"} <= set(degraded)
    assert saved["int8"]["tflite_bytes"] == (tmp_path / "model.tflite").stat().st_size
    for name in ("model.json", "training.png", "confusion.png", "errors.png"):
        assert (tmp_path / name).is_file(), name
    model = load_model(str(tmp_path / "model.tflite"), accel="cpu")
    assert model.contract.non_char and model.contract.num_classes == len(CHARSET) + 1
    probabilities = CharRecognizer(model).probabilities(np.zeros((3, 32, 24), np.uint8))
    assert probabilities.shape == (3, len(CHARSET))  # the device reads characters only


def test_the_non_character_class_learns_to_refuse_wrong_cuts() -> None:
    """Trained beside the characters, the extra class takes the wrong cuts of unseen lines,
    and the characters still read."""
    from training.char_train import predict_probabilities, train_char_model

    fonts = [f for f in synthetic_fonts(held_out=False) if f.name == "hershey-simplex"]
    config = CharSynthConfig(degrade=0.0, merge_share=0.6)

    def wrong_cuts(count: int, seed: int) -> CharSet:
        return generate_char_set(
            count, seed, charset=CHARSET, fonts=fonts, config=config, non_char=True
        )

    train = CharSet.concatenate([_chars(360, seed=1), wrong_cuts(120, seed=3)])
    result = train_char_model(replace(TINY, epochs=8), train, log=lambda _: None)
    wrong = predict_probabilities(result.model, wrong_cuts(60, seed=4).images)
    chars = _chars(120, seed=2)
    read = predict_probabilities(result.model, chars.images)
    refused = float(np.mean(wrong.argmax(axis=1) == len(CHARSET)))
    assert refused > 0.5, refused  # chance is 0.2
    assert float(np.mean(read.argmax(axis=1) == chars.labels)) > 0.6


def test_char_recipes_match_their_command_lines(tmp_path: Path) -> None:
    from training.char_recipes import char_recipes
    from training.cli import app

    recipes = char_recipes(str(tmp_path))
    assert recipes["chars"].install
    assert not recipes["char-digits"].install  # the bench finds it in runs/char-digits
    for name, recipe in recipes.items():
        options = recipe.options
        assert options.out == f"{tmp_path}/{name}"
        words = recipe.command.split()
        assert words[:4] == ["python", "-m", "training", "train-char"]
        assert words[words.index("--data") + 1] == options.data
        assert int(words[words.index("--epochs") + 1]) == options.config.epochs
        non_chars = int(words[words.index("--non-chars") + 1]) if "--non-chars" in words else 0
        assert non_chars == options.synthetic_non_chars
    result = CliRunner().invoke(app, ["bundle", "--only", "nothing", "--runs", str(tmp_path)])
    assert result.exit_code == 2
    assert "chars" in result.output and "char-digits" in result.output
