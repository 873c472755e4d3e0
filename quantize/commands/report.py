"""``python -m quantize report``: size, ops, int8 audit, arena, MACs and latency of a .tflite."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from quantize.commands.common import EXIT_GATE, fail


def report(
    model: Annotated[
        Path,
        typer.Argument(
            help="The .tflite to examine, or a bundled model's name.", show_default=False
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    batch: Annotated[int, typer.Option("--batch", min=1, help="The larger batch to time.")] = 16,
    repeats: Annotated[
        int,
        typer.Option(
            "--repeats", min=1, help="Timed calls per configuration (after 3 warm-up calls)."
        ),
    ] = 30,
    latency: Annotated[
        bool, typer.Option("--latency/--no-latency", help="Measure latency.")
    ] = True,
) -> None:
    """Report size, parameters, ops, int8 audit, arena estimate, MACs and latency of a .tflite.

    Every op is listed with its tensor types; the tensor arena for TFLite Micro comes from a
    greedy lifetime plan; latency is the median for batch 1 and --batch on one thread, with
    XNNPACK and without. Exits 1 when any op is not int8 (naming the op and tensor), 2 on bad
    input. Needs no TensorFlow: run it on the device too.
    """
    from quantize.errors import QuantizeError
    from quantize.report import build_report, format_report

    try:
        result = build_report(model, latency=latency, batch=batch, repeats=repeats)
    except QuantizeError as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        for line in format_report(result):
            typer.echo(line)
    if not result.full_int8:
        more = f" (and {len(result.problems) - 1} more)" if len(result.problems) > 1 else ""
        fail(f"{model}: not a full-int8 model: {result.problems[0]}{more}", EXIT_GATE)
