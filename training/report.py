"""Training reports: figures a person reads (JSON) and looks at (PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from training.metrics import score_lines


def plot_learning_curve(history: list[dict[str, Any]], out: Path) -> None:
    """Training loss and validation exact accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, loss_axis = plt.subplots(figsize=(7, 4))
    loss_axis.plot(
        epochs, [h["loss"] for h in history], "o-", color="tab:red", label="train CTC loss"
    )
    loss_axis.set_xlabel("epoch")
    loss_axis.set_ylabel("CTC loss", color="tab:red")
    loss_axis.set_yscale("log")
    accuracy_axis = loss_axis.twinx()
    accuracy_axis.plot(
        epochs,
        [h["val_exact"] for h in history],
        "s-",
        color="tab:blue",
        label="validation exact lines",
    )
    accuracy_axis.set_ylabel("exact-line accuracy", color="tab:blue")
    accuracy_axis.set_ylim(0, 1)
    figure.suptitle("edge-ocr line model: learning curve")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def worst_errors_sheet(
    images: npt.NDArray[np.uint8],
    truths: list[str],
    reads: list[str],
    confidences: list[float],
    out: Path,
    count: int = 24,
) -> None:
    """A PNG of the misread lines the model was most sure about: the errors worth fixing first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wrong = [i for i, (t, r) in enumerate(zip(truths, reads, strict=True)) if t != r]
    wrong.sort(key=lambda i: -confidences[i])
    chosen = wrong[:count]
    rows = max(1, len(chosen))
    figure, axes = plt.subplots(rows, 1, figsize=(6, 0.75 * rows + 0.4), squeeze=False)
    for axis, index in zip(axes[:, 0], chosen, strict=False):
        axis.imshow(images[index], cmap="gray", vmin=0, vmax=255)
        axis.set_title(
            f"truth {truths[index]!r}  read {reads[index]!r}  conf {confidences[index]:.2f}",
            fontsize=7,
            loc="left",
        )
        axis.axis("off")
    if not chosen:
        axes[0, 0].text(0.5, 0.5, "no errors", ha="center", va="center")
        axes[0, 0].axis("off")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def write_json(data: dict[str, Any], out: Path) -> None:
    out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def evaluation_section(truths: list[str], reads: list[str], groups: list[str]) -> dict[str, Any]:
    """Exact-line accuracy, CER, per-group breakdown and character confusions."""
    return score_lines(truths, reads, groups)
