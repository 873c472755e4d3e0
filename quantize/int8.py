"""Full-integer post-training quantization, in the manner of tflite-micro's ``ptq.py``.

int8 weights and activations, int8 input and output, ``TFLITE_BUILTINS_INT8`` only: a graph
that XNNPACK, int8-only accelerators and TensorFlow Lite Micro all run. Not dynamic-range
quantization, which leaves float activations and float I/O.

The input rescaling (0-255 pixels to 0-1) is folded into the input quantization: the
calibrated input has scale 1/255 and zero point -128, so the device feeds ``pixel - 128``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_ocr.charset import DEFAULT_CHARSET
from edge_ocr.contract import ModelContract, ModelKind, TensorQuantization, file_sha256
from quantize.errors import QuantizeError


def _tensorflow() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    return tf


LOGIT_MARGIN = 12.0
"""Nats below the weakest best logit of any calibration frame where a line model's logits are
floored. The int8 softmax output steps by 1/256, so a class ln(256) ≈ 5.5 nats below a frame's
best already reads 0: nothing the runtime can see is lost above the floor."""


def floor_logits(model: Any, calibration: npt.NDArray[np.uint8]) -> tuple[Any, float]:
    """The same line recognizer with its logits floored just below anything that can matter,
    and the floor.

    int8 gives the logits tensor one scale for its whole calibrated range, and classes no frame
    could be (logits down to -127) stretch that range to ~0.6 nats a step: near-tied classes
    ('O' and '0', a character and the blank) then land on the same int8 value, and argmax gives
    the tie to the lower index, the blank or '0' (measured: 221 of 373 frames where int8 and
    float chose differently on 2,000 captchas were such ties). Softmax ignores a shift, so
    ``softmax(max(z, floor)) = softmax(relu(z - floor))``: the floor becomes a bias shift and a
    ReLU that the converter fuses into the logits convolution, and the int8 range starts at
    the floor. A model without a ``logits`` layer feeding its softmax is returned unchanged."""
    import keras

    try:
        logits_layer = model.get_layer("logits")
    except ValueError:
        return model, float("-inf")
    logits = keras.Model(model.inputs, logits_layer.output)
    pixels = calibration.astype(np.float32)[..., None] / 255.0
    values = np.asarray(logits.predict(pixels, batch_size=128, verbose=0))
    weakest_best = float(values.max(axis=-1).min())
    floor = min(0.0, weakest_best) - LOGIT_MARGIN
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    floored_layer = clone.get_layer("logits")
    kernel, bias = floored_layer.get_weights()
    floored_layer.set_weights([kernel, bias - floor])
    floored = keras.layers.ReLU(name="logit_floor")(floored_layer.output)
    probabilities = keras.layers.Softmax(axis=-1, name="floored_probabilities")(floored)
    return keras.Model(clone.inputs, probabilities, name=model.name), floor


def convert_int8(model: Any, calibration: npt.NDArray[np.uint8]) -> bytes:
    """Full-int8 flatbuffer of a Keras model, calibrated on binned uint8 images (N x H x W)."""
    tf = _tensorflow()
    if calibration.ndim != 3 or len(calibration) == 0:
        raise ValueError("calibration must be a non-empty N x H x W stack of binned images")
    height, width = calibration.shape[1:]
    model_height, model_width = model.input_shape[1:3]
    if (height, width) != (model_height, model_width):
        raise ValueError(
            f"calibration images are {height}x{width}, the model takes {model_height}x{model_width}"
        )

    def representative() -> Iterator[list[npt.NDArray[np.float32]]]:
        for image in calibration:
            yield [(image.astype(np.float32) / 255.0)[None, :, :, None]]

    with tempfile.TemporaryDirectory() as saved_model:
        # A SavedModel with a batch-1 signature: variables become constants and no shape ops
        # are left for a dynamic batch; the device resizes the input for larger batches.
        model.export(
            saved_model,
            format="tf_saved_model",
            verbose=False,
            input_signature=[tf.TensorSpec([1, height, width, 1], tf.float32, name="image")],
        )
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        return bytes(converter.convert())


def tensor_quantization(flatbuffer: bytes) -> tuple[TensorQuantization, TensorQuantization]:
    """(input, output) quantization of a converted model, read back through the interpreter."""
    from edge_ocr.interpreter import open_interpreter

    interpreter = open_interpreter(flatbuffer, accel="cpu").interpreter
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    return (
        TensorQuantization(
            np.dtype(inp["dtype"]).name, float(inp["quantization"][0]), int(inp["quantization"][1])
        ),
        TensorQuantization(
            np.dtype(out["dtype"]).name, float(out["quantization"][0]), int(out["quantization"][1])
        ),
    )


def export_int8(
    model: Any,
    calibration: npt.NDArray[np.uint8],
    out: Path,
    name: str,
    kind: ModelKind,
    charset: str,
    training: dict[str, Any] | None = None,
    reject_threshold: float = 0.0,
    non_char: bool = False,
) -> ModelContract:
    """Write ``out`` (.tflite) and its contract ``out.with_suffix('.json')``; a line model's
    logits are floored first (``floor_logits``). ``non_char``: the char model's last class
    means "not one character" (``ModelContract.non_char``)."""
    extra: dict[str, Any] = {}
    if kind == "line":
        model, floor = floor_logits(model, calibration)
        if np.isfinite(floor):
            extra["logit_floor"] = round(floor, 2)
    flatbuffer = convert_int8(model, calibration)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(flatbuffer)
    input_q, output_q = tensor_quantization(flatbuffer)
    contract = ModelContract(
        name=name,
        kind=kind,
        charset=charset,
        input_height=int(calibration.shape[1]),
        input_width=int(calibration.shape[2]),
        input_quantization=input_q,
        output_quantization=output_q,
        tflite_sha256=file_sha256(out),
        reject_threshold=reject_threshold,
        non_char=non_char,
        training={**(training or {}), "calibration_images": len(calibration), **extra},
    )
    contract.save(out.with_suffix(".json"))
    return contract


@dataclass(frozen=True)
class Int8Export:
    """What ``quantize int8`` produced."""

    tflite: Path
    contract_path: Path
    contract: ModelContract
    calibration: str
    skipped: tuple[str, ...]
    tflite_bytes: int


def quantize_keras_file(
    model_path: Path,
    calib: str,
    out: Path,
    samples: int = 500,
    kind: ModelKind | None = None,
    name: str | None = None,
    charset: str = DEFAULT_CHARSET,
    seed: int = 0,
    reject_threshold: float = 0.5,
    non_char: bool = False,
) -> Int8Export:
    """Full-int8 PTQ of a saved Keras recognizer, calibrated on ``calib`` (a labelled folder or
    ``synthetic[:lines|captcha]``), written to ``out`` with its contract beside it.

    The result is read back and removed unless every op is int8: the converter's own check is
    the first gate, this one is the one users can see and rely on.
    """
    from quantize.data import load_images
    from quantize.graph import read_graph, require_int8
    from quantize.keras_model import check_charset, geometry, load_keras_model

    if out.suffix != ".tflite":
        raise QuantizeError(f"--out must end in .tflite (the contract goes beside it): {out}")
    if samples < 1:
        raise QuantizeError("--samples must be at least 1")
    if not 0.0 <= reject_threshold <= 1.0:
        raise QuantizeError("--reject-threshold must be between 0 and 1")
    model = load_keras_model(model_path)
    found = geometry(model, str(model_path))
    if kind is not None and kind != found.kind:
        raise QuantizeError(
            f"{model_path}: --kind {kind}, but its output shape is that of a {found.kind} model"
        )
    check_charset(found, charset, str(model_path), non_char)
    calibration = load_images(
        calib,
        found.kind,
        found.height,
        found.width,
        charset,
        samples,
        seed,
        held_out=False,
        labels_needed=False,
    )
    training = {
        "source_model": model_path.name,
        "calibration": calibration.description,
        "calibration_seed": seed,
    }
    try:
        contract = export_int8(
            model,
            calibration.images,
            out,
            name or out.stem,
            found.kind,
            charset,
            training=training,
            reject_threshold=reject_threshold,
            non_char=non_char,
        )
    except Exception as error:  # the converter raises its own ConverterError, not a ValueError
        lines = [line for line in str(error).splitlines() if line.strip()]
        detail = lines[-1] if lines else type(error).__name__
        raise QuantizeError(f"{model_path}: conversion failed ({detail})") from None
    try:
        require_int8(read_graph(out), str(out))
    except QuantizeError:
        out.unlink(missing_ok=True)
        out.with_suffix(".json").unlink(missing_ok=True)
        raise
    return Int8Export(
        out,
        out.with_suffix(".json"),
        contract,
        calibration.description,
        calibration.skipped,
        out.stat().st_size,
    )
