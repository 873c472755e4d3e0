"""Line datasets: labelled folders on disk and pre-generated synthetic sets, binned once.

Every image goes through ``edge_ocr.preprocess.bin_line``, the function the device uses.
"""

from __future__ import annotations

import csv
import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.charset import DEFAULT_CHARSET, encode, unknown_characters
from edge_ocr.preprocess import LineShape, bin_line
from training.synth import Sample

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class DatasetError(ValueError):
    """The dataset cannot be used at all (not a folder, no usable images)."""


@dataclass(frozen=True)
class Problem:
    """A row or file that was skipped, with where it is, for a report the user can act on."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class LineSet:
    """Binned images (N x H x W uint8), their texts and where each came from."""

    images: npt.NDArray[np.uint8]
    texts: list[str]
    sources: list[str]
    kinds: list[str]
    problems: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: npt.NDArray[np.int64]) -> LineSet:
        return LineSet(
            self.images[indices],
            [self.texts[i] for i in indices],
            [self.sources[i] for i in indices],
            [self.kinds[i] for i in indices],
        )

    @staticmethod
    def concatenate(parts: list[LineSet]) -> LineSet:
        return LineSet(
            np.concatenate([p.images for p in parts]),
            [t for p in parts for t in p.texts],
            [s for p in parts for s in p.sources],
            [k for p in parts for k in p.kinds],
            [q for p in parts for q in p.problems],
        )


def read_labels(folder: Path) -> tuple[list[tuple[Path, str, str]], list[Problem]]:
    """(image path, text, where) rows from ``labels.csv`` (``file,text``), or from file names
    (the captcha convention ``A7K2.png``; ``A7K2_3.png`` for a second image of the same text)."""
    if not folder.is_dir():
        raise DatasetError(f"dataset folder not found: {folder}")
    labels_file = folder / "labels.csv"
    rows: list[tuple[Path, str, str]] = []
    problems: list[Problem] = []
    if labels_file.is_file():
        with labels_file.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            for line_number, row in enumerate(reader, start=1):
                where = f"{labels_file}:{line_number}"
                if line_number == 1 and [c.strip().lower() for c in row[:2]] == ["file", "text"]:
                    continue
                if len(row) < 2 or not row[0].strip():
                    problems.append(Problem(where, "expected 'file,text'"))
                    continue
                rows.append((folder / row[0].strip(), row[1], where))
        return rows, problems
    rows += [
        (path, path.stem.split("_")[0], str(path))
        for path in sorted(folder.iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES
    ]
    return rows, problems


def load_line_folder(
    folder: Path, charset: str = DEFAULT_CHARSET, shape: LineShape = LineShape()
) -> LineSet:
    """Bin every labelled image of ``folder``; bad rows are skipped and listed in ``problems``."""
    rows, problems = read_labels(folder)
    images: list[npt.NDArray[np.uint8]] = []
    texts: list[str] = []
    sources: list[str] = []
    for path, text, where in rows:
        missing = unknown_characters(text, charset)
        if not text:
            problems.append(Problem(where, "empty label"))
            continue
        if missing:
            problems.append(Problem(where, f"characters outside the charset: {missing!r}"))
            continue
        if not path.is_file():
            problems.append(Problem(where, f"missing file {path.name}"))
            continue
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            problems.append(Problem(where, f"unreadable image {path.name}"))
            continue
        try:
            images.append(bin_line(image, shape))
        except ValueError as error:
            problems.append(Problem(where, str(error)))
            continue
        texts.append(text)
        sources.append(str(path))
    if not texts:
        detail = f" ({len(problems)} problems, first: {problems[0]})" if problems else ""
        raise DatasetError(f"no usable labelled images in {folder}{detail}")
    stacked = np.stack(images)
    return LineSet(stacked, texts, sources, ["real"] * len(texts), problems)


SampleFactory = Callable[[np.random.Generator], Sample]


def _generate_chunk(
    args: tuple[SampleFactory, int, int, LineShape],
) -> tuple[npt.NDArray[np.uint8], list[str], list[str], list[str]]:
    factory, seed, count, shape = args
    rng = np.random.default_rng(seed)
    images = np.zeros((count, shape.height, shape.width), dtype=np.uint8)
    texts, fonts, kinds = [], [], []
    for index in range(count):
        sample = factory(rng)
        images[index] = bin_line(sample.image, shape)
        texts.append(sample.text)
        fonts.append(sample.font)
        kinds.append(sample.font_kind)
    return images, texts, fonts, kinds


def generate_line_set(
    factory: SampleFactory,
    count: int,
    seed: int,
    shape: LineShape = LineShape(),
    workers: int = 1,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> LineSet:
    """Generate and bin ``count`` samples, reproducibly: chunk ``i`` always uses seed
    ``(seed, i)``, whatever the number of workers."""
    chunks = [
        (
            factory,
            int(np.random.SeedSequence([seed, i]).generate_state(1)[0]),
            min(chunk, count - start),
            shape,
        )
        for i, start in enumerate(range(0, count, chunk))
    ]
    results: Iterator[tuple[npt.NDArray[np.uint8], list[str], list[str], list[str]]]
    if workers > 1 and len(chunks) > 1:
        pool = multiprocessing.get_context("fork").Pool(workers)
        results = pool.imap(_generate_chunk, chunks)
    else:
        pool = None
        results = map(_generate_chunk, chunks)
    parts = []
    try:
        for images, texts, fonts, kinds in results:
            parts.append(LineSet(images, texts, fonts, kinds))
            if progress is not None:
                progress(len(texts))
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return LineSet.concatenate(parts)


def encode_labels(texts: list[str], charset: str, max_length: int) -> npt.NDArray[np.int32]:
    """Dense CTC targets padded with the blank (0); the length is the count of non-zero entries."""
    labels = np.zeros((len(texts), max_length), dtype=np.int32)
    for row, text in enumerate(texts):
        encoded = encode(text, charset)[:max_length]
        labels[row, : len(encoded)] = encoded
    return labels


def save_line_set(line_set: LineSet, path: Path) -> None:
    np.savez_compressed(
        path,
        images=line_set.images,
        texts=np.array(line_set.texts),
        sources=np.array(line_set.sources),
        kinds=np.array(line_set.kinds),
    )


def load_line_set(path: Path) -> LineSet:
    with np.load(path) as data:
        return LineSet(
            data["images"],
            [str(t) for t in data["texts"]],
            [str(s) for s in data["sources"]],
            [str(k) for k in data["kinds"]],
        )
