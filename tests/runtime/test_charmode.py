"""Per-character mode on the device: the bundled ``chars`` model through ``CharRecognizer`` and
``edge-ocr read`` (numpy, OpenCV and the interpreter only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_ocr.charmode import CharRecognizer
from edge_ocr.cli import app
from edge_ocr.contract import ModelError
from edge_ocr.model import BUNDLED_DIR, LoadedModel, load_model
from edge_ocr.recognize import LineRecognizer
from edge_ocr.render import render_dot_matrix, render_hershey, render_seven_segment
from edge_ocr.segment import char_crops, segment_line

LINES = ("LOT 4711", "EXP 27-04", "SN 8823", "12:45")


def _print(text: str, seed: int, style: str = "hershey") -> np.ndarray:
    rng = np.random.default_rng(seed)
    if style == "dot":
        drawn = render_dot_matrix(text, 34, rng)
    else:
        drawn = render_hershey(text, 34, cv2.FONT_HERSHEY_DUPLEX, False, rng)
    ink = cv2.copyMakeBorder(drawn.ink, 8, 8, 12, 12, cv2.BORDER_CONSTANT, value=0.0)
    return np.rint(225 - 190 * ink).astype(np.uint8)


def _seven_segment(text: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """7-segment print as ``tests/runtime/test_segment.py`` draws it: margins, paper, noise."""
    ink = render_seven_segment(text, height, rng).ink
    margin = max(3, ink.shape[0] // 6)
    ink = cv2.copyMakeBorder(ink, margin, margin, margin, margin, cv2.BORDER_CONSTANT, value=0)
    paper, contrast = rng.uniform(150, 235), rng.uniform(90, 140)
    image = paper - contrast * ink + rng.normal(0.0, rng.uniform(0.0, 6.0), size=ink.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def chars_model() -> LoadedModel:
    return load_model("chars", accel="cpu")


def test_bundled_chars_model_is_a_small_char_model(chars_model: LoadedModel) -> None:
    assert chars_model.contract.kind == "char"
    assert (BUNDLED_DIR / "chars.tflite").stat().st_size <= 100 * 1024
    assert set("0123456789ABCXYZ-/:.") <= set(chars_model.contract.charset)


def test_reads_printed_lines(chars_model: LoadedModel) -> None:
    recognizer = CharRecognizer(chars_model, reject_threshold=0.0)
    images = [_print(t, i, "dot" if i % 2 else "hershey") for i, t in enumerate(LINES)]
    reads = recognizer.read(images)
    assert len(reads) == len(LINES)
    exact = sum(r.text == t for r, t in zip(reads, LINES, strict=True))
    assert exact >= len(LINES) - 1, [r.text for r in reads]
    for read in reads:
        assert len(read.chars) == len(read.text)
        assert 0.0 < read.confidence <= 1.0
        assert read.confidence == pytest.approx(
            float(np.prod([c.confidence for c in read.chars if c.char != " "])), rel=1e-5
        )


def test_all_characters_of_all_lines_go_in_one_interpreter_call(
    chars_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, ...]] = []
    run = chars_model.runner.run

    def counting(batch: Any) -> Any:
        calls.append(batch.shape)
        return run(batch)

    monkeypatch.setattr(chars_model.runner, "run", counting)
    CharRecognizer(chars_model).read([_print(t, i) for i, t in enumerate(LINES)])
    assert len(calls) == 1
    assert calls[0][0] >= sum(len(t.replace(" ", "")) for t in LINES)


def test_low_confidence_characters_are_rejected_not_guessed(chars_model: LoadedModel) -> None:
    strict = CharRecognizer(chars_model, reject_threshold=1.0)
    read = strict.read([_print("A7", 3)])[0]
    assert read.text == "??"
    assert all(c.rejected for c in read.chars)
    assert all(c.char in chars_model.contract.charset for c in read.chars)


def test_blank_crop_reads_as_nothing(chars_model: LoadedModel) -> None:
    read = CharRecognizer(chars_model).read([np.full((40, 160), 200, np.uint8)])[0]
    assert (read.text, read.confidence, read.chars) == ("", 0.0, ())


def test_single_character_crops_are_classified(chars_model: LoadedModel) -> None:
    recognizer = CharRecognizer(chars_model, reject_threshold=0.0)
    # crops cut as the segmenter cuts them (the convention the bundled model was trained on)
    crops = [c for i, t in enumerate(("5K", "7X")) for c in char_crops(segment_line(_print(t, i)))]
    assert [r.char for r in recognizer.classify(crops)] == ["5", "K", "7", "X"]
    assert recognizer.classify([]) == []
    # a whole image of one character reads through segmentation
    assert recognizer.read([_print("5", 12)])[0].text == "5"


def test_recognizers_refuse_the_other_kind(chars_model: LoadedModel) -> None:
    with pytest.raises(ModelError, match="cannot read whole lines"):
        LineRecognizer(chars_model)
    with pytest.raises(ModelError, match="cannot classify single characters"):
        CharRecognizer(load_model("lines", accel="cpu"))


def test_read_cli_prints_the_line_mode_json_shape(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), _print("EXP 4711", 1))
    runner = CliRunner()
    char_result = runner.invoke(
        app, ["read", "--json", "--accel", "cpu", "-m", "chars", str(tmp_path)]
    )
    line_result = runner.invoke(
        app, ["read", "--json", "--accel", "cpu", "-m", "lines", str(tmp_path)]
    )
    assert char_result.exit_code == 0, char_result.output
    char_read = json.loads(char_result.stdout.strip().splitlines()[-1])
    line_read = json.loads(line_result.stdout.strip().splitlines()[-1])
    assert set(char_read) == set(line_read)
    assert set(char_read["chars"][0]) == set(line_read["chars"][0])
    assert char_read["model"] == "chars"
    assert char_read["text"] == "EXP 4711"


def test_reading_is_guided_by_default_and_guidance_can_be_turned_off(
    chars_model: LoadedModel,
) -> None:
    """A 7-segment '1' close to its '4' is one piece to the classical segmenter ('11467' comes
    out as four characters); the default recognizer lets the classifier split it, and
    ``guided=None`` reads the classical boxes as they are."""
    rng = np.random.default_rng(291)
    height = int(rng.integers(22, 42))
    text = "".join(rng.choice(list("0123456789"), size=5))
    image = _seven_segment(text, height, rng)
    guided = CharRecognizer(chars_model, reject_threshold=0.0)
    classical = CharRecognizer(chars_model, reject_threshold=0.0, guided=None)
    assert guided.guide is not None and classical.guide is None
    assert guided.read([image])[0].text == text == "11467"
    assert len(classical.read([image])[0].text) == len(segment_line(image).boxes) == 4
    assert len(guided.segment(image).boxes) == 5
    assert len(classical.segment(image).boxes) == 4
