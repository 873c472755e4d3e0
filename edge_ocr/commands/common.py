"""Options and error handling shared by the commands."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
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

# The rules options of ``read`` and ``run`` (parsed by ``edge_ocr.rules.cli.rules_engine``).
# They live here, not in ``edge_ocr.rules``, so that ``edge-ocr --help`` imports no numpy.
TemplateOption = Annotated[
    str | None,
    typer.Option(
        "--template",
        help="Field template, lines separated by '|', e.g. 'LOT [A-Z0-9]{7} | EXP "
        "{date:YYYY-MM-DD}' (edge_ocr/rules/README.md): decoding is constrained to it.",
    ),
]
ExpectOption = Annotated[
    str | None,
    typer.Option(
        "--expect",
        help="Expected code, a string or a pattern, lines separated by '|': each item "
        "gets a verdict, pass, fail or no-read.",
    ),
]
ExpectFileOption = Annotated[
    Path | None,
    typer.Option(
        "--expect-file",
        help="File holding the expected code (one line per line); re-read when it changes, "
        "so the items read after a change are checked against the new code.",
    ),
]


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
