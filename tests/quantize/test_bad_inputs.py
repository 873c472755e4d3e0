"""Every bad input gives one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from quantize_support import DIGITS, Tiny
from typer.testing import CliRunner

from quantize.cli import app

runner = CliRunner()


def _one_line_error(args: list[str], expected: str, code: int = 2) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("quantize: error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.output
    assert expected in result.stderr, result.stderr


def test_int8_missing_model(tmp_path: Path) -> None:
    _one_line_error(
        [
            "int8",
            str(tmp_path / "nope.keras"),
            "--calib",
            "synthetic",
            "--out",
            str(tmp_path / "m.tflite"),
        ],
        "Keras model not found",
    )


def test_int8_model_that_does_not_load(tmp_path: Path) -> None:
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"this is not a zip archive")
    _one_line_error(
        ["int8", str(broken), "--calib", "synthetic", "--out", str(tmp_path / "m.tflite")],
        "cannot load the Keras model",
    )


def test_int8_wrong_charset(tiny: Tiny, tmp_path: Path) -> None:
    _one_line_error(
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(tiny.calib_dir),
            "--out",
            str(tmp_path / "m.tflite"),
        ],
        "11 output classes",
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--kind", "char"], "--kind char, but its output shape is that of a line model"),
        (["--non-char"], "--non-char applies to char models only"),
    ],
)
def test_int8_char_options_on_a_line_model(
    tiny: Tiny, tmp_path: Path, options: list[str], expected: str
) -> None:
    _one_line_error(
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(tiny.calib_dir),
            "--charset",
            DIGITS,
            *options,
            "--out",
            str(tmp_path / "m.tflite"),
        ],
        expected,
    )


def test_int8_missing_calibration_folder(tiny: Tiny, tmp_path: Path) -> None:
    _one_line_error(
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(tmp_path / "none"),
            "--charset",
            DIGITS,
            "--out",
            str(tmp_path / "m.tflite"),
        ],
        "data folder not found",
    )


def test_int8_unknown_synthetic_kind(tiny: Tiny, tmp_path: Path) -> None:
    _one_line_error(
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            "synthetic:faces",
            "--charset",
            DIGITS,
            "--out",
            str(tmp_path / "m.tflite"),
        ],
        "unknown synthetic data",
    )


def test_int8_out_must_be_tflite(tiny: Tiny, tmp_path: Path) -> None:
    _one_line_error(
        [
            "int8",
            str(tiny.keras_path),
            "--calib",
            str(tiny.calib_dir),
            "--charset",
            DIGITS,
            "--out",
            str(tmp_path / "m.bin"),
        ],
        "must end in .tflite",
    )


def test_check_float_model_where_int8_is_expected(tiny: Tiny, float_tflite: Path) -> None:
    _one_line_error(
        ["check", str(tiny.keras_path), str(float_tflite), "--data", str(tiny.test_dir)],
        "not a full-int8 model: op 0 CONV_2D",
    )


def test_check_int8_without_contract(tiny: Tiny, good_int8: Path, tmp_path: Path) -> None:
    alone = tmp_path / "alone.tflite"
    shutil.copyfile(good_int8, alone)
    _one_line_error(
        ["check", str(tiny.keras_path), str(alone), "--data", str(tiny.test_dir)],
        "no contract beside it",
    )


def test_check_missing_data_folder(tiny: Tiny, good_int8: Path, tmp_path: Path) -> None:
    _one_line_error(
        ["check", str(tiny.keras_path), str(good_int8), "--data", str(tmp_path / "nothing")],
        "data folder not found",
    )


def test_check_folder_without_usable_labels(tiny: Tiny, good_int8: Path, tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text("file,text\nmissing.png,12\n")
    _one_line_error(
        ["check", str(tiny.keras_path), str(good_int8), "--data", str(tmp_path)],
        "no usable labelled images",
    )


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", b"\x00" * 64])
def test_report_not_a_model(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(content)
    _one_line_error(["report", str(fake), "--no-latency"], "not a TFLite model")


def test_report_damaged_model(good_int8: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(good_int8.read_bytes()[:200])
    _one_line_error(["report", str(damaged), "--no-latency"], "not a readable TFLite model")


def test_report_missing_file(tmp_path: Path) -> None:
    _one_line_error(["report", str(tmp_path / "none.tflite")], "model not found")


def test_export_c_float_model(float_tflite: Path, tmp_path: Path) -> None:
    _one_line_error(
        ["export-c", str(float_tflite), "--name", "tiny", "--out", str(tmp_path)],
        "not a full-int8 model",
    )


def test_export_c_bad_name(good_int8: Path, tmp_path: Path) -> None:
    _one_line_error(
        ["export-c", str(good_int8), "--name", "my-model", "--out", str(tmp_path)],
        "is not a C identifier",
    )


def test_export_c_sha_mismatch(good_int8: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny.tflite"
    data = bytearray(good_int8.read_bytes())
    data[-1] ^= 0xFF
    copy.write_bytes(bytes(data))
    shutil.copyfile(good_int8.with_suffix(".json"), tmp_path / "tiny.json")
    _one_line_error(
        ["export-c", str(copy), "--name", "tiny", "--out", str(tmp_path / "c")],
        "does not match its contract",
    )
