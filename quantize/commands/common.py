"""Error handling shared by the quantize commands."""

from __future__ import annotations

import os
from typing import NoReturn

import typer

EXIT_GATE = 1
"""The model was examined and failed a gate (accuracy drop, a non-int8 op)."""
EXIT_USAGE = 2
"""An input could not be used (missing file, not a model, wrong kind of model)."""


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """One line on stderr and a non-zero exit: what a user sees instead of a traceback."""
    typer.echo(f"quantize: error: {message}", err=True)
    raise typer.Exit(code)


def quiet_tensorflow() -> None:
    """TensorFlow's C++ start-up chatter would bury the one line that matters."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
