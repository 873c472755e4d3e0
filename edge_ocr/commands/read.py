"""``edge-ocr read``: one-off reads of line crops and captcha images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from edge_ocr.commands.common import (
    AccelOption,
    ExpectFileOption,
    ExpectOption,
    ModelOption,
    TemplateOption,
    ThreadsOption,
    fail,
    setup_logging,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def _expand(paths: list[Path]) -> list[Path]:
    """Files as given; folders become their images, sorted."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            expanded += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            expanded.append(path)
    return expanded


def read(
    images: Annotated[
        list[Path], typer.Argument(help="Line crops or captcha images (files or folders).")
    ],
    model: ModelOption = "lines",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per image.")
    ] = False,
    accel: AccelOption = "auto",
    threads: ThreadsOption = 1,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="Images per interpreter call.")
    ] = 32,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    template: TemplateOption = None,
    expect: ExpectOption = None,
    expect_file: ExpectFileOption = None,
) -> None:
    """Read each image as one line of text and print one result per image.

    Unreadable files are reported on stderr, one line each; the others are still read and the
    exit status is 1 at the end.

    With --template, --expect or --expect-file, the images are items' line crops, top to
    bottom, as many per item as the template or code has lines; each item is printed with its
    verdict, print-quality grade (A-F) and the detail of a failure, and the exit status is 3
    when an item is not a pass.
    """
    import cv2

    from edge_ocr.charmode import CharRecognizer
    from edge_ocr.contract import ModelError
    from edge_ocr.model import load_model
    from edge_ocr.recognize import LineRecognizer

    setup_logging(verbose)
    try:
        loaded = load_model(model, accel=accel, threads=threads)
        recognizer: LineRecognizer | CharRecognizer = (
            CharRecognizer(loaded) if loaded.contract.kind == "char" else LineRecognizer(loaded)
        )
    except ModelError as error:
        fail(str(error))
    from edge_ocr.rules.cli import print_items, rules_engine

    rules = rules_engine(recognizer, template, expect, expect_file)  # None without the options
    failures = 0
    unpassed = 0
    pending: list[tuple[Path, object]] = []

    def flush() -> None:
        nonlocal failures, unpassed
        if rules is not None:
            printed = print_items(rules, recognizer, pending, as_json, loaded.contract.name)  # type: ignore[arg-type]
            failures, unpassed = failures + printed.left_over, unpassed + printed.unpassed
            pending.clear()
            return
        reads = recognizer.read([image for _, image in pending])  # type: ignore[misc]
        for (path, _), line in zip(pending, reads, strict=True):
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "file": str(path),
                            "text": line.text,
                            "confidence": round(line.confidence, 4),
                            "chars": [
                                {
                                    "char": c.char,
                                    "confidence": round(c.confidence, 4),
                                    "rejected": c.rejected,
                                }
                                for c in line.chars
                            ],
                            "model": loaded.contract.name,
                        }
                    )
                )
            else:
                typer.echo(f"{path}\t{line.text}\t{line.confidence:.3f}")
        pending.clear()

    for path in _expand(images):
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None
        if image is None:
            reason = "no such file" if not path.exists() else "not a readable image"
            typer.echo(f"edge-ocr: error: {path}: {reason}", err=True)
            failures += 1
            continue
        if image.dtype != "uint8":
            image = cv2.convertScaleAbs(image, alpha=255.0 / max(1, int(image.max())))
        if min(image.shape[:2]) < 2:
            typer.echo(f"edge-ocr: error: {path}: image too small to read", err=True)
            failures += 1
            continue
        pending.append((path, image))
        if len(pending) >= batch_size * (rules.lines_per_item if rules is not None else 1):
            flush()
    if pending:
        flush()
    if failures:
        raise typer.Exit(1)
    if unpassed:
        raise typer.Exit(3)
