"""``python -m training curve``: CNN and KNN test accuracy against the number of training images."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def _log(message: str) -> None:
    typer.echo(f"{time.strftime('%H:%M:%S')} {message}")


def curve(
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="A folder of character crops (DIR/<label>/*.png or labels.csv), 'digits' "
            "or 'synthetic'.",
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for learning_curve.png and learning_curve.json.")
    ],
    test_data: Annotated[
        str | None,
        typer.Option("--test-data", help="Folder to test on; default: a stratified 25% of --data."),
    ] = None,
    fractions: Annotated[
        str, typer.Option("--fractions", help="Parts of the training split, comma-separated.")
    ] = "0.1,0.25,0.5,1",
    epochs: Annotated[int, typer.Option("--epochs", min=1)] = 80,
    charset: Annotated[
        str,
        typer.Option(
            "--charset",
            help="Classes, in order (default: the labels found; digits: 0-9; "
            "synthetic: 0-9 A-Z - / : .).",
        ),
    ] = "",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    int8: Annotated[
        bool,
        typer.Option("--int8/--float-only", help="Also test each CNN as int8 on the runtime."),
    ] = True,
) -> None:
    """Train the compact CNN (the full recipe: augmentation, validation carved from the part,
    refit) and a cross-validated KNN on 10%, 25%, 50% and 100% of the training split, test both
    on the same test split, and plot accuracy against the number of training images."""
    from dataclasses import replace

    from training.char_train import CharTrainConfig
    from training.chars import resolve_char_data
    from training.curve import learning_curve, plot_curve, write_curve
    from training.data import DatasetError

    try:
        parts = tuple(float(f) for f in fractions.split(",") if f.strip())
    except ValueError:
        typer.echo(f"training: error: --fractions must be numbers, got {fractions!r}", err=True)
        raise typer.Exit(2) from None
    config = replace(CharTrainConfig(), epochs=epochs, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    try:
        split = resolve_char_data(data, test_data, charset, config.height, config.width, seed)
        points = learning_curve(
            split.train, split.test, config, parts, seed, _log, out if int8 else None
        )
    except (DatasetError, ValueError, FileNotFoundError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    description = {"data": split.description, "test_images": len(split.test), "epochs": epochs}
    write_curve(points, out / "learning_curve.json", description)
    plot_curve(
        points,
        out / "learning_curve.png",
        f"{data}: test accuracy on {len(split.test)} images vs training images",
    )
    typer.echo(f"\n{'images':>8} {'CNN':>8} {'KNN':>8}")
    for point in points:
        typer.echo(f"{point.images:>8} {point.cnn_float:>8.4f} {point.knn:>8.4f}")
    typer.echo(f"wrote {out / 'learning_curve.png'} and {out / 'learning_curve.json'}")
