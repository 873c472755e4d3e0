"""``python -m training bundle``: reproduce the models shipped in ``edge_ocr/models``."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from training.recipes import Recipe


def _prefixed_log(name: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        typer.echo(f"{time.strftime('%H:%M:%S')} [{name}] {message}")

    return log


def _with_prerequisites(names: list[str], recipes: dict[str, Recipe]) -> list[str]:
    """The requested recipes plus the base stages they start from whose model is missing."""
    ordered: list[str] = []
    for name in names:
        chain = [name]
        while (base := recipes[chain[-1]].starts_from) is not None:
            if Path(recipes[base].options.config.out, "model.keras").is_file():
                break
            chain.append(base)
        ordered += [step for step in reversed(chain) if step not in ordered]
    return ordered


def bundle(
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            help="Train just these recipes (lines, captcha, a -base stage, chars, char-digits).",
        ),
    ] = None,
    runs: Annotated[
        Path, typer.Option("--runs", help="Where the runs (checkpoints, reports) go.")
    ] = Path("runs"),
    install: Annotated[
        bool, typer.Option("--install/--no-install", help="Copy the results into edge_ocr/models.")
    ] = True,
    train_only: Annotated[
        bool,
        typer.Option(
            "--train-only",
            help="Line recipes: stop each run after training, on a GPU box without TensorFlow "
            "(KERAS_BACKEND=jax). Bring the run folders back and rerun without it to export.",
        ),
    ] = False,
) -> None:
    """Train, evaluate and export each bundled model with its recipe (resumes interrupted runs)."""
    from edge_ocr.model import BUNDLED_DIR
    from training.char_recipes import char_recipes
    from training.char_train import run_char
    from training.line_run import run_line
    from training.recipes import bundled_recipes

    recipes = bundled_recipes(str(runs))
    chars = char_recipes(str(runs))
    for name in only or []:
        if name not in recipes and name not in chars:
            known = ", ".join([*recipes, *chars])
            typer.echo(f"training: error: no recipe {name!r} (have {known})", err=True)
            raise typer.Exit(2)
    line_names = [n for n in only or list(recipes) if n in recipes]
    for name in [n for n in only or list(chars) if n in chars]:
        char_recipe = chars[name]
        started = time.monotonic()
        run_char(replace(char_recipe.options, recipe=char_recipe.command), _prefixed_log(name))
        typer.echo(f"[{name}] done in {(time.monotonic() - started) / 60:.0f} min")
        if install and char_recipe.install:
            _install(Path(char_recipe.options.out), name, BUNDLED_DIR)
    for name in _with_prerequisites(line_names, recipes):
        recipe = recipes[name]
        started = time.monotonic()
        run_line(recipe.options, log=_prefixed_log(name), train_only=train_only)
        run_dir = Path(recipe.options.config.out)
        typer.echo(f"[{name}] done in {(time.monotonic() - started) / 60:.0f} min")
        if install and recipe.install and not train_only:
            _install(run_dir, name, BUNDLED_DIR)


def _install(run_dir: Path, name: str, bundled_dir: Path) -> None:
    shutil.copyfile(run_dir / "model.tflite", bundled_dir / f"{name}.tflite")
    shutil.copyfile(run_dir / "model.json", bundled_dir / f"{name}.json")
    shutil.copyfile(run_dir / "report.json", bundled_dir / f"{name}.report.json")
    typer.echo(f"[{name}] installed in {bundled_dir}")
