"""The ``python -m training`` command group."""

from __future__ import annotations

import typer

from training.commands import baseline as baseline_command
from training.commands import bundle as bundle_command
from training.commands import calibrate as calibrate_command
from training.commands import curve as curve_command
from training.commands import segmentation as segmentation_command
from training.commands import synth as synth_command
from training.commands import train as train_command
from training.commands import train_char as train_char_command

app = typer.Typer(
    name="training",
    help="Synthetic data, training and evaluation of edge-ocr models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="synth")(synth_command.synth)
app.command(name="train")(train_command.train)
app.command(name="bundle")(bundle_command.bundle)
app.command(name="train-char")(train_char_command.train_char)
app.command(name="baseline")(baseline_command.baseline)
app.command(name="curve")(curve_command.curve)
app.command(name="segmentation")(segmentation_command.segmentation)
app.command(name="calibrate")(calibrate_command.calibrate)


@app.callback()
def _root() -> None:
    """Synthetic data, training and evaluation of edge-ocr models."""
