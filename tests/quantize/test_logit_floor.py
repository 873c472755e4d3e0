"""The logit floor of int8 line exports: same probabilities, finer int8 steps where ties are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from quantize_support import SHAPE, Tiny, digit_crops

from edge_ocr.preprocess import bin_line


def _softmax_input_scale(flatbuffer: bytes) -> float:
    """int8 scale of the tensor the SOFTMAX op reads: the logits, as the device computes them."""
    from edge_ocr.interpreter import open_interpreter

    interpreter = open_interpreter(flatbuffer, accel="cpu").interpreter
    softmax = next(op for op in interpreter._get_ops_details() if op["op_name"] == "SOFTMAX")
    details = {t["index"]: t for t in interpreter.get_tensor_details()}
    return float(details[int(softmax["inputs"][0])]["quantization"][0])


def test_floor_keeps_the_probabilities_and_narrows_the_int8_logit_steps(tiny: Tiny) -> None:
    import keras

    from quantize.int8 import LOGIT_MARGIN, convert_int8, floor_logits

    model = keras.models.load_model(tiny.keras_path, compile=False)
    crops, _ = digit_crops(120, seed=4)
    calibration = np.stack([bin_line(c, SHAPE) for c in crops])
    floored, floor = floor_logits(model, calibration)
    assert floor <= -LOGIT_MARGIN

    pixels = calibration.astype(np.float32)[..., None] / 255.0
    before = model.predict(pixels, verbose=0)
    after = floored.predict(pixels, verbose=0)
    assert np.abs(before - after).max() < 1e-4
    assert np.array_equal(before.argmax(-1), after.argmax(-1))

    plain_scale = _softmax_input_scale(convert_int8(model, calibration))
    floored_scale = _softmax_input_scale(convert_int8(floored, calibration))
    assert floored_scale < 0.9 * plain_scale, (plain_scale, floored_scale)


def test_the_contract_records_the_floor(good_int8: Path) -> None:
    contract = json.loads(good_int8.with_suffix(".json").read_text())
    assert contract["training"]["logit_floor"] <= -12.0
