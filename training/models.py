"""Tiny all-convolutional recognizers, shaped for full-int8 TFLite and TFLite Micro.

Only ops that quantize cleanly: Conv2D, DepthwiseConv2D, BatchNorm (folded on conversion),
ReLU (fused), Add, global pooling and Softmax. No LSTM, no Reshape: the line model keeps a
``1 x T`` height axis so a dynamic batch leaves no SHAPE/STRIDED_SLICE ops in the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
from keras import layers


@dataclass(frozen=True)
class LineModelConfig:
    """Geometry of the line model. ``width`` / 4 is the number of CTC time steps."""

    height: int = 32
    width: int = 256
    num_classes: int = 42
    stem_channels: int = 24
    channels: tuple[int, int, int] = (64, 96, 128)
    temporal_blocks: int = 3
    temporal_kernel: int = 5
    bn_momentum: float = 0.99
    """Lower it for runs of a few hundred steps, or inference-mode statistics lag behind."""

    @property
    def time_steps(self) -> int:
        return self.width // 4


def _conv_bn(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int] | int,
    strides: tuple[int, int] | int = 1,
    padding: str = "same",
    name: str = "",
    momentum: float = 0.99,
) -> keras.KerasTensor:
    x = layers.Conv2D(
        filters, kernel, strides=strides, padding=padding, use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _separable(
    x: keras.KerasTensor,
    filters: int,
    kernel: tuple[int, int],
    strides: tuple[int, int],
    name: str,
    residual: bool = False,
    momentum: float = 0.99,
) -> keras.KerasTensor:
    """Depthwise + pointwise with batch norm; residual when the shape is kept."""
    shortcut = x
    y = layers.DepthwiseConv2D(
        kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_dw"
    )(x)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_dw_bn")(y)
    y = layers.ReLU(name=f"{name}_dw_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(y)
    y = layers.BatchNormalization(momentum=momentum, name=f"{name}_pw_bn")(y)
    if residual and shortcut.shape[-1] == filters and strides == (1, 1):
        y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_relu")(y)


def build_line_model(config: LineModelConfig = LineModelConfig()) -> keras.Model:
    """CTC line recognizer: ``(B, H, W, 1)`` in 0-1 → ``(B, 1, W/4, classes)`` probabilities.

    A strided stem halves the cost of the first layers (measured ~2x faster to train than
    stride 1 + pooling); stride (2, 1) blocks then fold the height away while keeping the time
    resolution; temporal depthwise blocks widen the receptive field to several characters.
    """
    if config.height != 32:
        raise ValueError("the line model collapses a height of exactly 32 pixels")
    c1, c2, c3 = config.channels
    m = config.bn_momentum
    inputs = keras.Input((config.height, config.width, 1), name="image")
    x = _conv_bn(inputs, config.stem_channels, 3, strides=2, name="stem1", momentum=m)  # 16 x W/2
    x = _conv_bn(x, c1 // 2 + 16, 3, strides=2, name="stem2", momentum=m)  # 8 x W/4
    x = _separable(x, c1, (3, 3), (1, 1), "b1", momentum=m)
    x = _separable(x, c1, (3, 3), (1, 1), "b2", residual=True, momentum=m)
    x = _separable(x, c2, (3, 3), (2, 1), "b3", momentum=m)  # 4 x W/4
    x = _separable(x, c2, (3, 3), (1, 1), "b4", residual=True, momentum=m)
    x = _separable(x, c3, (3, 3), (2, 1), "b5", momentum=m)  # 2 x W/4
    x = _conv_bn(x, c3, (2, 1), padding="valid", name="collapse", momentum=m)  # 1 x W/4
    for index in range(config.temporal_blocks):
        x = _separable(
            x, c3, (1, config.temporal_kernel), (1, 1), f"t{index}", residual=True, momentum=m
        )
    logits = layers.Conv2D(config.num_classes, 1, name="logits")(x)
    probabilities = layers.Softmax(axis=-1, name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name="edge_ocr_line")


@dataclass(frozen=True)
class CharModelConfig:
    """Geometry of the per-character classifier."""

    height: int = 32
    width: int = 24
    num_classes: int = 41
    channels: tuple[int, int, int] = (16, 32, 64)
    dropout: float = 0.1
    pooling: str = "average"
    """How the last feature map becomes one vector: ``average`` (global average pooling) or
    ``depthwise`` (one learned weight per position and channel, a depthwise convolution as large
    as the map). Averaging forgets where a stroke is, which is what tells an 'I' from a '1'
    or an 'O' from a '0' in some fonts; the depthwise head keeps it for ~1.2k parameters."""


CHAR_POOLINGS = ("average", "depthwise")


def build_char_model(config: CharModelConfig = CharModelConfig()) -> keras.Model:
    """Compact all-convolutional classifier on binned crops: global pooling, no big dense layer."""
    c1, c2, c3 = config.channels
    inputs = keras.Input((config.height, config.width, 1), name="image")
    x = _conv_bn(inputs, c1, 3, name="c1")
    x = _conv_bn(x, c1, 3, strides=2, name="c2")
    x = _separable(x, c2, (3, 3), (1, 1), "s1")
    x = _separable(x, c2, (3, 3), (2, 2), "s2")
    x = _separable(x, c3, (3, 3), (1, 1), "s3")
    x = _separable(x, c3, (3, 3), (2, 2), "s4")
    x = _separable(x, c3, (3, 3), (1, 1), "s5", residual=True)
    if config.pooling == "depthwise":
        x = layers.DepthwiseConv2D(x.shape[1:3], use_bias=False, name="pool_dw")(x)
        x = layers.BatchNormalization(name="pool_bn")(x)
    elif config.pooling != "average":
        choices = ", ".join(CHAR_POOLINGS)
        raise ValueError(f"pooling must be one of {choices}, not {config.pooling!r}")
    # Over the depthwise head's 1 x 1 map this only drops the two axes: the int8 graph keeps the
    # ops it has with average pooling (a Flatten would add a RESHAPE with a dynamic batch).
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(config.dropout, name="dropout")(x)
    logits = layers.Dense(config.num_classes, name="logits")(x)
    probabilities = layers.Softmax(name="probabilities")(logits)
    return keras.Model(inputs, probabilities, name="edge_ocr_char")


def logits_model(model: keras.Model) -> keras.Model:
    """The same weights without the final softmax, for losses that want logits."""
    return keras.Model(model.inputs, model.get_layer("logits").output)
