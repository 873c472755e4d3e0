"""``edge-ocr read`` on the bundled models, and every kind of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.cli import app
from edge_ocr.contract import ModelError, load_contract
from edge_ocr.model import BUNDLED_DIR, bundled_models, load_model
from edge_ocr.render import render_dot_matrix, render_hershey

runner = CliRunner()
CLEAN_LINES = ("LOT 4711", "EXP 2027-04-11", "SN 88-1234", "12:45 L2", "BATCH B7K29", "BB 11/04/27")


def _clean_print(text: str, index: int) -> np.ndarray:
    rng = np.random.default_rng(index)
    drawn = (
        render_dot_matrix(text, 30, rng)
        if index % 2
        else render_hershey(text, 30, cv2.FONT_HERSHEY_SIMPLEX, False, rng)
    )
    ink = cv2.copyMakeBorder(drawn.ink, 6, 6, 10, 10, cv2.BORDER_CONSTANT, value=0.0)
    return np.rint(230 - 200 * ink).astype(np.uint8)


def _reads(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_bundled_models_are_listed_and_valid() -> None:
    assert {"lines", "captcha"} <= set(bundled_models())
    for name in bundled_models():
        contract = load_contract(BUNDLED_DIR / f"{name}.json")
        assert contract.kind in ("line", "char")
        assert (BUNDLED_DIR / f"{name}.tflite").stat().st_size <= 300 * 1024


def test_bundled_lines_model_reads_clean_prints(tmp_path: Path) -> None:
    for index, text in enumerate(CLEAN_LINES):
        cv2.imwrite(str(tmp_path / f"{index}.png"), _clean_print(text, index))
    result = runner.invoke(app, ["read", "--json", "--accel", "cpu", str(tmp_path)])
    assert result.exit_code == 0, result.output
    reads = _reads(result.stdout)
    assert [r["file"] for r in reads] == [
        str(tmp_path / f"{i}.png") for i in range(len(CLEAN_LINES))
    ]
    correct = sum(r["text"] == text for r, text in zip(reads, CLEAN_LINES, strict=True))
    assert correct >= len(CLEAN_LINES) - 1, [r["text"] for r in reads]
    for read in reads:
        chars = read["chars"]
        assert isinstance(chars, list) and len(chars) == len(str(read["text"]))
        assert 0.0 <= float(read["confidence"]) <= 1.0  # type: ignore[arg-type]


def test_bundled_samples_mostly_read(tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[2] / "edge_ocr" / "samples" / "captcha"
    truth = dict(
        line.split(",")[:2] for line in (samples / "labels.csv").read_text().splitlines()[1:]
    )
    result = runner.invoke(
        app, ["read", "--json", "--accel", "cpu", "--model", "captcha", str(samples)]
    )
    assert result.exit_code == 0, result.output
    reads = _reads(result.stdout)
    correct = sum(r["text"] == truth[Path(str(r["file"])).name] for r in reads)
    assert correct >= len(truth) // 2


def test_unreadable_files_are_reported_and_the_rest_still_read(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), _clean_print("LOT 4711", 0))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = runner.invoke(
        app, ["read", "--accel", "cpu", str(corrupt), str(tmp_path / "missing.png"), str(good)]
    )
    assert result.exit_code == 1
    assert "corrupt.png: not a readable image" in result.stderr
    assert "missing.png: no such file" in result.stderr
    assert "Traceback" not in result.output
    assert str(good) in result.stdout


@pytest.mark.parametrize(
    "model_name, message",
    [("nope.tflite", "model not found"), ("no-such-model", "bundled models:")],
)
def test_missing_models_give_one_line_errors(tmp_path: Path, model_name: str, message: str) -> None:
    image = tmp_path / "x.png"
    cv2.imwrite(str(image), _clean_print("12", 0))
    result = runner.invoke(
        app,
        [
            "read",
            "--model",
            str(tmp_path / model_name) if model_name.endswith(".tflite") else model_name,
            str(image),
        ],
    )  # type: ignore[operator]
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_wrong_model_files_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"this is not a flatbuffer at all")
    shutil.copyfile(BUNDLED_DIR / "lines.json", tmp_path / "fake.json")
    with pytest.raises(ModelError, match="not a TFLite flatbuffer"):
        load_model(str(fake))

    copied = tmp_path / "copy.tflite"
    shutil.copyfile(BUNDLED_DIR / "lines.tflite", copied)
    with pytest.raises(ModelError, match="no contract"):
        load_model(str(copied))

    contract = json.loads((BUNDLED_DIR / "lines.json").read_text())
    contract["tflite_sha256"] = "0" * 64
    (tmp_path / "copy.json").write_text(json.dumps(contract))
    with pytest.raises(ModelError, match="does not match its contract"):
        load_model(str(copied))

    contract = json.loads((BUNDLED_DIR / "lines.json").read_text())
    contract["input_width"] = 200
    (tmp_path / "copy.json").write_text(json.dumps(contract))
    with pytest.raises(ModelError, match="input tensor"):
        load_model(str(copied))

    (tmp_path / "copy.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a JSON model contract"):
        load_model(str(copied))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("lines", True, "non_char applies to char models only"),
        ("chars", "yes", "non_char: expected true or false"),
        ("chars", not load_contract(BUNDLED_DIR / "chars.json").non_char, "output has"),
    ],
)
def test_a_wrong_non_character_flag_is_refused(
    tmp_path: Path, name: str, value: object, message: str
) -> None:
    """The flag decides how many output classes the model has: a contract that gets it wrong
    would read the non-character class as a character, or drop a character."""
    copied = tmp_path / "copy.tflite"
    shutil.copyfile(BUNDLED_DIR / f"{name}.tflite", copied)
    contract = json.loads((BUNDLED_DIR / f"{name}.json").read_text())
    contract["non_char"] = value
    (tmp_path / "copy.json").write_text(json.dumps(contract))
    with pytest.raises(ModelError, match=message):
        load_model(str(copied))


def test_acceleration_choices(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert load_model("lines", accel="none").accelerator == "cpu-builtin"
    assert load_model("lines", accel="cpu").accelerator == "cpu-xnnpack"
    with caplog.at_level("WARNING", logger="edge_ocr"):
        fallback = load_model("lines", accel="gpu")
    assert fallback.accelerator == "cpu-xnnpack"
    assert sum("no GPU delegate" in r.message for r in caplog.records) == 1
    with pytest.raises(ModelError, match="--accel"):
        load_model("lines", accel=str(tmp_path / "missing-delegate.so"))
    broken = tmp_path / "broken.so"
    broken.write_bytes(b"not a shared library")
    with caplog.at_level("WARNING", logger="edge_ocr"):
        assert load_model("lines", accel=str(broken)).accelerator == "cpu-xnnpack"
