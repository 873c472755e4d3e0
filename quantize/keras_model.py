"""Loading a trained Keras model and reading what kind of recognizer it is from its shapes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_ocr.charset import CharsetError, validate_charset
from edge_ocr.contract import ModelKind
from quantize.errors import QuantizeError


@dataclass(frozen=True)
class Geometry:
    """What a recognizer takes and gives: ``line`` (B, H, W, 1) → (B, 1, T, C) CTC
    probabilities, or ``char`` (B, H, W, 1) → (B, C) class probabilities."""

    kind: ModelKind
    height: int
    width: int
    classes: int


def load_keras_model(path: Path) -> Any:
    """A saved ``.keras`` (or ``.h5``) model, without its optimizer; one-line errors."""
    if not path.is_file():
        raise QuantizeError(f"Keras model not found: {path}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, zipfile errors, ...
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QuantizeError(f"{path}: cannot load the Keras model ({detail[:200]})") from None


def geometry(model: Any, where: str) -> Geometry:
    """The kind and shapes of a loaded model, refused when it is neither recognizer."""
    input_shape = tuple(model.input_shape)
    output_shape = tuple(model.output_shape)
    if len(input_shape) != 4 or input_shape[3] != 1 or None in input_shape[1:]:
        raise QuantizeError(
            f"{where}: expected a (batch, height, width, 1) greyscale input, got {input_shape}"
        )
    height, width = int(input_shape[1]), int(input_shape[2])
    if len(output_shape) == 4 and output_shape[1] == 1:
        return Geometry("line", height, width, int(output_shape[3]))
    if len(output_shape) == 2:
        return Geometry("char", height, width, int(output_shape[1]))
    raise QuantizeError(
        f"{where}: output {output_shape} is neither a line model's "
        "(batch, 1, steps, classes) nor a char model's (batch, classes)"
    )


def check_charset(found: Geometry, charset: str, where: str, non_char: bool = False) -> None:
    """The charset must give every output class a meaning (plus the CTC blank for lines, plus
    the non-character class for char models trained with one)."""
    try:
        validate_charset(charset)
    except CharsetError as error:
        raise QuantizeError(f"--charset: {error}") from None
    if non_char and found.kind != "char":
        raise QuantizeError(f"{where}: --non-char applies to char models only")
    expected = len(charset) + (1 if found.kind == "line" else 0) + (1 if non_char else 0)
    if found.classes != expected:
        blank = (
            " plus the CTC blank"
            if found.kind == "line"
            else " plus the non-character class"
            if non_char
            else ""
        )
        raise QuantizeError(
            f"{where}: the model has {found.classes} output classes but the "
            f"charset has {len(charset)} characters{blank} ({expected}); pass "
            "the --charset it was trained with"
        )
