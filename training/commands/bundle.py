"""``python -m training bundle``: reproduce the models shipped in ``edge_ocr/models``."""

from __future__ import annotations

import shutil
from collections.abc import Callable
import time
from pathlib import Path
from typing import Annotated

import typer


def _prefixed_log(name: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        typer.echo(f"{time.strftime('%H:%M:%S')} [{name}] {message}")

    return log


def bundle(
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Train just these (lines, captcha).")
    ] = None,
    runs: Annotated[
        Path, typer.Option("--runs", help="Where the runs (checkpoints, reports) go.")
    ] = Path("runs"),
    install: Annotated[
        bool, typer.Option("--install/--no-install", help="Copy the results into edge_ocr/models.")
    ] = True,
) -> None:
    """Train, evaluate and export each bundled model with its recipe (resumes interrupted runs)."""
    from edge_ocr.model import BUNDLED_DIR
    from training.line_run import run_line
    from training.recipes import bundled_recipes

    recipes = bundled_recipes(str(runs))
    for name in only or list(recipes):
        if name not in recipes:
            typer.echo(f"training: error: no recipe {name!r} (have {', '.join(recipes)})", err=True)
            raise typer.Exit(2)
        started = time.monotonic()
        run_line(recipes[name], log=_prefixed_log(name))
        run_dir = Path(recipes[name].config.out)
        typer.echo(f"[{name}] done in {(time.monotonic() - started) / 60:.0f} min")
        if install:
            shutil.copyfile(run_dir / "model.tflite", BUNDLED_DIR / f"{name}.tflite")
            shutil.copyfile(run_dir / "model.json", BUNDLED_DIR / f"{name}.json")
            shutil.copyfile(run_dir / "report.json", BUNDLED_DIR / f"{name}.report.json")
            typer.echo(f"[{name}] installed in {BUNDLED_DIR}")
