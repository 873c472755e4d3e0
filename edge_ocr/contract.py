"""The model contract: what a ``.tflite`` expects and produces, stored beside it as JSON.

The runtime trusts nothing it cannot check: a contract whose shapes, classes or checksum do not
match the ``.tflite`` is refused with a message that names the mismatch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from edge_ocr.charset import BLANK_INDEX, CharsetError, validate_charset

CONTRACT_FORMAT = "edge-ocr-model/1"
ModelKind = Literal["line", "char"]


class ModelError(ValueError):
    """A model file or its contract cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class TensorQuantization:
    """Affine int8 quantization: ``real = scale * (q - zero_point)``."""

    dtype: str
    scale: float
    zero_point: int


@dataclass(frozen=True)
class ModelContract:
    """Everything the device must know to feed a model and read its output."""

    name: str
    kind: ModelKind
    charset: str
    input_height: int
    input_width: int
    input_quantization: TensorQuantization
    output_quantization: TensorQuantization
    tflite_sha256: str
    blank_index: int = BLANK_INDEX
    colour: str = "grey"
    binning: str = "area, aspect kept, text bright on zero background"
    reject_threshold: float = 0.5
    """Character confidence below which a read character is reported as rejected ('?')."""
    non_char: bool = False
    """Char models only: the last output class means "not one character" (a fragment, or two
    characters merged), trained on the wrong cuts a segmenter makes. The runtime reads only
    the charset's classes; the probability left over is the model's doubt that the crop is a
    character at all, so such crops come out with low confidence and are rejected."""
    training: dict[str, Any] = field(default_factory=dict)
    format: str = CONTRACT_FORMAT

    @property
    def num_classes(self) -> int:
        return len(self.charset) + (1 if self.kind == "line" else 0) + (1 if self.non_char else 0)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: Path) -> None:
        path.write_text(self.to_json(), encoding="utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _quantization(data: Any, where: str) -> TensorQuantization:
    if not isinstance(data, dict):
        raise ModelError(f"{where}: expected an object with dtype, scale and zero_point")
    try:
        return TensorQuantization(str(data["dtype"]), float(data["scale"]), int(data["zero_point"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{where}: bad quantization ({error})") from None


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ModelError(f"{where}: expected true or false, not {value!r}")
    return value


def load_contract(path: Path) -> ModelContract:
    """Read and validate a ``model.json``."""
    if not path.is_file():
        raise ModelError(f"model contract not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"{path}: not a JSON model contract ({error})") from None
    if not isinstance(data, dict) or data.get("format") != CONTRACT_FORMAT:
        raise ModelError(
            f"{path}: not an edge-ocr model contract (format must be {CONTRACT_FORMAT!r})"
        )
    non_char = _flag(data.get("non_char", False), f"{path}: non_char")
    try:
        contract = ModelContract(
            name=str(data["name"]),
            kind=data["kind"],
            charset=str(data["charset"]),
            input_height=int(data["input_height"]),
            input_width=int(data["input_width"]),
            input_quantization=_quantization(
                data["input_quantization"], f"{path}: input_quantization"
            ),
            output_quantization=_quantization(
                data["output_quantization"], f"{path}: output_quantization"
            ),
            tflite_sha256=str(data["tflite_sha256"]),
            blank_index=int(data.get("blank_index", BLANK_INDEX)),
            colour=str(data.get("colour", "grey")),
            binning=str(data.get("binning", "")),
            reject_threshold=float(data.get("reject_threshold", 0.5)),
            non_char=non_char,
            training=dict(data.get("training", {})),
        )
    except KeyError as error:
        raise ModelError(f"{path}: missing key {error}") from None
    except (TypeError, ValueError) as error:
        raise ModelError(f"{path}: bad value ({error})") from None
    if contract.kind not in ("line", "char"):
        raise ModelError(f"{path}: kind must be 'line' or 'char', not {contract.kind!r}")
    try:
        validate_charset(contract.charset)
    except CharsetError as error:
        raise ModelError(f"{path}: {error}") from None
    if contract.kind == "line" and contract.blank_index != BLANK_INDEX:
        raise ModelError(f"{path}: blank_index must be {BLANK_INDEX}")
    if contract.non_char and contract.kind != "char":
        raise ModelError(f"{path}: non_char applies to char models only")
    if not 0.0 <= contract.reject_threshold <= 1.0:
        raise ModelError(f"{path}: reject_threshold must be between 0 and 1")
    return contract
