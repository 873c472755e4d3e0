"""``python -m training segmentation``: measure character segmentation on generated lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

NO_MODEL = "none"


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
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Char model that guides segmentation (a bundled name or a .tflite path), "
            f"measured beside the classical segmenter; '{NO_MODEL}' measures classical only.",
        ),
    ] = "chars",
) -> None:
    """Generate printed code lines (TrueType, Hershey, dot-matrix and 7-segment print in the
    line model's proportions, touching characters from negative tracking and bold print),
    segment each with ``edge_ocr.segment`` and, unless ``--model none``, with the char model
    guiding the choice among candidate cuts (``edge_ocr.segment_guided``), and count the lines
    split into exactly as many characters as they print; writes both rates and a figure with
    example lines."""
    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.contract import ModelError
    from edge_ocr.model import load_model
    from training.chars import segmentation_lines
    from training.segment_report import TARGET, measure, plot

    guide = None
    if model != NO_MODEL:
        try:
            guide = CharRecognizer(load_model(model, accel="cpu", threads=1)).guide
        except (ModelError, FileNotFoundError) as error:
            raise typer.BadParameter(str(error), param_hint="--model") from error
    rates, guided, examples = measure(segmentation_lines(lines, seed, degraded, held_out), 1, guide)
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "lines": lines,
        "seed": seed,
        "held_out": held_out,
        "degraded": degraded,
        "model": model,
    }
    report = {**settings, "target": TARGET, "rates": rates, "guided_rates": guided}
    (out / "segmentation.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    plot(rates, guided, examples, out / "segmentation.png")
    typer.echo(f"{'':<14} {'classical':>9}" + (f"  {'guided':>9}" if guided else ""))
    for key, rate in rates.items():
        line = f"{key:<14} {rate['accuracy']:9.2%}"
        if guided is not None:
            line += f"  {guided[key]['accuracy']:9.2%}"
        typer.echo(f"{line}  ({int(rate['lines'])} lines)")
    typer.echo(f"wrote {out / 'segmentation.json'} and {out / 'segmentation.png'}")
