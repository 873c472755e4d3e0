"""Shared helpers of the quantize tests: a generator of simple digit lines and labelled folders.

The lines are 2-4 digits drawn with one Hershey font, in either polarity, with a little noise:
simple enough that a tiny model trained for a few hundred steps reads ~99% of them, so a good
int8 export and a broken one are told apart by accuracy, not by chance.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_ocr.preprocess import LineShape
from edge_ocr.render import render_hershey

DIGITS = "0123456789"
SHAPE = LineShape(32, 96)
TRAIN_STEPS = 400


def digit_crops(count: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """Unbinned line crops of 2-4 digits (dark on light or light on dark) and their texts."""
    rng = np.random.default_rng(seed)
    crops, texts = [], []
    for _ in range(count):
        text = "".join(rng.choice(list(DIGITS), size=int(rng.integers(2, 5))))
        height = int(rng.integers(18, 26))
        ink = render_hershey(text, height, cv2.FONT_HERSHEY_SIMPLEX, False, rng).ink
        ink = cv2.copyMakeBorder(ink, 4, 4, 6, 6, cv2.BORDER_CONSTANT, value=0.0)
        paper, print_ = (225, 30) if rng.random() < 0.5 else (35, 220)
        image = paper + (print_ - paper) * ink + rng.normal(0.0, 6.0, ink.shape)
        crops.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
        texts.append(text)
    return crops, texts


def write_folder(folder: Path, crops: list[np.ndarray], texts: list[str]) -> Path:
    """A labelled folder as users give it: images plus ``labels.csv`` (``file,text``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,text"]
    for index, (crop, text) in enumerate(zip(crops, texts, strict=True)):
        cv2.imwrite(str(folder / f"{index:04d}.png"), crop)
        rows.append(f"{index:04d}.png,{text}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@dataclass(frozen=True)
class Tiny:
    """The trained float model and the folders made from the same generator."""

    keras_path: Path
    calib_dir: Path
    test_dir: Path
    root: Path


def char_crops(count: int, seed: int) -> tuple[list[np.ndarray], list[str]]:
    """Unbinned single-digit crops as a character segmenter would cut them, and their labels."""
    rng = np.random.default_rng(seed + 1000)
    singles, labels = [], []
    for _ in range(count):
        char = DIGITS[int(rng.integers(len(DIGITS)))]
        ink = render_hershey(
            char, int(rng.integers(18, 28)), cv2.FONT_HERSHEY_SIMPLEX, False, rng
        ).ink
        ink = cv2.copyMakeBorder(ink, 3, 3, 3, 3, cv2.BORDER_CONSTANT, value=0.0)
        paper, print_ = (225, 30) if rng.random() < 0.5 else (35, 220)
        image = paper + (print_ - paper) * ink + rng.normal(0.0, 6.0, ink.shape)
        singles.append(np.clip(np.rint(image), 0, 255).astype(np.uint8))
        labels.append(char)
    return singles, labels
