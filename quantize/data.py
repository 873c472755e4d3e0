"""Binned images for calibration and for the float/int8 check, from a folder or synthetic.

Both go through ``edge_ocr.preprocess`` (``bin_line`` / ``bin_char``), the functions the device
uses, so calibration ranges and check results are those of the real input distribution.
Synthetic calibration draws with the training fonts; the check draws with the held-out fonts
and another seed, so it measures on data the model never saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelKind
from quantize.errors import QuantizeError

SYNTHETIC = "synthetic"
SYNTHETIC_KINDS = ("lines", "captcha")


@dataclass(frozen=True)
class ImageSet:
    """Binned images (N x H x W uint8, text bright on black) with their labels."""

    images: npt.NDArray[np.uint8]
    texts: tuple[str, ...]
    description: str
    skipped: tuple[str, ...] = ()
    """One line per row or file that could not be used, for the user to fix."""

    def __len__(self) -> int:
        return len(self.texts)


def synthetic_kind(spec: str) -> str | None:
    """``lines`` or ``captcha`` for ``synthetic[:KIND]``, ``None`` for a folder path."""
    if spec != SYNTHETIC and not spec.startswith(f"{SYNTHETIC}:"):
        return None
    kind = spec.partition(":")[2] or "lines"
    if kind not in SYNTHETIC_KINDS:
        raise QuantizeError(
            f"unknown synthetic data {spec!r}: use synthetic, synthetic:lines or synthetic:captcha"
        )
    return kind


def _subsample(
    images: npt.NDArray[np.uint8], texts: list[str], samples: int | None, seed: int
) -> tuple[npt.NDArray[np.uint8], list[str]]:
    if samples is None or len(texts) <= samples:
        return images, texts
    rows = np.sort(np.random.default_rng(seed).choice(len(texts), samples, replace=False))
    return images[rows], [texts[i] for i in rows]


def _line_folder(
    folder: Path, charset: str, height: int, width: int
) -> tuple[npt.NDArray[np.uint8], list[str], list[str]]:
    from edge_ocr.preprocess import LineShape
    from training.data import DatasetError, load_line_folder

    try:
        line_set = load_line_folder(folder, charset, LineShape(height, width))
    except DatasetError as error:
        raise QuantizeError(str(error)) from None
    return line_set.images, line_set.texts, [str(p) for p in line_set.problems]


def _char_folder(
    folder: Path, charset: str, height: int, width: int
) -> tuple[npt.NDArray[np.uint8], list[str], list[str]]:
    """Character crops labelled by ``labels.csv`` or by file name (``A.png``, ``A_2.png``)."""
    import cv2

    from edge_ocr.preprocess import bin_char
    from training.data import DatasetError, read_labels

    try:
        rows, problems = read_labels(folder)
    except DatasetError as error:
        raise QuantizeError(str(error)) from None
    skipped = [str(p) for p in problems]
    images: list[npt.NDArray[np.uint8]] = []
    texts: list[str] = []
    for path, text, where in rows:
        if len(text) != 1 or text not in charset:
            skipped.append(f"{where}: label {text!r} is not one character of the charset")
            continue
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) if path.is_file() else None
        if image is None:
            skipped.append(f"{where}: missing or unreadable image {path.name}")
            continue
        try:
            images.append(bin_char(image, height, width))
        except ValueError as error:
            skipped.append(f"{where}: {error}")
            continue
        texts.append(text)
    if not texts:
        first = f" (first problem: {skipped[0]})" if skipped else ""
        raise QuantizeError(f"no usable labelled character crops in {folder}{first}")
    return np.stack(images), texts, skipped


def _synthetic_lines(
    kind: str, held_out: bool, count: int, seed: int, height: int, width: int
) -> tuple[npt.NDArray[np.uint8], list[str]]:
    from edge_ocr.preprocess import LineShape
    from training.data import generate_line_set
    from training.synth import synthetic_sources

    line_set = generate_line_set(
        synthetic_sources(kind, held_out).sample, count, seed, LineShape(height, width)
    )
    return line_set.images, line_set.texts


def _synthetic_chars(
    held_out: bool, count: int, seed: int, charset: str, height: int, width: int
) -> tuple[npt.NDArray[np.uint8], list[str]]:
    """Single characters drawn like a line of one, cropped with a locator's margins."""
    from edge_ocr.preprocess import bin_char
    from training.fonts import FontKind, all_fonts, split_fonts
    from training.synth import LineSynthesizer

    drawable = [c for c in charset if not c.isspace()]
    if not drawable:
        raise QuantizeError("the charset has no drawable character for synthetic crops")
    train_fonts, test_fonts = split_fonts(all_fonts())
    fonts = [
        f
        for f in (test_fonts if held_out else train_fonts)
        if f.kind in (FontKind.TRUETYPE, FontKind.HERSHEY)
    ]
    synthesizer = LineSynthesizer(
        fonts,
        charset,
        captcha_fraction=0.0,
        kind_weights={FontKind.TRUETYPE: 0.7, FontKind.HERSHEY: 0.3},
    )
    rng = np.random.default_rng(seed)
    images = np.zeros((count, height, width), dtype=np.uint8)
    texts = []
    for index in range(count):
        char = drawable[int(rng.integers(len(drawable)))]
        sample = synthesizer.draw(char, synthesizer.pick_font(rng), rng)
        images[index] = bin_char(sample.image, height, width)
        texts.append(char)
    return images, texts


