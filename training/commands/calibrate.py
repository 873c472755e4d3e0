"""``python -m training calibrate``: how far a line model's confidences can be trusted, what
field templates buy, and how OCV verdicts come out on a synthetic production stream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

OCV_REPORT_NAME = "ocv.json"


def calibrate(
    model: Annotated[
        str, typer.Argument(help="A bundled model name or a .tflite with its .json contract.")
    ] = "lines",
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for calibration.json, reliability.png and ocv.json."),
    ] = Path("calibration"),
    lines: Annotated[
        int, typer.Option("--lines", min=10, help="Held-out lines for the reliability figures.")
    ] = 2000,
    per_template: Annotated[
        int, typer.Option("--per-template", min=1, help="Lines per template, constrained decoding.")
    ] = 300,
    ocv_items: Annotated[
        int, typer.Option("--ocv-items", min=0, help="Items in the OCV stream (0: skip it).")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 4242,
) -> None:
    """Write the calibration report of an int8 line model on held-out fonts: reliability of
    character and line confidences (ECE, plot, reject curve, suggested reject threshold),
    greedy vs template-constrained exact accuracy, and the OCV stream (5% wrong codes, 5% badly
    degraded prints) with the thresholds of ``RulesConfig``."""
    from edge_ocr.contract import ModelError
    from edge_ocr.rules.evaluate import evaluate_ocv
    from training.calibration import (
        DEFAULT_TEMPLATES,
        PLOT_NAME,
        REPORT_NAME,
        held_out_draw,
        load_recognizer,
        write_calibration_report,
    )

    try:
        recognizer = load_recognizer(model)
    except (ModelError, OSError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
    figures = write_calibration_report(
        recognizer,
        None,
        out,
        count=lines,
        seed=seed,
        templates=DEFAULT_TEMPLATES,
        per_template=per_template,
    )
    characters, line_confidence = figures["characters"], figures["line_confidence"]
    typer.echo(
        f"confidence ECE: characters {characters['ece']:.4f}, lines {line_confidence['ece']:.4f}"
    )
    for template, result in figures["constrained_decoding"].items():
        typer.echo(
            f"{template:<30} exact {result['greedy_exact']:.2%}"
            f" -> {result['constrained_exact']:.2%}"
            f"  class confusions {result['class_confusions_greedy']}"
            f" -> {result['class_confusions_constrained']}, broken {result['template_broken']}"
        )
    written = [REPORT_NAME, PLOT_NAME]
    if ocv_items:
        ocv = evaluate_ocv(recognizer, items=ocv_items, seed=seed + 7, draw=held_out_draw())
        report = ocv.to_dict()
        report["examples"] = report["examples"][:50]
        (out / OCV_REPORT_NAME).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        written.append(OCV_REPORT_NAME)
        typer.echo(
            f"OCV on {ocv_items} items: wrong codes fail {ocv.wrong_fail_rate:.2%}, good codes "
            f"fail {ocv.good_fail_rate:.2%}, degraded prints passed with grade A-C "
            f"{ocv.degraded_false_pass_rate:.2%}"
        )
    typer.echo(f"wrote {', '.join(str(out / name) for name in written)}")
