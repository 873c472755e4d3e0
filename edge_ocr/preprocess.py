"""Binning and normalisation of crops into model inputs.

Training imports these functions too, so the model sees byte-identical inputs on the desktop
and on the device: a train/inference preprocessing mismatch is the most common cause of
"100% in training, garbage on device".

Every binned image is uint8 with the text bright (high) on a dark (zero) background. Padding is
zero, so a padded line looks like more empty background to the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_ocr.types import BinnedLine, FloatArray, LineCrop

LOW_PERCENTILE = 2.0
HIGH_PERCENTILE = 98.0
MIN_CONTRAST = 8.0
"""Grey-level range (0-255) below which a crop is treated as blank instead of stretched."""


@dataclass(frozen=True)
class LineShape:
    """Model input geometry for line images."""

    height: int = 32
    width: int = 256


def to_gray(image: LineCrop) -> LineCrop:
    """Greyscale uint8 view of a crop given as HxW, HxWx1, HxWx3 (BGR) or HxWx4 (BGRA)."""
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        code = cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        gray: LineCrop = cv2.cvtColor(image, code)
        return gray
    raise ValueError(f"expected an HxW or HxWxC image, got shape {image.shape}")


def stretch_contrast(gray: LineCrop) -> LineCrop:
    """Stretch grey levels to 0-255 and make the text bright on a dark background.

    The background is the majority of a line crop, so the median tells the polarity: a light
    median means dark print on a light carton, which is inverted. Percentiles (not min/max)
    keep a few hot pixels or noise dots from flattening the contrast.
    """
    values = gray.astype(np.float32)
    low, median, high = np.percentile(values, [LOW_PERCENTILE, 50.0, HIGH_PERCENTILE])
    if high - low < MIN_CONTRAST:
        return np.zeros_like(gray)
    stretched = np.clip((values - low) * (255.0 / (high - low)), 0.0, 255.0)
    if median > (low + high) / 2.0:
        stretched = 255.0 - stretched
    result: LineCrop = np.rint(stretched).astype(np.uint8)
    return result


def bin_line(crop: LineCrop, shape: LineShape = LineShape()) -> BinnedLine:
    """Bin a line crop to ``shape``: area-resample to the model height, keep the aspect ratio,
    squeeze horizontally only when the line is too long, then left-align on a zero canvas."""
    gray = to_gray(crop)
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        raise ValueError(f"crop too small to read: {gray.shape[1]}x{gray.shape[0]} px")
    scale = shape.height / gray.shape[0]
    width = min(shape.width, max(1, round(gray.shape[1] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(gray, (width, shape.height), interpolation=interpolation)
    canvas = np.zeros((shape.height, shape.width), dtype=np.uint8)
    canvas[:, :width] = stretch_contrast(resized)
    return canvas


def bin_char(crop: LineCrop, height: int, width: int) -> BinnedLine:
    """Bin a character crop to ``height x width``, aspect kept, centred on a zero canvas."""
    gray = to_gray(crop)
    if gray.shape[0] < 2 or gray.shape[1] < 2:
        raise ValueError(f"crop too small to read: {gray.shape[1]}x{gray.shape[0]} px")
    normalised = stretch_contrast(gray)
    if not normalised.any():
        normalised = _stretch_sparse(gray)
    scale = min(height / gray.shape[0], width / gray.shape[1])
    new_h = max(1, min(height, round(gray.shape[0] * scale)))
    new_w = max(1, min(width, round(gray.shape[1] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(normalised, (new_w, new_h), interpolation=interpolation)
    canvas = np.zeros((height, width), dtype=np.uint8)
    top = (height - new_h) // 2
    left = (width - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas


def _stretch_sparse(gray: LineCrop) -> LineCrop:
    """A mark on under 2% of its crop, as '.' or ':' cut over a whole text band, is flat
    between the percentiles ``stretch_contrast`` uses: stretch it from the background (the
    median) to the extreme on the ink side, the side further from the median."""
    values = gray.astype(np.float32)
    median = float(np.median(values))
    bright, dark = float(values.max()) - median, median - float(values.min())
    span = max(bright, dark)
    if span < MIN_CONTRAST:
        return np.zeros_like(gray)
    ink = values - median if bright >= dark else median - values
    result: LineCrop = np.rint(np.clip(ink * (255.0 / span), 0.0, 255.0)).astype(np.uint8)
    return result


def to_model_float(binned: BinnedLine) -> FloatArray:
    """Float input of the Keras model: 0-1, with a trailing channel axis."""
    return (binned.astype(np.float32) / 255.0)[..., np.newaxis]
