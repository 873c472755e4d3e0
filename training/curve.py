"""Learning curve against data size: the CNN and the KNN on growing parts of the training split.

This is the answer to "why did my CNN lose to KNN?", with data: a KNN needs no training and
is strong on a few images per class; a compact CNN with augmentation catches up and passes
it as images are added. Both are tested on the same fixed test split at every size, and the
parts are nested (the 25% part contains the 10% part), stratified by class.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from training.char_train import CharTrainConfig, int8_probabilities, predict, train_char_model
from training.chars import CharSet

CURVE_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class CurvePoint:
    """Test accuracy of both models trained on one part of the training split."""

    fraction: float
    images: int
    cnn_float: float
    cnn_int8: float | None
    knn: float
    knn_k: int
    cnn_seconds: float


def nested_parts(
    labels: npt.NDArray[np.int64], fractions: tuple[float, ...], seed: int
) -> list[npt.NDArray[np.int64]]:
    """Indices of each part: every class shuffled once, the first ``fraction`` of each class
    taken (at least 2 images, so a validation split can still be carved), so parts nest."""
    rng = np.random.default_rng(seed)
    orders = {int(c): rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}
    parts = []
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"fractions must be in (0, 1], got {fraction}")
        chosen = [
            order[: min(len(order), max(2, round(fraction * len(order))))]
            for order in orders.values()
        ]
        parts.append(np.sort(np.concatenate(chosen)))
    return parts


def learning_curve(
    train: CharSet,
    test: CharSet,
    config: CharTrainConfig,
    fractions: tuple[float, ...] = CURVE_FRACTIONS,
    seed: int = 0,
    log: Callable[[str], None] = print,
    int8_dir: Path | None = None,
) -> list[CurvePoint]:
    """Train the CNN (the full char recipe) and cross-validate a KNN on each nested part.
    With ``int8_dir`` each CNN is also exported to int8 and tested through the device runtime."""
    from training.baselines import knn_baseline

    points = []
    for fraction, rows in zip(fractions, nested_parts(train.labels, fractions, seed), strict=True):
        part = train.subset(rows)
        log(f"{fraction:.0%} of the training split: {len(part)} images")
        knn = knn_baseline(part, test, seed)
        started = time.monotonic()
        trained = train_char_model(config, part, log=lambda _: None)
        seconds = time.monotonic() - started
        cnn = float(np.mean(predict(trained.model, test.images) == test.labels))
        cnn_int8 = None
        if int8_dir is not None:
            from quantize.int8 import export_int8

            tflite = int8_dir / f"curve-{round(fraction * 100)}.tflite"
            export_int8(trained.model, part.images[:500], tflite, tflite.stem, "char", part.charset)
            probabilities = int8_probabilities(tflite, test.images)
            cnn_int8 = float(np.mean(probabilities.argmax(axis=1) == test.labels))
        log(
            f"  CNN {cnn:.4f}{'' if cnn_int8 is None else f' (int8 {cnn_int8:.4f})'}  "
            f"KNN {knn.accuracy:.4f} (k={knn.params['n_neighbors']})  [{seconds:.0f} s]"
        )
        points.append(
            CurvePoint(
                fraction,
                len(part),
                cnn,
                cnn_int8,
                knn.accuracy,
                int(knn.params["n_neighbors"]),
                round(seconds, 1),
            )
        )
    return points


def plot_curve(points: list[CurvePoint], out: Path, title: str) -> None:
    """Test accuracy against the number of training images, CNN and KNN."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [p.images for p in points]
    figure, axis = plt.subplots(figsize=(6.5, 4.2))
    axis.plot(
        sizes, [p.cnn_float for p in points], "o-", color="tab:blue", label="compact CNN (float)"
    )
    int8 = [p.cnn_int8 for p in points if p.cnn_int8 is not None]
    if len(int8) == len(points):
        axis.plot(
            sizes,
            int8,
            "s--",
            color="tab:cyan",
            label="compact CNN (int8, device runtime)",
        )
    axis.plot(
        sizes,
        [p.knn for p in points],
        "o-",
        color="tab:orange",
        label="KNN (k by cross-validation)",
    )
    for point in points:
        axis.annotate(
            f"{point.cnn_float:.3f}",
            (point.images, point.cnn_float),
            textcoords="offset points",
            xytext=(0, 6),
            ha="center",
            fontsize=7,
            color="tab:blue",
        )
        axis.annotate(
            f"{point.knn:.3f}",
            (point.images, point.knn),
            textcoords="offset points",
            xytext=(0, -12),
            ha="center",
            fontsize=7,
            color="tab:orange",
        )
    axis.set_xscale("log")
    axis.minorticks_off()
    axis.set_xticks(sizes, [str(s) for s in sizes])
    low = min([p.knn for p in points] + [p.cnn_float for p in points])
    axis.set_ylim(max(0.0, low - 0.05), 1.0)
    axis.set_xlabel("training images (log scale)")
    axis.set_ylabel("test accuracy")
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def write_curve(points: list[CurvePoint], out: Path, description: dict[str, object]) -> None:
    out.write_text(
        json.dumps({**description, "points": [asdict(p) for p in points]}, indent=1) + "\n",
        encoding="utf-8",
    )
