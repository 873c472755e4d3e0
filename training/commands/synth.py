"""``python -m training synth``: write synthetic images and labels to look at or train from."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer


def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for PNGs and labels.csv.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind",
            help="lines (printed codes), captcha (mixed captcha styles) or imagecaptcha "
            "(the captcha package only).",
        ),
    ] = "lines",
    count: Annotated[int, typer.Option("--count", min=1)] = 100,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    held_out: Annotated[
        bool, typer.Option("--held-out", help="Render with the held-out test fonts.")
    ] = False,
    fonts: Annotated[
        list[Path] | None, typer.Option("--fonts", help="Extra folder of .ttf/.otf fonts.")
    ] = None,
) -> None:
    """Generate ``count`` labelled images: PNGs plus ``labels.csv`` (``file,text``)."""
    import cv2
    import numpy as np
    from rich.progress import track

    from training.synth import synthetic_sources

    if kind not in ("lines", "captcha", "imagecaptcha"):
        typer.echo(
            f"training: error: --kind must be lines, captcha or imagecaptcha, not {kind!r}",
            err=True,
        )
        raise typer.Exit(2)
    try:
        source = synthetic_sources(kind, held_out, tuple(fonts or ()))
    except (FileNotFoundError, ValueError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with (out / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "text", "font", "style"])
        for index in track(range(count), description=f"rendering {kind}", transient=True):
            sample = source.sample(rng)
            name = f"{index:06d}.png"
            cv2.imwrite(str(out / name), sample.image)
            writer.writerow([name, sample.text, sample.font, sample.font_kind])
    typer.echo(f"wrote {count} images and labels.csv to {out}")
