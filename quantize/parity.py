"""``check``: the float model and its int8 export on the same held-out images, as a gate.

The int8 side runs exactly what the device runs (``edge_ocr.model.load_model`` and, for line
models, ``LineRecognizer``); the float side feeds the Keras model the same binned uint8 images
divided by 255 and decodes with the device's decoder. Reads are compared raw (no reject
threshold), so a difference is the quantization's and nothing else's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from edge_ocr.contract import ModelContract, ModelError
from quantize.data import ImageSet
from quantize.errors import QuantizeError

BATCH = 256
SYNTHETIC_CHECK_SAMPLES = 2000
"""Default size of a synthetic check set: with fewer lines the 95% interval of the drop of a
real model (~10% of reads differ) is several times the 0.5-point tolerance."""


@dataclass(frozen=True)
class ClassDelta:
    """Per-character accuracy (the share of a character's occurrences read right, from the
    edit alignment of truth and read) of the float and int8 models."""

    char: str
    count: int
    float_accuracy: float
    int8_accuracy: float

    @property
    def delta_points(self) -> float:
        return (self.int8_accuracy - self.float_accuracy) * 100.0


@dataclass(frozen=True)
class Disagreement:
    truth: str
    float_read: str
    int8_read: str


@dataclass(frozen=True)
class ParityResult:
    """Float vs int8 on one data set; ``passed`` when the exact-accuracy drop is within bounds."""

    kind: str
    data: str
    samples: int
    float_exact: float
    int8_exact: float
    float_cer: float
    int8_cer: float
    agreement: float
    max_drop_points: float
    classes: tuple[ClassDelta, ...]
    disagreements: tuple[Disagreement, ...]
    float_only_right: int
    """Lines float reads right and int8 wrong (the discordant pairs behind the drop)."""
    int8_only_right: int

    @property
    def drop_points(self) -> float:
        return (self.float_exact - self.int8_exact) * 100.0

    @property
    def drop_margin_points(self) -> float:
        """Half-width of the 95% interval of the drop (paired, as McNemar's test): how far the
        measured drop may be from the true one on data like this. Only lines that one model
        reads right and the other wrong carry information, so a small set cannot resolve a
        0.5-point tolerance."""
        n = self.samples
        if n == 0:
            return 0.0
        b, c = self.float_only_right, self.int8_only_right
        variance = max(b + c - (b - c) ** 2 / n, 0.0)
        return 1.96 * math.sqrt(variance) / n * 100.0

    @property
    def passed(self) -> bool:
        return self.drop_points <= self.max_drop_points + 1e-9

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drop_points"] = round(self.drop_points, 4)
        data["drop_margin_points"] = round(self.drop_margin_points, 4)
        data["passed"] = self.passed
        data["classes"] = [
            {**asdict(c), "delta_points": round(c.delta_points, 4)} for c in self.classes
        ]
        return data


def float_reads(model: Any, images: npt.NDArray[np.uint8], kind: str, charset: str) -> list[str]:
    """Reads of the Keras model on binned images / 255, decoded as on the device."""
    from edge_ocr.decode import greedy_decode_batch

    reads: list[str] = []
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH].astype(np.float32)[..., np.newaxis] / 255.0
        probabilities = np.asarray(model(batch, training=False))
        if kind == "line":
            reads += [d.text for d in greedy_decode_batch(probabilities[:, 0], charset)]
        else:
            reads += [charset[int(i)] for i in probabilities[:, : len(charset)].argmax(axis=-1)]
    return reads


def int8_reads(tflite: Path, images: npt.NDArray[np.uint8]) -> tuple[list[str], ModelContract]:
    """Reads through the device runtime: contract and sha256 checked, input quantization folded
    into a lookup table, one batched interpreter call per chunk."""
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.model import load_model
    from edge_ocr.recognize import LineRecognizer

    loaded = load_model(str(tflite), accel="cpu")
    contract = loaded.contract
    reads: list[str] = []
    if contract.kind == "line":
        recognizer = LineRecognizer(loaded, reject_threshold=0.0)
        for start in range(0, len(images), BATCH):
            reads += [line.text for line in recognizer.read_binned(images[start : start + BATCH])]
        return reads, contract
    classifier = CharRecognizer(loaded, reject_threshold=0.0, guided=None)
    for start in range(0, len(images), BATCH):
        probabilities = classifier.probabilities(images[start : start + BATCH])
        reads += [contract.charset[int(i)] for i in probabilities.argmax(axis=-1)]
    return reads, contract


def class_deltas(
    truths: list[str], float_read: list[str], int8_read: list[str]
) -> tuple[ClassDelta, ...]:
    """Per-character accuracies, largest int8 loss first."""
    from training.metrics import edit_operations

    def hits(reads: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for truth, read in zip(truths, reads, strict=True):
            for op, expected, _ in edit_operations(truth, read):
                if op == "=":
                    counts[expected] = counts.get(expected, 0) + 1
        return counts

    totals: dict[str, int] = {}
    for truth in truths:
        for char in truth:
            totals[char] = totals.get(char, 0) + 1
    float_hits, int8_hits = hits(float_read), hits(int8_read)
    deltas = [
        ClassDelta(c, n, float_hits.get(c, 0) / n, int8_hits.get(c, 0) / n)
        for c, n in totals.items()
    ]
    return tuple(sorted(deltas, key=lambda d: (d.delta_points, -d.count, d.char)))


def compare(
    truths: list[str],
    float_read: list[str],
    int8_read: list[str],
    kind: str,
    data: str,
    max_drop_points: float,
    keep_disagreements: int = 10,
) -> ParityResult:
    """Scores of both sides, their agreement and per-character deltas."""
    from training.metrics import score_lines

    float_score = score_lines(truths, float_read)
    int8_score = score_lines(truths, int8_read)
    agreement = float(np.mean([a == b for a, b in zip(float_read, int8_read, strict=True)]))
    rows = list(zip(truths, float_read, int8_read, strict=True))
    disagreements = tuple(Disagreement(t, f, i) for t, f, i in rows if f != i)[:keep_disagreements]
    float_only = sum(f == t != i for t, f, i in rows)
    int8_only = sum(i == t != f for t, f, i in rows)
    return ParityResult(
        kind=kind,
        data=data,
        samples=len(truths),
        float_exact=float(float_score["exact_accuracy"]),  # type: ignore[arg-type]
        int8_exact=float(int8_score["exact_accuracy"]),  # type: ignore[arg-type]
        float_cer=float(float_score["cer"]),  # type: ignore[arg-type]
        int8_cer=float(int8_score["cer"]),  # type: ignore[arg-type]
        agreement=agreement,
        max_drop_points=max_drop_points,
        classes=class_deltas(truths, float_read, int8_read),
        disagreements=disagreements,
        float_only_right=float_only,
        int8_only_right=int8_only,
    )


def check_models(
    float_path: Path,
    int8_path: Path,
    data: str,
    samples: int | None = None,
    max_drop_points: float = 0.5,
    seed: int = 1,
) -> ParityResult:
    """Load both models, check they are the same recognizer, read ``data`` with both, compare.

    ``data`` is a labelled folder or ``synthetic[:lines|captcha]`` (held-out fonts, ``seed``);
    ``int8_path`` a .tflite with its contract or the name of a bundled model.
    """
    from edge_ocr.contract import load_contract
    from edge_ocr.model import resolve_model
    from quantize.data import load_images, synthetic_kind
    from quantize.graph import find_tflite, read_graph, require_int8
    from quantize.keras_model import geometry, load_keras_model

    if max_drop_points < 0:
        raise QuantizeError("--max-drop must not be negative")
    int8_path = find_tflite(int8_path)
    require_int8(read_graph(int8_path), str(int8_path))
    try:
        contract = load_contract(resolve_model(str(int8_path))[1])
    except ModelError as error:
        raise QuantizeError(str(error)) from None
    model = load_keras_model(float_path)
    found = geometry(model, str(float_path))
    if (found.kind, found.height, found.width, found.classes) != (
        contract.kind,
        contract.input_height,
        contract.input_width,
        contract.num_classes,
    ):
        raise QuantizeError(
            f"{float_path} is a {found.kind} model for {found.height}x{found.width} with "
            f"{found.classes} classes, but {int8_path.name}'s contract says {contract.kind}, "
            f"{contract.input_height}x{contract.input_width}, {contract.num_classes} classes: "
            "not the same model"
        )
    if samples is None and synthetic_kind(data) is not None:
        samples = SYNTHETIC_CHECK_SAMPLES
    images: ImageSet = load_images(
        data,
        contract.kind,
        contract.input_height,
        contract.input_width,
        contract.charset,
        samples,
        seed,
        held_out=True,
    )
    try:
        int8_read, _ = int8_reads(int8_path, images.images)
    except ModelError as error:
        raise QuantizeError(str(error)) from None
    float_read = float_reads(model, images.images, contract.kind, contract.charset)
    return compare(
        list(images.texts),
        float_read,
        int8_read,
        contract.kind,
        images.description,
        max_drop_points,
    )


def format_result(result: ParityResult, top_classes: int = 8) -> list[str]:
    """The human-readable check, one line per string."""
    lines = [
        f"data         {result.data}, {result.kind} model",
        f"exact        float {result.float_exact:.2%}   int8 {result.int8_exact:.2%}   "
        f"drop {result.drop_points:.2f} ± {result.drop_margin_points:.2f} points "
        f"(95% interval; allowed {result.max_drop_points:g})",
        f"CER          float {result.float_cer:.4f}   int8 {result.int8_cer:.4f}",
        f"agreement    {result.agreement:.2%} of reads identical; {result.float_only_right} "
        f"lines only float reads right, {result.int8_only_right} only int8",
    ]
    if result.drop_margin_points > result.max_drop_points:
        lines.append(
            f"note         {result.samples} lines cannot resolve a "
            f"{result.max_drop_points:g}-point tolerance (the interval is wider): check on more "
            "--samples"
        )
    worst = [c for c in result.classes if c.delta_points < 0][:top_classes]
    if worst:
        lines.append("per character, largest int8 losses (float -> int8 accuracy):")
        lines += [
            f"  {c.char!r:<6} {c.float_accuracy:7.2%} -> {c.int8_accuracy:7.2%}  "
            f"({c.delta_points:+.1f}, n={c.count})"
            for c in worst
        ]
    else:
        lines.append("per character: no character is read worse by int8")
    if result.disagreements:
        lines.append("first disagreements (truth | float | int8):")
        lines += [
            f"  {d.truth!r} | {d.float_read!r} | {d.int8_read!r}" for d in result.disagreements[:5]
        ]
    return lines
