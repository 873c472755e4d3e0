"""``python -m quantize export-c``: C/C++ source of a model for TensorFlow Lite Micro."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quantize.commands.common import fail


def export_c(
    model: Annotated[
        Path,
        typer.Argument(
            help="The int8 .tflite (its .json contract beside it), or a bundled model's name.",
            show_default=False,
        ),
    ],
    name: Annotated[
        str,
        typer.Option(
            "--name", help="C identifier: g_NAME_model_data, NAME_MODEL_*.", show_default=False
        ),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Folder for NAME_model_data.h and .cc.", show_default=False
        ),
    ],
) -> None:
    """Write NAME_model_data.h/.cc with the model and its contract for TensorFlow Lite Micro.

    The model bytes (alignas(16)) and their length, plus the contract's charset, class labels,
    kind, blank index, input shape and quantization and an arena estimate as constants, so the
    firmware needs nothing else. Only full-int8 models with a matching contract are exported.
    """
    from quantize.errors import QuantizeError
    from quantize.export_c import export_c as write_c_source

    try:
        result = write_c_source(model, name, out)
    except QuantizeError as error:
        fail(str(error))
    typer.echo(f"wrote {result.header} and {result.source} ({result.model_bytes} model bytes)")
