"""``python -m quantize int8``: full-integer post-training quantization of a Keras model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge_ocr.charset import DEFAULT_CHARSET
from quantize.commands.common import fail, quiet_tensorflow

ModelArgument = Annotated[
    Path, typer.Argument(help="The trained Keras model (.keras).", show_default=False)
]
CalibOption = Annotated[
    str,
    typer.Option(
        "--calib",
        show_default=False,
        help="Calibration images: a labelled folder from the training distribution, or 'synthetic' "
        "/ 'synthetic:captcha' to draw them with the training fonts.",
    ),
]
OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        show_default=False,
        help="The .tflite to write; its contract goes beside it (M.tflite -> M.json).",
    ),
]
SamplesOption = Annotated[
    int, typer.Option("--samples", min=1, help="Calibration images (a seeded subset of a folder).")
]
KindOption = Annotated[
    str | None,
    typer.Option("--kind", help="line or char [default: read from the model's output shape]."),
]
NameOption = Annotated[
    str | None, typer.Option("--name", help="Model name in the contract [default: the file name].")
]
CharsetOption = Annotated[
    str, typer.Option("--charset", help="The characters the model was trained on, in class order.")
]
RejectOption = Annotated[
    float,
    typer.Option(
        "--reject-threshold",
        min=0.0,
        max=1.0,
        help="Character confidence below which the device reports '?'.",
    ),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the calibration images.")]
NonCharOption = Annotated[
    bool,
    typer.Option(
        "--non-char",
        help="Char models: the last output class means 'not one character' (train-char "
        "--non-chars); its output has one class more than the charset.",
    ),
]


def int8(
    model: ModelArgument,
    calib: CalibOption,
    out: OutOption,
    samples: SamplesOption = 500,
    kind: KindOption = None,
    name: NameOption = None,
    charset: CharsetOption = DEFAULT_CHARSET,
    reject_threshold: RejectOption = 0.5,
    seed: SeedOption = 0,
    non_char: NonCharOption = False,
) -> None:
    """Quantize a Keras model to full int8 and write the .tflite with its contract.

    Weights, activations, input and output are int8 and only TFLITE_BUILTINS_INT8 ops are
    allowed: not dynamic-range quantization. The result runs on XNNPACK, int8-only
    accelerators and TensorFlow Lite Micro. Run `python -m quantize check` next to verify its
    accuracy.
    """
    quiet_tensorflow()
    from quantize.errors import QuantizeError
    from quantize.int8 import quantize_keras_file

    if kind is not None and kind not in ("line", "char"):
        fail(f"--kind must be 'line' or 'char', not {kind!r}")
    try:
        result = quantize_keras_file(
            model,
            calib,
            out,
            samples=samples,
            kind=kind,  # type: ignore[arg-type]
            name=name,
            charset=charset,
            seed=seed,
            reject_threshold=reject_threshold,
            non_char=non_char,
        )
    except QuantizeError as error:
        fail(str(error))
    if result.skipped:
        typer.echo(
            f"skipped {len(result.skipped)} calibration rows; first: {result.skipped[0]}", err=True
        )
    contract = result.contract
    iq, oq = contract.input_quantization, contract.output_quantization
    typer.echo(
        f"wrote {result.tflite} ({result.tflite_bytes} bytes, every op int8) "
        f"and {result.contract_path}"
    )
    typer.echo(
        f"  {contract.kind} model '{contract.name}', input "
        f"{contract.input_height}x{contract.input_width}, {contract.num_classes} classes; "
        f"calibrated on {result.calibration}"
    )
    typer.echo(
        f"  input {iq.dtype} scale {iq.scale:.6g} zero point {iq.zero_point}; "
        f"output {oq.dtype} scale {oq.scale:.6g} zero point {oq.zero_point}"
    )
