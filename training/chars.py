"""Character datasets, binned once with the device's ``bin_char``.

Three sources, one ``CharSet`` type:

- a labelled folder of crops of any size: ``DIR/<label>/*.png`` (the Keras convention) or a
  ``labels.csv`` with ``file,label`` rows;
- scikit-learn's ``load_digits`` (real 8x8 scans of handwritten digits), upscaled by the same
  binning;
- synthetic printed characters from the line renderers (TrueType, Hershey, dot-matrix,
  7-segment), composed and degraded as line data is, and cut from their line exactly as
  the device cuts them: ``edge_ocr.segment`` segments the drawn line and ``cut_char`` cuts each
  character over the full text band, so '.', '-' and ':' keep their place in the line;
  and, as one more class, the wrong cuts guided segmentation must refuse (fragments of a
  character, parts of two), taken from its own candidate lattice on such lines.
"""

from __future__ import annotations

import csv
import itertools
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.charset import DEFAULT_CHARSET, CharsetError, validate_charset
from edge_ocr.preprocess import bin_char
from edge_ocr.render import DOT_MATRIX_CHARSET, SEVEN_SEGMENT_CHARSET, Box
from edge_ocr.segment import Segmentation, char_crops, cut_char, segment_line
from edge_ocr.segment_guided import build_lattice
from training.data import IMAGE_SUFFIXES, DatasetError, Problem
from training.fonts import FontKind, FontSpec, all_fonts, split_fonts
from training.synth import compose, degrade, render_line

CHAR_CHARSET = DEFAULT_CHARSET.replace(" ", "")
"""Classes of the per-character model: the line charset without the space, which the
segmenter finds from gaps instead."""
DEFAULT_HEIGHT = 32
DEFAULT_WIDTH = 24
FOLDER_ALIASES = {
    "space": " ",
    "slash": "/",
    "colon": ":",
    "dot": ".",
    "period": ".",
    "dash": "-",
    "minus": "-",
    "hyphen": "-",
}
"""Folder names for labels a file system will not take as a folder name."""
BLANK_LEVEL = 64
"""A cut whose brightest pixel is under this (on the normalised 0-255 scale) shows no ink."""
KIND_WEIGHTS = {
    FontKind.TRUETYPE: 0.45,
    FontKind.HERSHEY: 0.15,
    FontKind.DOT_MATRIX: 0.27,
    FontKind.SEVEN_SEGMENT: 0.13,
}
"""Print styles in the proportions of the line model's synthetic data."""
NON_CHAR_TEXT = "<not a char>"
"""How reports name the non-character class."""


@dataclass
class CharSet:
    """Binned characters (N x H x W uint8, text bright), their class indices in ``charset``,
    where each came from and its print style (for per-style reports)."""

    images: npt.NDArray[np.uint8]
    labels: npt.NDArray[np.int64]
    charset: str
    sources: list[str]
    kinds: list[str]
    problems: list[Problem] = field(default_factory=list)
    non_char: bool = False
    """Labels may be ``len(charset)``: a crop that is not one character (a fragment of one, or
    parts of two), the class that lets guided segmentation refuse a wrong cut."""

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def wrong_cuts(self) -> int:
        """Images of the non-character class."""
        return int(np.sum(self.labels == len(self.charset)))

    @property
    def classes(self) -> int:
        """Output classes of a model trained on this set."""
        return len(self.charset) + (1 if self.non_char else 0)

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.images.shape[1]), int(self.images.shape[2])

    def texts(self) -> list[str]:
        return [
            self.charset[int(i)] if i < len(self.charset) else NON_CHAR_TEXT for i in self.labels
        ]

    def subset(self, indices: npt.NDArray[np.int64]) -> CharSet:
        return CharSet(
            self.images[indices],
            self.labels[indices],
            self.charset,
            [self.sources[i] for i in indices],
            [self.kinds[i] for i in indices],
            non_char=self.non_char,
        )

    def real_chars(self) -> CharSet:
        """Only the crops of one character each (what a per-character baseline learns)."""
        kept = self.subset(np.flatnonzero(self.labels < len(self.charset)))
        kept.non_char = False
        return kept

    def counts(self) -> dict[str, int]:
        """Images per class, in charset order (zero for classes with none)."""
        found = Counter(int(i) for i in self.labels)
        return {c: found.get(i, 0) for i, c in enumerate(self.charset)}

    @staticmethod
    def concatenate(parts: list[CharSet]) -> CharSet:
        if not parts:
            raise ValueError("nothing to concatenate")
        charsets = {p.charset for p in parts}
        if len(charsets) != 1:
            raise ValueError("character sets with different charsets cannot be joined")
        return CharSet(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            parts[0].charset,
            [s for p in parts for s in p.sources],
            [k for p in parts for k in p.kinds],
            [q for p in parts for q in p.problems],
            any(p.non_char for p in parts),
        )


