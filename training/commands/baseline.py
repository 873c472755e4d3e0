"""``python -m training baseline``: KNN and SVM on binned crops, tuned by cross-validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def baseline(
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="A folder of character crops (DIR/<label>/*.png or labels.csv), 'digits' "
            "or 'synthetic'.",
        ),
    ],
    test_data: Annotated[
        str | None,
        typer.Option("--test-data", help="Folder to test on; default: a stratified 25% of --data."),
    ] = None,
    charset: Annotated[
        str,
        typer.Option(
            "--charset",
            help="Classes, in order (default: the labels found; digits: 0-9; "
            "synthetic: 0-9 A-Z - / : .).",
        ),
    ] = "",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    height: Annotated[int, typer.Option("--height", min=4, help="Binned crop height.")] = 32,
    width: Annotated[int, typer.Option("--width", min=4, help="Binned crop width.")] = 24,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write the results to this JSON file.")
    ] = None,
) -> None:
    """Fit a KNN (k chosen by 5-fold cross-validation on the training split) and an RBF SVM on
    the same binned pixels and split the CNN uses, and print their test accuracy."""
    from training.baselines import run_baselines
    from training.chars import resolve_char_data
    from training.data import DatasetError

    try:
        split = resolve_char_data(data, test_data, charset, height, width, seed)
        results = run_baselines(split.train, split.test, seed)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    for problem in split.train.problems:
        typer.echo(f"skipped {problem}", err=True)
    typer.echo(
        f"{len(split.train)} training and {len(split.test)} test images, "
        f"{len(split.train.charset)} classes"
    )
    for name, result in results.items():
        typer.echo(
            f"{name.upper():<4} test accuracy {result.accuracy:.4f}  "
            f"(cross-validated {result.cv_accuracy:.4f}, {result.params})"
        )
    if out is not None:
        summary = {
            "data": split.description,
            "train_images": len(split.train),
            "test_images": len(split.test),
            **{name: result.summary() for name, result in results.items()},
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
