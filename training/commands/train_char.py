"""``python -m training train-char``: train a per-character model and compare it with KNN/SVM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train_char(
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="A folder of character crops (DIR/<label>/*.png or DIR/labels.csv with "
            "file,label), 'digits' (scikit-learn's scans, fixed 1257/540 split) or "
            "'synthetic' (printed characters; tested on held-out fonts).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Run folder: model.keras, model.tflite + model.json, report.json, PNGs.",
        ),
    ],
    test_data: Annotated[
        str | None,
        typer.Option("--test-data", help="Folder to test on; default: a stratified 25% of --data."),
    ] = None,
    pretrain: Annotated[
        str | None,
        typer.Option(
            "--pretrain", help="'synthetic': pre-train on synthetic printed characters first."
        ),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 80,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    charset: Annotated[
        str,
        typer.Option(
            "--charset",
            help="Classes, in order (default: the labels found; digits: 0-9; "
            "synthetic: 0-9 A-Z - / : .).",
        ),
    ] = "",
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help="Also fit KNN and SVM.")
    ] = True,
    synthetic_train: Annotated[
        int, typer.Option("--synthetic-train", min=1, help="Synthetic training characters.")
    ] = 24_000,
    synthetic_test: Annotated[
        int, typer.Option("--synthetic-test", min=1, help="Synthetic held-out-font test set.")
    ] = 6_000,
    pretrain_count: Annotated[
        int, typer.Option("--pretrain-count", min=1, help="Synthetic pre-training characters.")
    ] = 20_000,
    non_chars: Annotated[
        int,
        typer.Option(
            "--non-chars",
            min=0,
            help="With --data synthetic: wrong cuts (fragments, merged pairs) to train as a "
            "'not a character' class, which guided segmentation uses to refuse them.",
        ),
    ] = 0,
    reject_threshold: Annotated[
        float,
        typer.Option(
            "--reject-threshold", help="Confidence under which the device reads a character as '?'."
        ),
    ] = 0.5,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes drawing synthetic characters.")
    ] = 1,
    channels: Annotated[
        str,
        typer.Option(
            "--channels",
            help="Filters of the model's three stages, e.g. 24,48,96 (~42k parameters with 40 "
            "characters) or 28,56,112 (~57k).",
        ),
    ] = "24,48,96",
    pooling: Annotated[
        str,
        typer.Option(
            "--pooling",
            help="'average' (global average pooling) or 'depthwise' (a learned weight per "
            "position: keeps where strokes are, for ~1.2k parameters more).",
        ),
    ] = "average",
) -> None:
    """Train a compact int8 character classifier on binned crops, with KNN and SVM on the same
    split for comparison; writes model.tflite (int8) with its model.json contract, report.json,
    training.png, confusion.png and errors.png."""
    from training.char_train import train_char_command

    train_char_command(
        data=data,
        out=out,
        pretrain=pretrain,
        epochs=epochs,
        seed=seed,
        test_data=test_data,
        charset=charset,
        baselines=baselines,
        synthetic_train=synthetic_train,
        synthetic_test=synthetic_test,
        pretrain_count=pretrain_count,
        reject_threshold=reject_threshold,
        workers=workers,
        synthetic_non_chars=non_chars,
        channels=channels,
        pooling=pooling,
    )
