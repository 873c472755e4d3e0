"""``python -m training segmentation``: measure character segmentation on generated lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def segmentation(
    out: Annotated[
        Path, typer.Option("--out", help="Folder for segmentation.json and segmentation.png.")
    ],
    lines: Annotated[int, typer.Option("--lines", min=1, help="Lines to generate.")] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 90103,
    held_out: Annotated[
        bool,
        typer.Option(
            "--held-out/--training-fonts",
            help="Draw with the held-out test fonts (default) or the training fonts.",
        ),
    ] = True,
    degraded: Annotated[
        bool,
        typer.Option(
            "--degraded/--printed",
            help="Add the line data's camera degradations (blur, low resolution, noise, JPEG).",
        ),
    ] = False,
) -> None:
    """Generate printed code lines (TrueType, Hershey, dot-matrix and 7-segment print in the
    line model's proportions, touching characters from negative tracking and bold print),
    segment each with ``edge_ocr.segment`` and count the lines split into exactly as many
    characters as they print; writes the rates and a figure with example lines."""
    from training.chars import segmentation_lines
    from training.segment_report import TARGET, measure, plot

    rates, examples = measure(segmentation_lines(lines, seed, degraded, held_out))
    out.mkdir(parents=True, exist_ok=True)
    settings = {"lines": lines, "seed": seed, "held_out": held_out, "degraded": degraded}
    (out / "segmentation.json").write_text(
        json.dumps({**settings, "target": TARGET, "rates": rates}, indent=1) + "\n",
        encoding="utf-8",
    )
    plot(rates, examples, out / "segmentation.png")
    for key, rate in rates.items():
        typer.echo(
            f"{key:<14} {rate['accuracy']:7.2%}  ({int(rate['correct'])}/{int(rate['lines'])})"
        )
    typer.echo(f"wrote {out / 'segmentation.json'} and {out / 'segmentation.png'}")
