"""Printing rules results for ``edge-ocr read``: one result per item of line crops."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from edge_ocr.commands.common import fail
from edge_ocr.rules.engine import RulesEngine, RulesResult, item_probabilities
from edge_ocr.rules.template import TemplateError
from edge_ocr.types import LineCrop

if TYPE_CHECKING:
    from edge_ocr.rules.engine import Recognizer


@dataclass(frozen=True)
class Printed:
    items: int
    unpassed: int
    """Items whose verdict is not ``pass``."""
    left_over: int
    """Images that did not make up a whole item (reported on stderr)."""


def rules_engine(
    recognizer: Recognizer,
    template: str | None,
    expect: str | None,
    expect_file: Path | None,
) -> RulesEngine | None:
    """The engine for ``--template/--expect/--expect-file`` (None when none is given); a bad
    template, code or file is a one-line error and exit status 2."""
    if template is None and expect is None and expect_file is None:
        return None
    try:
        return RulesEngine.for_recognizer(recognizer, None, template, expect, expect_file)
    except TemplateError as error:
        fail(str(error))


def item_json(paths: Sequence[Path], result: RulesResult, model: str) -> dict[str, Any]:
    """The JSON object of one item: its files, lines (with characters), verdict and grade."""
    return {
        "file": str(paths[0]),
        "files": [str(p) for p in paths],
        "text": " | ".join(line.text for line in result.lines),
        "confidence": round(min((line.confidence for line in result.lines), default=0.0), 4),
        "lines": [
            {
                "text": line.text,
                "confidence": round(line.confidence, 4),
                "chars": [
                    {
                        "char": c.char,
                        "confidence": round(c.confidence, 4),
                        "margin": round(c.margin, 4),
                        "rejected": line.text[i] != decode.text[i],
                    }
                    for i, c in enumerate(decode.chars)
                ],
                "template_matched": decode.template_matched,
            }
            for line, decode in zip(result.lines, result.decodes, strict=True)
        ],
        "verdict": result.verdict,
        "grade": result.grade,
        "detail": result.detail,
        "quality": result.quality,
        "model": model,
    }


def print_items(
    engine: RulesEngine,
    recognizer: Recognizer,
    images: Sequence[tuple[Path, LineCrop]],
    as_json: bool,
    model: str,
) -> Printed:
    """Group ``images`` into items of ``engine.lines_per_item`` crops, read them in one batch,
    apply the rules and print one result per item (tab-separated, or JSON)."""
    per_item = engine.lines_per_item
    whole = len(images) - len(images) % per_item
    left_over = images[whole:]
    for path, _ in left_over:
        typer.echo(
            f"edge-ocr: error: {path}: left over; an item has {per_item} line crops "
            "(give them top to bottom)",
            err=True,
        )
    crops = [image for _, image in images[:whole]]
    lattices = item_probabilities(recognizer, crops)
    unpassed = 0
    for start in range(0, whole, per_item):
        paths = [path for path, _ in images[start : start + per_item]]
        result = engine.apply(lattices[start : start + per_item], crops[start : start + per_item])
        unpassed += result.verdict != "pass"
        if as_json:
            typer.echo(json.dumps(item_json(paths, result, model)))
        else:
            text = " | ".join(line.text for line in result.lines)
            confidence = min((line.confidence for line in result.lines), default=0.0)
            typer.echo(
                f"{paths[0]}\t{text}\t{confidence:.3f}\t{result.verdict}\t{result.grade}"
                f"\t{result.detail or ''}"
            )
    return Printed(whole // per_item, unpassed, len(left_over))
