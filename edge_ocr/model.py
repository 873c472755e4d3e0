"""Finding, checking and opening a model: a ``.tflite`` plus its ``.json`` contract."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ocr.contract import ModelContract, ModelError, file_sha256, load_contract
from edge_ocr.interpreter import BatchRunner, open_interpreter

BUNDLED_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "lines"
TFLITE_MAGIC = b"TFL3"


def bundled_models() -> list[str]:
    """Names of the models shipped inside the package."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.tflite") if p.with_suffix(".json").is_file())


def resolve_model(spec: str) -> tuple[Path, Path]:
    """(tflite, contract) for a bundled model name, a ``.tflite`` path or a run folder.

    The contract of ``m.tflite`` is ``m.json`` beside it, else ``model.json`` in its folder.
    """
    if (
        "/" not in spec
        and not spec.endswith(".tflite")
        and (BUNDLED_DIR / f"{spec}.tflite").is_file()
    ):
        return BUNDLED_DIR / f"{spec}.tflite", BUNDLED_DIR / f"{spec}.json"
    path = Path(spec)
    if path.is_dir():
        path = path / "model.tflite"
    if not path.is_file():
        names = ", ".join(bundled_models()) or "none"
        raise ModelError(f"model not found: {spec} (bundled models: {names})")
    for candidate in (path.with_suffix(".json"), path.parent / "model.json"):
        if candidate.is_file():
            return path, candidate
    raise ModelError(
        f"{path}: no contract beside it ({path.with_suffix('.json').name} or model.json)"
    )


@dataclass
class LoadedModel:
    """An opened interpreter whose tensors have been checked against the contract."""

    path: Path
    contract: ModelContract
    runner: BatchRunner
    accelerator: str
    backend: str


def _check_tensors(contract: ModelContract, runner: BatchRunner, where: Path) -> None:
    shape = runner.input_shape
    expected = (contract.input_height, contract.input_width, 1)
    if len(shape) != 4 or shape[1:] != expected:
        raise ModelError(
            f"{where}: input tensor {list(shape)} does not match the contract "
            f"(N, {contract.input_height}, {contract.input_width}, 1)"
        )
    if runner.input_dtype.name != contract.input_quantization.dtype:
        raise ModelError(
            f"{where}: input is {runner.input_dtype.name}, the contract says "
            f"{contract.input_quantization.dtype}"
        )
    output_shape = runner.interpreter.get_output_details()[0]["shape"]
    if int(output_shape[-1]) != contract.num_classes:
        raise ModelError(
            f"{where}: output has {int(output_shape[-1])} classes, the contract's charset "
            f"needs {contract.num_classes}"
        )
    if runner.input_dtype == np.int8:
        scale, zero_point = runner.input_quantization
        expected_q = contract.input_quantization
        if (
            abs(scale - expected_q.scale) > 1e-6 * max(1.0, expected_q.scale)
            or zero_point != expected_q.zero_point
        ):
            raise ModelError(
                f"{where}: input quantization ({scale}, {zero_point}) does not match the contract"
            )


def load_model(spec: str = DEFAULT_MODEL, accel: str = "auto", threads: int = 1) -> LoadedModel:
    """Open a model by name or path, refusing it when the contract does not fit the file."""
    tflite, contract_path = resolve_model(spec)
    contract = load_contract(contract_path)
    with tflite.open("rb") as handle:
        header = handle.read(8)
    if len(header) < 8 or header[4:8] != TFLITE_MAGIC:
        raise ModelError(f"{tflite}: not a TFLite flatbuffer")
    digest = file_sha256(tflite)
    if digest != contract.tflite_sha256:
        raise ModelError(
            f"{tflite}: sha256 {digest[:12]}… does not match its contract "
            f"({contract.tflite_sha256[:12]}…); the model and model.json are from different exports"
        )
    opened = open_interpreter(tflite, accel=accel, threads=threads)
    runner = BatchRunner(opened)
    _check_tensors(contract, runner, tflite)
    return LoadedModel(tflite, contract, runner, opened.accelerator, opened.backend)
