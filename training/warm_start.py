"""A trainable float line model rebuilt from an int8 ``.tflite``: fine-tune what you were shipped.

A user holds the bundled int8 models but not the float runs they came from, and the usual
story is a small labelled set of their own prints: starting from the shipped weights is worth
far more than starting from scratch. The int8 graph is the line model with every batch norm
folded into the convolution before it, so its weights dequantize back into the Keras model of
``training.models``. Each batch norm is then unfolded with statistics measured on the user's
images: ``gamma = sqrt(var + eps)``, ``beta = mean + bias`` and the moving statistics set to
``mean`` and ``var`` leave the inference function untouched (conv + bias, as folded), and make
the training-mode batch statistics start where the moving ones are, so the first steps of
fine-tuning do not shake the model apart.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelContract, load_contract
from edge_ocr.model import resolve_model
from quantize.graph import read_constants, read_graph
from training.models import LineModelConfig, build_line_model

CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")
STATISTICS_BATCH = 64


class WarmStartError(ValueError):
    """The ``.tflite`` is not a line model this code can rebuild."""


Convolution = tuple[str, npt.NDArray[np.float32], npt.NDArray[np.float32]]
"""(op name, float kernel in the file's layout, float bias)."""


def _convolutions(tflite: Path) -> list[Convolution]:
    """Every convolution of the int8 graph, dequantized, in execution order."""
    graph = read_graph(tflite)
    constants = read_constants(tflite)
    found: list[Convolution] = []
    for op in graph.ops:
        if op.name not in CONV_OPS:
            continue
        weights, bias = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[2])
        if weights.dtype != "int8" or not weights.scale or not bias.scale:
            raise WarmStartError(
                f"{tflite}: op {op.index} {op.name} has {weights.dtype} weights, not "
                "quantized int8: export the model with `python -m quantize int8` first"
            )
        # Per-output-channel scales: the last axis of a depthwise kernel, the first of a conv.
        shape = [1] * len(weights.shape)
        shape[-1 if op.name == "DEPTHWISE_CONV_2D" else 0] = len(weights.scale)
        kernel = constants[weights.index].astype(np.float32) * np.reshape(weights.scale, shape)
        float_bias = constants[bias.index].astype(np.float32) * np.asarray(bias.scale, np.float32)
        found.append((op.name, kernel.astype(np.float32), float_bias.astype(np.float32)))
    return found


def line_config_of(
    convolutions: list[Convolution],
    height: int,
    width: int,
) -> LineModelConfig:
    """The ``LineModelConfig`` whose graph has these convolutions (stem, five blocks, collapse,
    temporal blocks, logits)."""
    temporal = (len(convolutions) - 14) // 2
    if len(convolutions) < 16 or (len(convolutions) - 14) % 2:
        raise WarmStartError(
            f"{len(convolutions)} convolutions: not the edge-ocr line model's layout"
        )

    def outputs(position: int) -> int:
        name, kernel, _ = convolutions[position]
        return int(kernel.shape[-1] if name == "DEPTHWISE_CONV_2D" else kernel.shape[0])

    return LineModelConfig(
        height=height,
        width=width,
        num_classes=outputs(-1),
        stem_channels=outputs(0),
        channels=(outputs(3), outputs(7), outputs(11)),
        temporal_blocks=temporal,
        temporal_kernel=int(convolutions[13][1].shape[2]),
    )


def _keras_conv_layers(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D)
    ]


def _batch_norm_after(model: keras.Model, conv: keras.layers.Layer) -> keras.layers.Layer:
    """The batch norm ``training.models`` puts after a convolution: ``x_conv`` → ``x_bn``,
    ``x_dw`` → ``x_dw_bn``, ``x_pw`` → ``x_pw_bn``."""
    name = (
        conv.name.removesuffix("_conv") + "_bn"
        if conv.name.endswith("_conv")
        else f"{conv.name}_bn"
    )
    try:
        return model.get_layer(name)
    except ValueError:
        raise WarmStartError(f"{conv.name}: no batch norm {name} after it") from None


