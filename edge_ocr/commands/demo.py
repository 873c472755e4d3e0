"""``edge-ocr demo``: the bundled models on the bundled samples, truth beside each read."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from edge_ocr.commands.common import AccelOption, fail

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"
SAMPLE_SETS = (
    ("codes", "lines", "printed code lines, fonts and print styles never seen in training"),
    ("captcha", "captcha", "fresh ImageCaptcha captchas"),
)


def _read_labels(folder: Path) -> list[tuple[Path, str]]:
    with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
        return [(folder / row["file"], row["text"]) for row in csv.DictReader(handle)]


def read_samples(accel: str = "cpu") -> int:
    """Print one table per sample set; returns the number of exact reads."""
    import cv2
    from rich.console import Console
    from rich.table import Table

    from edge_ocr.contract import ModelError
    from edge_ocr.model import load_model
    from edge_ocr.recognize import LineRecognizer

    console = Console()
    exact_total = 0
    for folder_name, model_name, description in SAMPLE_SETS:
        rows = _read_labels(SAMPLES_DIR / folder_name)
        try:
            recognizer = LineRecognizer(load_model(model_name, accel=accel), reject_threshold=0.0)
        except ModelError as error:
            fail(str(error))
        images = [cv2.imread(str(path), cv2.IMREAD_UNCHANGED) for path, _ in rows]
        reads = recognizer.read(images)
        table = Table(title=f"model '{model_name}': {description}", title_justify="left")
        for column in ("image", "printed", "read", "confidence", ""):
            table.add_column(column)
        exact = 0
        for (path, truth), line in zip(rows, reads, strict=True):
            ok = line.text == truth
            exact += ok
            table.add_row(
                path.name,
                truth,
                line.text,
                f"{line.confidence:.2f}",
                "[green]✓[/green]" if ok else "[red]✗[/red]",
            )
        console.print(table)
        console.print(f"{exact}/{len(rows)} exactly right\n")
        exact_total += exact
    return exact_total


def demo(
    accel: AccelOption = "cpu",
    stream: Annotated[
        bool,
        typer.Option(
            "--stream/--no-stream", help="Also run the built-in synthetic conveyor stream."
        ),
    ] = True,
) -> None:
    """Read the bundled sample images with the bundled int8 models and show truth beside reads."""
    read_samples(accel)
    if stream:
        from edge_ocr.commands.common import run_demo_stream

        run_demo_stream(accel)
