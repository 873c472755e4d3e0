"""Options and error handling shared by the commands."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated, NoReturn

import typer

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Bundled model name (lines, captcha, ...) or path to a .tflite "
        "with its .json contract beside it.",
    ),
]
AccelOption = Annotated[
    str,
    typer.Option(
        "--accel",
        help="auto (GPU delegate if one opens, else CPU), cpu (XNNPACK), gpu, "
        "none (TFLite built-in kernels, no XNNPACK) or the path of a delegate .so.",
    ),
]
ThreadsOption = Annotated[int, typer.Option("--threads", min=1, help="Interpreter threads.")]


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr and a non-zero exit: what a user sees instead of a traceback."""
    typer.echo(f"edge-ocr: error: {message}", err=True)
    raise typer.Exit(code)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="edge-ocr: %(levelname)s: %(message)s",
    )


def run_demo_stream(accel: str) -> None:
    """The main job on the built-in synthetic conveyor stream, when the pipeline is present."""
    try:
        run_command = importlib.import_module("edge_ocr.commands.run")
    except ImportError:
        typer.echo("(the video pipeline is not installed in this build; skipping the stream demo)")
        return
    demo_stream = getattr(run_command, "demo_stream", None)
    if demo_stream is None:
        typer.echo("(the video pipeline has no demo stream yet; skipping it)")
        return
    demo_stream(accel)
