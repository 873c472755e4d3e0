"""``python -m quantize check``: float vs int8 on the same held-out data, as a gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from quantize.commands.common import EXIT_GATE, fail, quiet_tensorflow

FloatArgument = Annotated[
    Path, typer.Argument(help="The float Keras model (.keras).", show_default=False)
]
Int8Argument = Annotated[
    Path,
    typer.Argument(
        help="Its int8 export (.tflite with its .json contract beside it) or a bundled "
        "model's name.",
        show_default=False,
    ),
]
DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        show_default=False,
        help="Held-out labelled folder, or 'synthetic' / 'synthetic:captcha' (held-out fonts).",
    ),
]
SamplesOption = Annotated[
    int | None,
    typer.Option(
        "--samples", min=1, help="Images to use [default: all of a folder, 2000 synthetic]."
    ),
]
MaxDropOption = Annotated[
    float,
    typer.Option(
        "--max-drop",
        min=0.0,
        help="Largest allowed int8 loss of exact accuracy, in percentage points.",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the subset or synthetic images.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def check(
    float_model: FloatArgument,
    int8_model: Int8Argument,
    data: DataOption,
    samples: SamplesOption = None,
    max_drop: MaxDropOption = 0.5,
    seed: SeedOption = 1,
    as_json: JsonOption = False,
) -> None:
    """Gate an int8 model: compare it with its float model on the same held-out images.

    The int8 model runs through the device runtime. The report gives exact accuracy, CER,
    per-character deltas and how often float and int8 read the same. Exits 1 when int8 loses
    more than --max-drop points of exact accuracy, 2 on bad input.
    """
    quiet_tensorflow()
    from quantize.errors import QuantizeError
    from quantize.parity import check_models, format_result

    try:
        result = check_models(
            float_model, int8_model, data, samples=samples, max_drop_points=max_drop, seed=seed
        )
    except QuantizeError as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1, ensure_ascii=False))
    else:
        for line in format_result(result):
            typer.echo(line)
    if not result.passed:
        fail(
            f"int8 exact accuracy {result.int8_exact:.2%} is {result.drop_points:.2f} points "
            f"below float {result.float_exact:.2%} (allowed {max_drop:g}): do not ship "
            f"{int8_model.name}; calibrate on data from the training distribution "
            "(see quantize/README.md)",
            EXIT_GATE,
        )
    if not as_json:
        typer.echo(f"passed: int8 is within {max_drop:g} points of float")