def load_images(
    spec: str,
    kind: ModelKind,
    height: int,
    width: int,
    charset: str,
    samples: int | None,
    seed: int,
    held_out: bool,
    labels_needed: bool = True,
) -> ImageSet:
    """Images for ``kind`` models binned to ``height x width``.

    ``spec`` is a labelled folder (``labels.csv`` with ``file,text`` or labels in file names)
    or ``synthetic[:lines|captcha]``. ``samples`` caps a folder (a seeded random subset) and is
    the number of images drawn for synthetic data (500 when ``None``). When ``labels_needed``
    (the check), synthetic lines whose text the charset cannot spell are dropped, since no
    model could read them; calibration keeps them, only their pixels matter.
    """
    generator = synthetic_kind(spec)
    if generator is None:
        folder = Path(spec)
        if not folder.is_dir():
            raise QuantizeError(f"data folder not found: {folder} (or use 'synthetic')")
        load = _line_folder if kind == "line" else _char_folder
        images, texts, skipped = load(folder, charset, height, width)
        images, texts = _subsample(images, texts, samples, seed)
        return ImageSet(images, tuple(texts), f"{folder} ({len(texts)} images)", tuple(skipped))
    count = 500 if samples is None else samples
    if count < 1:
        raise QuantizeError("--samples must be at least 1")
    fonts = "held-out fonts" if held_out else "training fonts"
    if kind == "char":
        char_images, chars = _synthetic_chars(held_out, count, seed, charset, height, width)
        return ImageSet(
            char_images,
            tuple(chars),
            f"synthetic characters, {fonts}, seed {seed} ({count} images)",
        )
    line_images, line_texts = _synthetic_lines(generator, held_out, count, seed, height, width)
    allowed = set(charset)
    keep = [i for i, text in enumerate(line_texts) if not labels_needed or set(text) <= allowed]
    kept = set(keep)
    unusable = tuple(
        f"synthetic line {i}: {text!r} has characters outside the charset"
        for i, text in enumerate(line_texts)
        if i not in kept
    )
    if not keep:
        raise QuantizeError(
            "no synthetic line can be spelled with the model's charset; give a labelled folder"
        )
    description = f"synthetic {generator}, {fonts}, seed {seed} ({len(keep)} images)"
    return ImageSet(line_images[keep], tuple(line_texts[i] for i in keep), description, unusable)
