"""Confidence calibration: does a character read at 0.9 turn out right nine times in ten?

A reject threshold only means something when confidences are calibrated. These functions
measure it on labelled reads (numpy only, so a device can check its own prints): the
reliability diagram (confidence bins against observed accuracy), the expected calibration error
(ECE: the bin-weighted mean gap between confidence and accuracy) and the trade-off a reject
threshold buys (share of characters rejected against the accuracy of the ones kept).
``training/calibration.py`` runs them on held-out lines and draws the plot.

Which confidences: ``CharDetail.confidence`` (a character's probability at its strongest frame,
renormalised over the classes its position allows) and ``LineDecode.confidence`` (product of the
characters' confidences); correct means the character aligns
with the same character of the truth, and the line equals the truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_ocr.rules.ocv import differences


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    confidence: float
    """Mean confidence of the samples in the bin (0 when empty)."""
    accuracy: float
    """Share of them that were correct (0 when empty)."""


@dataclass(frozen=True)
class Reliability:
    """A reliability diagram and its summary figures."""

    bins: tuple[ReliabilityBin, ...]
    samples: int
    mean_confidence: float
    accuracy: float
    ece: float
    """Expected calibration error: sum over bins of (count / samples) * |accuracy - confidence|."""
    mce: float
    """Maximum calibration error over the non-empty bins."""

    def to_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "mean_confidence": round(self.mean_confidence, 5),
            "accuracy": round(self.accuracy, 5),
            "ece": round(self.ece, 5),
            "mce": round(self.mce, 5),
            "bins": [
                {
                    "lower": round(b.lower, 3),
                    "upper": round(b.upper, 3),
                    "count": b.count,
                    "confidence": round(b.confidence, 5),
                    "accuracy": round(b.accuracy, 5),
                }
                for b in self.bins
            ],
        }


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> Reliability:
    """Equal-width bins over 0-1 (a confidence of exactly 1 goes in the last bin)."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences for {len(correct)} outcomes")
    if bins < 1:
        raise ValueError("at least one bin is needed")
    conf = np.clip(np.asarray(confidences, dtype=np.float64), 0.0, 1.0)
    right = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.minimum((conf * bins).astype(np.int64), bins - 1)
    table: list[ReliabilityBin] = []
    ece = 0.0
    mce = 0.0
    for index in range(bins):
        members = which == index
        count = int(members.sum())
        mean_conf = float(conf[members].mean()) if count else 0.0
        accuracy = float(right[members].mean()) if count else 0.0
        table.append(
            ReliabilityBin(float(edges[index]), float(edges[index + 1]), count, mean_conf, accuracy)
        )
        if count:
            gap = abs(accuracy - mean_conf)
            ece += count / conf.size * gap
            mce = max(mce, gap)
    return Reliability(
        tuple(table),
        int(conf.size),
        float(conf.mean()) if conf.size else 0.0,
        float(right.mean()) if right.size else 0.0,
        ece,
        mce,
    )


def correct_characters(truth: str, read: str) -> list[bool]:
    """For each character of ``read``: does it align with the same character of ``truth``?"""
    wrong = {e.position for e in differences(truth, read) if e.kind in ("S", "I")}
    return [i not in wrong for i in range(len(read))]


@dataclass(frozen=True)
class RejectPoint:
    """What one reject threshold does on a labelled set."""

    threshold: float
    rejected: float
    """Share of samples under the threshold."""
    kept_accuracy: float
    """Accuracy of the samples at or above it (1 when none are kept)."""
    kept_errors: float
    """Share of all samples that are wrong yet kept: the errors that get through."""


def reject_curve(
    confidences: Sequence[float], correct: Sequence[bool], thresholds: Sequence[float]
) -> list[RejectPoint]:
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    points = []
    for threshold in thresholds:
        kept = conf >= threshold
        total = max(1, conf.size)
        points.append(
            RejectPoint(
                float(threshold),
                float((~kept).sum() / total),
                float(right[kept].mean()) if kept.any() else 1.0,
                float((kept & ~right).sum() / total),
            )
        )
    return points


def threshold_for_accuracy(
    confidences: Sequence[float], correct: Sequence[bool], target: float
) -> float:
    """The lowest threshold whose kept samples reach ``target`` accuracy (1.0 if none does)."""
    conf = np.asarray(confidences, dtype=np.float64)
    right = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 1.0
    order = np.argsort(conf, kind="stable")
    conf, right = conf[order], right[order]
    # Accuracy of the samples from index i to the end, for every i.
    kept_right = np.cumsum(right[::-1])[::-1]
    kept_count = np.arange(conf.size, 0, -1)
    accuracy = kept_right / kept_count
    # A threshold equal to conf[i] keeps everything from the first sample with that confidence.
    first = np.searchsorted(conf, conf, side="left")
    reaching = np.flatnonzero(accuracy[first] >= target)
    return float(conf[reaching[0]]) if reaching.size else 1.0
