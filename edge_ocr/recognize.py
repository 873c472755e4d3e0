"""Line recognition: bin crops, run them as one batch, decode. Numpy and the interpreter only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelError
from edge_ocr.decode import greedy_decode
from edge_ocr.model import LoadedModel
from edge_ocr.preprocess import LineShape, bin_line
from edge_ocr.types import BinnedLine, FloatArray, LineCrop

REJECT_MARK = "?"


@dataclass(frozen=True)
class CharRead:
    """One read character; ``rejected`` when its confidence is under the reject threshold."""

    char: str
    confidence: float
    rejected: bool = False


@dataclass(frozen=True)
class LineRead:
    """The text of one line crop, with confidences. Rejected characters read as '?'."""

    text: str
    confidence: float
    chars: tuple[CharRead, ...]

    @property
    def rejected(self) -> bool:
        return any(c.rejected for c in self.chars)


def input_lookup(model: LoadedModel) -> npt.NDArray[np.generic]:
    """uint8 pixel → model input value, as a 256-entry table (quantization folded in)."""
    pixels = np.arange(256, dtype=np.float64) / 255.0
    if model.runner.input_dtype == np.float32:
        return pixels.astype(np.float32)
    scale, zero_point = model.runner.input_quantization
    info = np.iinfo(model.runner.input_dtype)
    table: npt.NDArray[np.generic] = np.clip(
        np.rint(pixels / scale + zero_point), info.min, info.max
    ).astype(model.runner.input_dtype)
    return table


def dequantize_output(model: LoadedModel, raw: npt.NDArray[np.generic]) -> FloatArray:
    if model.runner.output_dtype == np.float32:
        return raw.astype(np.float32)
    scale, zero_point = model.runner.output_quantization
    probabilities: FloatArray = ((raw.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return probabilities


class LineRecognizer:
    """Reads line crops with a CTC line model."""

    def __init__(self, model: LoadedModel, reject_threshold: float | None = None) -> None:
        if model.contract.kind != "line":
            raise ModelError(
                f"{model.path}: a {model.contract.kind} model cannot read whole lines this way"
            )
        self.model = model
        self.shape = LineShape(model.contract.input_height, model.contract.input_width)
        self.reject_threshold = (
            model.contract.reject_threshold if reject_threshold is None else reject_threshold
        )
        self._lookup = input_lookup(model)

    def bin(self, crop: LineCrop) -> BinnedLine:
        return bin_line(crop, self.shape)

    def probabilities(self, binned: npt.NDArray[np.uint8]) -> FloatArray:
        """``N x T x C`` class probabilities of a stack of binned lines."""
        if binned.ndim != 3 or binned.shape[1:] != (self.shape.height, self.shape.width):
            raise ValueError(f"expected N x {self.shape.height} x {self.shape.width} binned lines")
        if binned.shape[0] == 0:
            return np.zeros((0, 0, self.model.contract.num_classes), np.float32)
        raw = self.model.runner.run(self._lookup[binned][..., np.newaxis])
        probabilities = dequantize_output(self.model, raw)
        return probabilities.reshape(binned.shape[0], -1, probabilities.shape[-1])

    def read_binned(self, binned: npt.NDArray[np.uint8]) -> list[LineRead]:
        return [self._line_read(p) for p in self.probabilities(binned)]

    def read(self, crops: Sequence[LineCrop]) -> list[LineRead]:
        """Read every crop in one batched interpreter call."""
        if not crops:
            return []
        return self.read_binned(np.stack([self.bin(c) for c in crops]))

    def _line_read(self, probabilities: FloatArray) -> LineRead:
        decoded = greedy_decode(probabilities, self.model.contract.charset)
        chars = tuple(
            CharRead(c, conf, conf < self.reject_threshold)
            for c, conf in zip(decoded.text, decoded.char_confidences, strict=True)
        )
        text = "".join(REJECT_MARK if c.rejected else c.char for c in chars)
        return LineRead(text, decoded.confidence, chars)