def _load_kernels(
    model: keras.Model,
    convolutions: list[Convolution],
    logit_floor: float,
) -> list[tuple[keras.layers.Layer, npt.NDArray[np.float32]]]:
    """Set every convolution's kernel; returns (batch norm, folded bias) pairs to unfold."""
    layers = _keras_conv_layers(model)
    if len(layers) != len(convolutions):
        raise WarmStartError(
            f"{len(convolutions)} convolutions in the file, {len(layers)} in the rebuilt model"
        )
    pending: list[tuple[keras.layers.Layer, npt.NDArray[np.float32]]] = []
    for layer, (op, kernel, bias) in zip(layers, convolutions, strict=True):
        # TFLite: conv [out, kh, kw, in], depthwise [1, kh, kw, channels].
        # Keras:  conv [kh, kw, in, out], depthwise [kh, kw, channels, 1].
        keras_kernel = np.transpose(kernel, (1, 2, 3, 0))
        expected = tuple(layer.weights[0].shape)
        if keras_kernel.shape != expected:
            raise WarmStartError(
                f"{layer.name}: kernel {keras_kernel.shape} in the file, {expected} in the model"
                f" ({op})"
            )
        if layer.name == "logits":
            # The export floored the logits with a bias shift (see quantize.int8.floor_logits).
            layer.set_weights([keras_kernel, bias + np.float32(logit_floor)])
            continue
        layer.set_weights([keras_kernel])
        pending.append((_batch_norm_after(model, layer), bias))
    return pending


def _unfold_batch_norms(
    model: keras.Model,
    pending: list[tuple[keras.layers.Layer, npt.NDArray[np.float32]]],
    images: npt.NDArray[np.float32],
) -> None:
    """Give each batch norm the statistics of its input on ``images``, layer by layer in graph
    order, keeping the inference function equal to conv + folded bias."""
    for norm, bias in pending:
        epsilon = float(norm.epsilon)
        channels = len(bias)
        norm.set_weights(  # identity + bias while its own input is measured
            [
                np.ones(channels, np.float32),
                bias,
                np.zeros(channels, np.float32),
                np.full(channels, 1.0 - epsilon, np.float32),
            ]
        )
    for norm, bias in pending:
        probe = keras.Model(model.input, norm.input)
        # Eager calls: TensorFlow's graph-mode depthwise kernel refuses the (2, 1) strides.
        values = np.concatenate(
            [
                np.asarray(probe(images[start : start + STATISTICS_BATCH], training=False))
                for start in range(0, len(images), STATISTICS_BATCH)
            ]
        )
        flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
        mean = flat.mean(axis=0).astype(np.float32)
        variance = flat.var(axis=0).astype(np.float32)
        scale = np.sqrt(variance + norm.epsilon).astype(np.float32)
        norm.set_weights([scale, mean + bias, mean, variance])


def _line_model(spec: str) -> tuple[Path, ModelContract]:
    """The ``.tflite`` and contract of ``spec``, refused unless it is a line model."""
    tflite, contract_path = resolve_model(spec)
    contract = load_contract(contract_path)
    if contract.kind != "line":
        raise WarmStartError(f"{spec}: a {contract.kind} model, not a line model")
    return tflite, contract


def line_contract(spec: str, width: int, charset: str) -> ModelContract:
    """The contract of the int8 line model ``spec``, refused unless a run of this ``width`` and
    ``charset`` can start from it (checked before a run spends minutes drawing its data)."""
    _, contract = _line_model(spec)
    if contract.input_width != width:
        raise WarmStartError(
            f"{spec} takes lines {contract.input_width} wide, this run {width}: "
            f"give it --width {contract.input_width}"
        )
    if contract.charset != charset:
        raise WarmStartError(f"{spec} reads charset {contract.charset!r}, this run {charset!r}")
    return contract


def float_line_model(
    spec: str, images: npt.NDArray[np.uint8], bn_momentum: float = 0.99
) -> tuple[keras.Model, ModelContract]:
    """A float Keras line model with the weights of an int8 line model (a bundled name, a
    ``.tflite`` with its contract, or a run folder), its batch norms unfolded on ``images``
    (binned lines, N x H x W uint8; a few hundred suffice), and the model's contract."""
    tflite, contract = _line_model(spec)
    convolutions = _convolutions(tflite)
    config = replace(
        line_config_of(convolutions, contract.input_height, contract.input_width),
        bn_momentum=bn_momentum,
    )
    if images.shape[1:] != (config.height, config.width):
        raise WarmStartError(
            f"{spec} takes {config.height}x{config.width} lines, not "
            f"{images.shape[1]}x{images.shape[2]} (give the run the model's --width)"
        )
    model = build_line_model(config)
    floor = float(contract.training.get("logit_floor", 0.0))
    pending = _load_kernels(model, convolutions, floor)
    _unfold_batch_norms(model, pending, images.astype(np.float32)[..., None] / 255.0)
    return model, contract