def balance_report(char_set: CharSet, min_per_class: int = 5) -> list[str]:
    """Warnings a person should read before trusting a model trained on ``char_set``."""
    counts = char_set.counts()
    present = {c: n for c, n in counts.items() if n > 0}
    notes: list[str] = []
    missing = "".join(c for c, n in counts.items() if n == 0)
    if missing:
        notes.append(f"{len(missing)} classes have no images: {missing!r}")
    few = {c: n for c, n in present.items() if n < min_per_class}
    if few:
        listed = ", ".join(f"{c!r}: {n}" for c, n in sorted(few.items()))
        notes.append(f"classes with fewer than {min_per_class} images: {listed}")
    if present:
        most, least = max(present.values()), min(present.values())
        if least and most / least > 5:
            notes.append(f"imbalanced classes: largest {most}, smallest {least} images")
    return notes


def _label_of_folder(name: str) -> str:
    return FOLDER_ALIASES.get(name.lower(), name) if len(name) > 1 else name


def read_char_labels(folder: Path) -> tuple[list[tuple[Path, str, str]], list[Problem]]:
    """(image, label, where) rows of a character folder: ``labels.csv`` when there is one,
    else one sub-folder per label. Rows are not checked against a charset here."""
    if not folder.is_dir():
        raise DatasetError(f"dataset folder not found: {folder}")
    labels_file = folder / "labels.csv"
    rows: list[tuple[Path, str, str]] = []
    problems: list[Problem] = []
    if labels_file.is_file():
        with labels_file.open(newline="", encoding="utf-8") as handle:
            for line_number, row in enumerate(csv.reader(handle), start=1):
                where = f"{labels_file}:{line_number}"
                if line_number == 1 and [c.strip().lower() for c in row[:2]] == ["file", "label"]:
                    continue
                if len(row) < 2 or not row[0].strip():
                    problems.append(Problem(where, "expected 'file,label'"))
                    continue
                rows.append((folder / row[0].strip(), row[1], where))
        return rows, problems
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subfolders:
        raise DatasetError(
            f"{folder}: no labels.csv and no label folders (expected {folder}/<label>/*.png)"
        )
    for sub in subfolders:
        label = _label_of_folder(sub.name)
        if len(label) != 1:
            raise DatasetError(
                f"{sub}: folder name {sub.name!r} is not one character "
                f"(aliases: {', '.join(sorted(FOLDER_ALIASES))}; or use labels.csv)"
            )
        rows += [
            (path, label, str(path))
            for path in sorted(sub.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
        ]
    return rows, problems


def charset_of_labels(labels: list[str]) -> str:
    """The classes found, in the default charset's order, any others after them, sorted."""
    found = set(labels)
    known = "".join(c for c in DEFAULT_CHARSET if c in found)
    return known + "".join(sorted(found - set(known)))


def load_char_folder(
    folder: Path,
    charset: str = "",
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
) -> CharSet:
    """Bin every labelled crop of ``folder``. Unreadable or too small images are skipped and
    listed in ``problems``; a label outside ``charset`` is an error, because it means the
    charset is wrong, not the image. An empty ``charset`` is the labels found."""
    rows, problems = read_char_labels(folder)
    if not rows:
        detail = f" ({len(problems)} problems, first: {problems[0]})" if problems else ""
        raise DatasetError(f"no labelled images in {folder}{detail}")
    if not charset:
        charset = charset_of_labels([label for _, label, _ in rows if len(label) == 1])
    try:
        validate_charset(charset)
    except CharsetError as error:
        raise DatasetError(str(error)) from None
    index = {c: i for i, c in enumerate(charset)}
    unknown = sorted({label for _, label, _ in rows if len(label) != 1 or label not in index})
    if unknown:
        first = next(where for _, label, where in rows if label == unknown[0])
        raise DatasetError(
            f"labels not in the charset {charset!r}: {', '.join(map(repr, unknown))} "
            f"(first at {first}); pass --charset with every label"
        )
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    sources: list[str] = []
    for path, label, where in rows:
        if not path.is_file():
            problems.append(Problem(where, f"missing file {path}"))
            continue
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            problems.append(Problem(where, "not a readable image"))
            continue
        try:
            images.append(bin_char(image, height, width))
        except ValueError as error:
            problems.append(Problem(where, str(error)))
            continue
        labels.append(index[label])
        sources.append(str(path))
    if not labels:
        detail = f" ({len(problems)} problems, first: {problems[0]})" if problems else ""
        raise DatasetError(f"no usable labelled images in {folder}{detail}")
    return CharSet(
        np.stack(images),
        np.array(labels, dtype=np.int64),
        charset,
        sources,
        ["real"] * len(labels),
        problems,
    )


def save_char_folder(char_set: CharSet, folder: Path, crops: list[npt.NDArray[np.uint8]]) -> None:
    """Write ``crops`` (un-binned, one per item of ``char_set``) as ``folder/labels.csv``."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label"])
        for number, (crop, label) in enumerate(zip(crops, char_set.texts(), strict=True)):
            name = f"{number:06d}.png"
            cv2.imwrite(str(folder / name), crop)
            writer.writerow([name, label])


def load_digits_set(height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH) -> CharSet:
    """scikit-learn's 1,797 real 8x8 digit scans (0-16 ink counts), as 0-255 crops binned to
    the model input by ``bin_char``, exactly as a user's crops would be."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    crops = np.rint(np.asarray(digits.images) * (255.0 / 16.0)).astype(np.uint8)
    images = np.stack([bin_char(c, height, width) for c in crops])
    labels = np.asarray(digits.target, dtype=np.int64)
    count = len(labels)
    return CharSet(images, labels, "0123456789", ["sklearn-digits"] * count, ["digits"] * count)


def stratified_split(
    labels: npt.NDArray[np.int64], test_size: float | int, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(train, test) indices with every class in the same proportion on both sides. Classes
    with a single image go to training (they cannot be on both sides); on a small set the test
    side grows to hold at least one image of every class."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    counts = Counter(int(i) for i in labels)
    single = np.array([counts[int(label)] < 2 for label in labels])
    usable = int((~single).sum())
    classes = len({int(label) for label in labels[~single]})
    wanted = test_size if isinstance(test_size, int) else int(np.ceil(test_size * usable))
    # a stratified split needs at least one image of every class on each side
    wanted = min(max(wanted, classes), usable - classes)
    train, test = train_test_split(
        indices[~single], test_size=wanted, stratify=labels[~single], random_state=seed
    )
    return np.sort(np.concatenate([train, indices[single]])), np.sort(test)


DIGITS_TEST_SIZE = 540
"""The 1,257 / 540 split of ``load_digits`` the issue fixes (stratified, seed 0)."""


def digits_split(height: int, width: int, seed: int = 0) -> tuple[CharSet, CharSet]:
    digits = load_digits_set(height, width)
    train, test = stratified_split(digits.labels, DIGITS_TEST_SIZE, seed)
    return digits.subset(train), digits.subset(test)


# --- synthetic printed characters -------------------------------------------------------------


def _drawable(font: FontSpec, charset: str) -> str:
    if font.kind is FontKind.DOT_MATRIX:
        return "".join(c for c in charset if c in DOT_MATRIX_CHARSET and c != " ")
    if font.kind is FontKind.SEVEN_SEGMENT:
        return "".join(c for c in charset if c in SEVEN_SEGMENT_CHARSET and c != " ")
    return "".join(c for c in charset if c != " ")


@dataclass(frozen=True)
class CharSynthConfig:
    """How synthetic characters are drawn. Every line is composed on paper (contrast, polarity,
    uneven light, paper texture); ``degrade`` is the share of lines that then also get the line
    data's camera degradations (blur, motion blur, low resolution, noise, JPEG), which at their
    strongest leave a character no person could read."""

    min_height: int = 16
    max_height: int = 44
    min_length: int = 3
    max_length: int = 6
    degrade: float = 0.5
    merge_share: float = 0.3
    """Non-character crops: the share of neighbouring character pairs first merged into one
    box, as the classical segmenter merges touching characters, before the guided
    segmenter's candidates are built (splits of the merged box give fragments and
    straddles)."""
    non_chars_per_line: int = 2
    """Non-character crops kept from one drawn line (candidates are many and alike)."""


PRINTED = CharSynthConfig(degrade=0.0)
"""Printed characters as a camera sees them in focus: the held-out test of the char model."""
DEGRADED = CharSynthConfig(degrade=1.0)
"""Every line degraded: the harder held-out test, reported beside the printed one."""


@dataclass
class CharSynthesizer:
    """Draws short random strings in one font at a time and cuts out every character."""

    fonts: list[FontSpec]
    charset: str = CHAR_CHARSET
    config: CharSynthConfig = field(default_factory=CharSynthConfig)

    def __post_init__(self) -> None:
        self._pools: dict[FontKind, list[tuple[FontSpec, str]]] = {}
        for font in self.fonts:
            alphabet = _drawable(font, self.charset)
            if alphabet:
                self._pools.setdefault(font.kind, []).append((font, alphabet))
        if not self._pools:
            raise DatasetError(f"no font can draw any of {self.charset!r}")
        kinds = list(self._pools)
        weights = np.array([KIND_WEIGHTS[k] for k in kinds], dtype=np.float64)
        self._kinds = kinds
        self._kind_p = weights / weights.sum()
        self._index = {c: i for i, c in enumerate(self.charset)}

    def pick(self, rng: np.random.Generator) -> tuple[FontSpec, str]:
        """A font, chosen by print style in ``KIND_WEIGHTS`` proportions, and what it draws."""
        kind = self._kinds[int(rng.choice(len(self._kinds), p=self._kind_p))]
        return self._pools[kind][int(rng.integers(len(self._pools[kind])))]

    def line(
        self, rng: np.random.Generator, height: int, width: int, non_char: bool = False
    ) -> list[tuple[npt.NDArray[np.uint8], int, str, str]]:
        """(binned crop, class, font, kind) for every character of one drawn line, or for
        some of its wrong cuts (``non_char_cuts``)."""
        cuts = self.non_char_cuts(rng) if non_char else self.cuts(rng)
        return [
            (bin_char(crop, height, width), label, font, kind) for crop, label, font, kind in cuts
        ]

    def draw(self, rng: np.random.Generator) -> DrawnLine | None:
        """One short random string in one font, composed on paper, degraded in
        ``config.degrade`` of lines, and segmented by the device's segmenter; None when a
        character printed no ink (every dot dropped out), which leaves no exact label."""
        font, alphabet = self.pick(rng)
        cfg = self.config
        length = int(rng.integers(cfg.min_length, cfg.max_length + 1))
        text = "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=length))
        char_height = int(rng.integers(cfg.min_height, cfg.max_height + 1))
        rendered = render_line(text, font, char_height, rng)
        if len(rendered.boxes) != len(text):
            return None
        ink, boxes = _with_margins(rendered.ink, rendered.boxes, char_height, rng)
        composed, _ = compose(ink, rng)
        if cfg.degrade >= 1.0 or (cfg.degrade > 0.0 and rng.random() < cfg.degrade):
            gray, _ = degrade(composed, char_height, rng)
        else:
            gray = np.clip(np.rint(composed), 0, 255).astype(np.uint8)
        segmentation = segment_line(gray)
        drawn = _drawn_boxes(boxes, segmentation, ink.shape, gray.shape)
        return DrawnLine(text, font, segmentation, drawn)

    def cuts(self, rng: np.random.Generator) -> list[tuple[npt.NDArray[np.uint8], int, str, str]]:
        """(character cut as the device cuts it, class, font, kind) for every character of one
        drawn line: any size, text bright on a dark background (``cut_char``)."""
        line = self.draw(rng)
        if line is None:
            return []
        # Cut with the device's own segmenter, so training sees the crops the device makes.
        # Where its boxes are not one per drawn character, in order, the drawn boxes stand
        # in (so hard lines are not left out, and no crop gets a neighbour's label).
        segmentation = line.segmentation
        if not _aligned(segmentation.boxes, line.drawn):
            segmentation = replace(segmentation, boxes=line.drawn)
        crops = char_crops(segmentation)
        return [
            (crop, self._index[char], line.font.name, line.font.kind.value)
            for char, crop in zip(line.text, crops, strict=True)
            if int(crop.max()) >= BLANK_LEVEL  # degraded past reading: no label can be right
        ]

    def non_char_cuts(
        self, rng: np.random.Generator
    ) -> list[tuple[npt.NDArray[np.uint8], int, str, str]]:
        """(crop, the non-character class, font, kind) for up to ``non_chars_per_line`` wrong
        cuts of one drawn line: candidates of the guided segmenter's lattice that hold a
        fragment of a character or parts of two, cut as the device cuts them."""
        line = self.draw(rng)
        if line is None:
            return []
        wrong = non_char_boxes(line.segmentation, line.drawn, rng, self.config.merge_share)
        chosen = rng.permutation(len(wrong))[: self.config.non_chars_per_line]
        segmentation = line.segmentation
        crops = [
            cut_char(segmentation.normalised, segmentation.band, wrong[int(i)]) for i in chosen
        ]
        label = len(self.charset)
        return [
            (crop, label, line.font.name, line.font.kind.value)
            for crop in crops
            if int(crop.max()) >= BLANK_LEVEL
        ]


@dataclass(frozen=True)
class DrawnLine:
    """A drawn string, its font, the device's segmentation of it and where each character
    was drawn (in the coordinates of ``segmentation.normalised``)."""

    text: str
    font: FontSpec
    segmentation: Segmentation
    drawn: tuple[Box, ...]


def _union(first: Box, second: Box) -> Box:
    x0, y0 = min(first[0], second[0]), min(first[1], second[1])
    x1 = max(first[0] + first[2], second[0] + second[2])
    y1 = max(first[1] + first[3], second[1] + second[3])
    return (x0, y0, x1 - x0, y1 - y0)


def non_char_boxes(
    segmentation: Segmentation,
    drawn: tuple[Box, ...],
    rng: np.random.Generator,
    merge_share: float,
) -> list[Box]:
    """The candidates of the guided segmenter's lattice (``build_lattice``) that are wrong
    cuts of this line. Some neighbouring boxes are merged first, as the classical segmenter
    merges touching characters, so that the lattice's inner cuts make the fragments and
    straddles a touching pair gives."""
    boxes: list[Box] = []
    for box in segmentation.boxes:
        if boxes and rng.random() < merge_share:
            boxes[-1] = _union(boxes[-1], box)
        else:
            boxes.append(box)
    lattice = build_lattice(replace(segmentation, boxes=tuple(boxes)))
    return [box for box in lattice.boxes if cut_verdict(box, drawn) == "non_char"]


CutVerdict = Literal["char", "non_char", "unsure"]


def cut_verdict(box: Box, drawn: tuple[Box, ...]) -> CutVerdict:
    """``char`` when a candidate box holds one drawn character (most of its columns, not much
    more), ``non_char`` when it holds a fragment of one (60% of its columns or less, and
    nothing of another) or large parts of two, ``unsure`` in between (never used as
    either: the left two thirds of an 'E' still read as an 'E')."""
    x0, x1 = box[0], box[0] + box[2]
    covered = [max(0, min(x1, dx + dw) - max(x0, dx)) / max(1, dw) for dx, _, dw, _ in drawn]
    if sum(c >= 0.35 for c in covered) >= 2:
        return "non_char"
    touched = [i for i, c in enumerate(covered) if c > 0.1]
    if len(touched) != 1:
        return "unsure"
    part, width = covered[touched[0]], drawn[touched[0]][2]
    if part >= 0.85 and box[2] <= 1.25 * width + 2:
        return "char"
    return "non_char" if part <= 0.6 else "unsure"


def _drawn_boxes(
    boxes: tuple[Box, ...],
    segmentation: Segmentation,
    drawn_shape: tuple[int, ...],
    image_shape: tuple[int, ...],
) -> tuple[Box, ...]:
    """The drawn boxes in the coordinates of ``segmentation.normalised``: scaled with the
    image (low-resolution degradation) and moved as the segmenter sheared it upright."""
    sx, sy = image_shape[1] / drawn_shape[1], image_shape[0] / drawn_shape[0]
    moved = []
    for x, y, w, h in boxes:
        centre_y = (y + h / 2.0) * sy
        left = segmentation.from_crop(x * sx, centre_y)
        right = segmentation.from_crop((x + w) * sx, centre_y)
        moved.append(
            (max(0, int(left)), int(y * sy), max(1, round(right - left)), max(1, round(h * sy)))
        )
    return tuple(moved)


def _aligned(found: tuple[Box, ...], drawn: tuple[Box, ...]) -> bool:
    """One found box per drawn character, in order, each holding that character and no
    neighbour: its centre column lies in the drawn box (widened by a quarter of its width),
    most of it (60%) overlaps the drawn box, and it is not much wider than the drawn box (a
    cut that takes half a neighbour, as a wrong dot-matrix split does, is not)."""
    if len(found) != len(drawn):
        return False
    for (fx, _, fw, fh), (dx, _, dw, _) in zip(found, drawn, strict=True):
        centre = fx + fw / 2.0
        shared = min(fx + fw, dx + dw) - max(fx, dx)
        if not dx - 0.25 * dw <= centre <= dx + 1.25 * dw:
            return False
        if shared < 0.6 * fw or fw > 1.3 * dw + 0.1 * fh + 2:
            return False
    return True


def _with_margins(
    ink: npt.NDArray[np.float32],
    boxes: tuple[Box, ...],
    char_height: int,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float32], tuple[Box, ...]]:
    """Crop a drawing to its ink plus the margins a line locator leaves; boxes follow."""
    mask = ink > 0.2
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom = (int(rng.uniform(0.05, 0.45) * char_height) for _ in range(2))
    left, right = (int(rng.uniform(0.1, 0.8) * char_height) for _ in range(2))
    pad = max(top, bottom, left, right)
    padded = cv2.copyMakeBorder(ink, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0.0)
    y0, x0 = int(rows[0]) + pad - top, int(cols[0]) + pad - left
    cropped: npt.NDArray[np.float32] = padded[
        y0 : int(rows[-1]) + 1 + pad + bottom, x0 : int(cols[-1]) + 1 + pad + right
    ]
    moved = tuple((x + pad - x0, y + pad - y0, w, h) for x, y, w, h in boxes)
    return cropped, moved


def _generate_chunk(
    args: tuple[CharSynthesizer, int, int, int, int, bool],
) -> tuple[npt.NDArray[np.uint8], list[int], list[str], list[str]]:
    synthesizer, seed, count, height, width, non_char = args
    rng = np.random.default_rng(seed)
    images: list[npt.NDArray[np.uint8]] = []
    labels: list[int] = []
    fonts: list[str] = []
    kinds: list[str] = []
    while len(labels) < count:
        for image, label, font, kind in synthesizer.line(rng, height, width, non_char):
            images.append(image)
            labels.append(label)
            fonts.append(font)
            kinds.append(kind)
    return np.stack(images[:count]), labels[:count], fonts[:count], kinds[:count]


def synthetic_fonts(held_out: bool, font_dirs: tuple[Path, ...] = ()) -> list[FontSpec]:
    """Training fonts, or the held-out test fonts (plus the procedural print styles)."""
    train, test = split_fonts(all_fonts(font_dirs))
    return test if held_out else train


def generate_char_set(
    count: int,
    seed: int,
    held_out: bool = False,
    charset: str = CHAR_CHARSET,
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    config: CharSynthConfig = CharSynthConfig(),
    fonts: list[FontSpec] | None = None,
    workers: int = 1,
    chunk: int = 2000,
    non_char: bool = False,
) -> CharSet:
    """``count`` synthetic characters, reproducibly: chunk ``i`` always uses seed ``(seed, i)``
    whatever the number of workers. ``non_char``: ``count`` wrong cuts instead, all of the
    non-character class (``CharSynthesizer.non_char_cuts``)."""
    synthesizer = CharSynthesizer(
        fonts if fonts is not None else synthetic_fonts(held_out), charset, config
    )
    chunks = [
        (
            synthesizer,
            int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
            min(chunk, count - start),
            height,
            width,
            non_char,
        )
        for i, start in enumerate(range(0, count, chunk))
    ]
    results: Iterator[tuple[npt.NDArray[np.uint8], list[int], list[str], list[str]]]
    pool = None
    if workers > 1 and len(chunks) > 1:
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap(_generate_chunk, chunks)
    else:
        results = map(_generate_chunk, chunks)
    parts: list[CharSet] = []
    try:
        for images, labels, fonts_used, kinds in results:
            parts.append(
                CharSet(
                    images,
                    np.array(labels, dtype=np.int64),
                    charset,
                    fonts_used,
                    kinds,
                    non_char=non_char,
                )
            )
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return CharSet.concatenate(parts)


# --- what ``--data`` names --------------------------------------------------------------------

SYNTHETIC_TRAIN = 24_000
SYNTHETIC_TEST = 6_000
FOLDER_TEST_FRACTION = 0.25


@dataclass
class CharData:
    """A training and a test split, and how they were made (for the report); ``extra_tests``
    are further test sets reported beside the main one (the degraded synthetic characters)."""

    train: CharSet
    test: CharSet
    description: dict[str, object]
    extra_tests: dict[str, CharSet] = field(default_factory=dict)
    non_char_test: CharSet | None = None
    """Wrong cuts in the held-out fonts, when the training set has non-character crops."""


def resolve_char_data(
    data: str,
    test_data: str | None = None,
    charset: str = "",
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    seed: int = 0,
    synthetic_train: int = SYNTHETIC_TRAIN,
    synthetic_test: int = SYNTHETIC_TEST,
    test_fraction: float = FOLDER_TEST_FRACTION,
    workers: int = 1,
    synthetic_non_chars: int = 0,
) -> CharData:
    """``digits`` (the fixed 1,257 / 540 split of scikit-learn's scans), ``synthetic``
    (training fonts; the test set is drawn with the held-out fonts) or a labelled folder
    (tested on ``test_data``, else on a stratified ``test_fraction`` of it). An empty
    ``charset`` means: the ten digits, the default char charset, the labels found.
    ``synthetic_non_chars`` (synthetic data only) adds that many wrong cuts to the training
    set as a non-character class, and a quarter as many in the held-out fonts to test it."""
    if synthetic_non_chars and data != "synthetic":
        raise DatasetError("--non-chars applies to --data synthetic only")
    if data == "digits":
        if test_data is not None:
            raise DatasetError("--test-data does not apply to --data digits (its split is fixed)")
        train, test = digits_split(height, width, seed=0)
        return CharData(
            train,
            test,
            {"source": "sklearn load_digits", "split": "stratified 1257/540, seed 0"},
        )
    if data == "synthetic":
        if test_data is not None:
            raise DatasetError("--test-data does not apply to --data synthetic")
        charset = charset or CHAR_CHARSET
        train = generate_char_set(
            synthetic_train, seed, False, charset, height, width, workers=workers
        )
        non_char_test = None
        if synthetic_non_chars:
            wrong_cuts = generate_char_set(
                synthetic_non_chars,
                seed + 30_000,
                False,
                charset,
                height,
                width,
                workers=workers,
                non_char=True,
            )
            train = CharSet.concatenate([train, wrong_cuts])
            non_char_test = generate_char_set(
                max(1, synthetic_non_chars // 4),
                seed + 10_002,
                True,
                charset,
                height,
                width,
                PRINTED,
                workers=workers,
                non_char=True,
            )
        test, degraded = (
            generate_char_set(
                synthetic_test, seed + offset, True, charset, height, width, config, workers=workers
            )
            for offset, config in ((10_000, PRINTED), (10_001, DEGRADED))
        )
        return CharData(
            train,
            test,
            {
                "source": "synthetic printed characters",
                "train_fonts": sorted({s for s in train.sources}),
                "train_degraded_share": CharSynthConfig().degrade,
                "test": "held-out fonts and the procedural styles, printed (composed on paper, "
                "no camera degradation); 'held_out_degraded': the same fonts, every line degraded",
                "test_fonts": sorted(set(test.sources) | set(degraded.sources)),
                "train_non_chars": synthetic_non_chars,
            },
            {"held_out_degraded": degraded},
            non_char_test,
        )
    folder = Path(data)
    loaded = load_char_folder(folder, charset, height, width)
    if test_data is not None:
        test = load_char_folder(Path(test_data), loaded.charset, height, width)
        return CharData(loaded, test, {"source": str(folder), "test": str(test_data)})
    train_rows, test_rows = stratified_split(loaded.labels, test_fraction, seed)
    train = loaded.subset(train_rows)
    train.problems = loaded.problems
    return CharData(
        train,
        loaded.subset(test_rows),
        {"source": str(folder), "split": f"stratified {1 - test_fraction:.0%}/{test_fraction:.0%}"},
    )


# --- segmentation measurement -----------------------------------------------------------------


@dataclass(frozen=True)
class SegmentationLine:
    """A drawn line, its text and how it was drawn; ``touching`` when two neighbouring
    characters' drawn boxes touch or overlap (negative tracking, bold or slanted print)."""

    image: npt.NDArray[np.uint8]
    text: str
    kind: str
    touching: bool


def segmentation_lines(
    count: int, seed: int, degraded: bool = False, held_out: bool = False
) -> Iterator[SegmentationLine]:
    """Code lines in the training (or held-out) fonts and print styles, in the line model's
    style proportions: drawn, cropped with a locator's margins and composed on paper (contrast,
    polarity, uneven light, texture); ``degraded`` adds the blur, low resolution, noise and
    JPEG of the training data."""
    from training import texts

    synthesizer = CharSynthesizer(synthetic_fonts(held_out), DEFAULT_CHARSET)
    rng = np.random.default_rng(seed)
    made = 0
    while made < count:
        font, alphabet = synthesizer.pick(rng)
        text = texts.code_line(rng, DEFAULT_CHARSET)
        text = " ".join("".join(c for c in text if c in alphabet + " ").split())
        if not text:
            continue
        char_height = int(rng.integers(16, 45))
        rendered = render_line(text, font, char_height, rng)
        ink, boxes = _with_margins(rendered.ink, rendered.boxes, char_height, rng)
        composed, _ = compose(ink, rng)
        if degraded:
            gray, _ = degrade(composed, char_height, rng)
        else:
            gray = np.clip(np.rint(composed), 0, 255).astype(np.uint8)
        drawn = [b for b in boxes if b[2] > 2 or b[3] > char_height // 2]  # no space slivers
        touching = any(b[0] <= a[0] + a[2] for a, b in itertools.pairwise(drawn))
        made += 1
        yield SegmentationLine(gray, text, font.kind.value, touching)
