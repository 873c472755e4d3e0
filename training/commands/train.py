"""``python -m training train``: train a model, evaluate it float and int8, export and report."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer


def _log(message: str) -> None:
    typer.echo(f"{time.strftime('%H:%M:%S')} {message}")


def train(
    out: Annotated[
        Path,
        typer.Option("--out", help="Run folder: model.keras, model.tflite, report.json, PNGs."),
    ],
    kind: Annotated[
        str, typer.Option("--kind", help="line (CTC line model) or char (per-character).")
    ] = "line",
    data: Annotated[
        str,
        typer.Option(
            "--data", help="'synthetic' or a labelled folder (labels.csv or label-named images)."
        ),
    ] = "synthetic",
    synthetic: Annotated[
        str, typer.Option("--synthetic-kind", help="Synthetic generator: lines or captcha.")
    ] = "lines",
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            min=0,
            help="Synthetic training lines (mixed with --data when it is a folder).",
        ),
    ] = 240_000,
    test_data: Annotated[
        str | None, typer.Option("--test-data", help="Labelled folder to report on.")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Default: 16 (line), 80 (char).")
    ] = None,
    steps_per_epoch: Annotated[
        int, typer.Option("--steps-per-epoch", min=0, help="0 = a full pass.")
    ] = 1500,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 64,
    learning_rate: Annotated[float, typer.Option("--lr")] = 2e-3,
    width: Annotated[int, typer.Option("--width", help="Model input width (height is 32).")] = 256,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    resume: Annotated[
        bool, typer.Option("--resume/--restart", help="Continue from the run's checkpoint.")
    ] = True,
    pretrain: Annotated[
        str | None, typer.Option("--pretrain", help="char: 'synthetic' pre-training.")
    ] = None,
    emphasis: Annotated[
        str,
        typer.Option(
            "--emphasis",
            help="captcha: one more draw ticket per character in synthetic training strings "
            "(e.g. O0O0: 'O' and '0' three times as often, for a pair the model confuses).",
        ),
    ] = "",
    init: Annotated[
        str,
        typer.Option(
            "--init",
            help="line: start from these weights instead of from scratch: a bundled model "
            "(lines, captcha; rebuilt as float from its int8 file), a .tflite line model with "
            "its contract, a run folder, or a .keras line model. Fine-tunes a shipped model on "
            "your own prints; --width must match the model's.",
        ),
    ] = "",
    moderate_share: Annotated[
        float,
        typer.Option(
            "--moderate-share",
            min=0.0,
            max=1.0,
            help="lines: share of synthetic training lines drawn at moderate print quality "
            "instead of the harsh mix (validation and test stay harsh).",
        ),
    ] = 0.0,
    train_only: Annotated[
        bool,
        typer.Option(
            "--train-only",
            help="line: stop after training (model.keras, checkpoint, state.json), for a GPU box "
            "without TensorFlow (KERAS_BACKEND=jax). Copy the run folder to a box with "
            "TensorFlow and run the same command without --train-only: it finds the finished "
            "run and only evaluates, exports to int8 and reports.",
        ),
    ] = False,
) -> None:
    """Train on synthetic data, a labelled folder, or both; writes model.keras, the int8
    model.tflite with its model.json contract, report.json, learning_curve.png and
    worst_errors.png."""
    if kind == "char":
        from training.char_train import train_char_command  # built with char mode

        train_char_command(
            data=data,
            out=out,
            pretrain=pretrain,
            epochs=epochs or 80,
            seed=seed,
            test_data=test_data,
        )
        return
    if kind != "line":
        typer.echo(f"training: error: --kind must be line or char, not {kind!r}", err=True)
        raise typer.Exit(2)
    from training.data import DatasetError
    from training.line_run import LineRunOptions, run_line
    from training.texts import ALNUM
    from training.train import TrainConfig

    if stray := sorted(set(emphasis) - set(ALNUM)):
        typer.echo(
            f"training: error: --emphasis takes 0-9A-Z only, not {''.join(stray)!r}", err=True
        )
        raise typer.Exit(2)
    if emphasis and synthetic != "captcha":
        typer.echo("training: error: --emphasis applies to --synthetic-kind captcha only", err=True)
        raise typer.Exit(2)
    if moderate_share and synthetic != "lines":
        typer.echo(
            "training: error: --moderate-share applies to --synthetic-kind lines only", err=True
        )
        raise typer.Exit(2)

    if init and not init.endswith(".keras"):
        from training.warm_start import line_contract

        try:
            line_contract(init, width, TrainConfig(out=str(out)).charset)
        except ValueError as error:
            typer.echo(f"training: error: --init {error}", err=True)
            raise typer.Exit(2) from None
    options = LineRunOptions(
        config=TrainConfig(
            out=str(out),
            name=out.name,
            epochs=epochs or 16,
            batch_size=batch_size,
            learning_rate=learning_rate,
            width=width,
            max_steps_per_epoch=steps_per_epoch,
            seed=seed,
            init_from=init,
        ),
        kind=synthetic,
        data=data,
        synthetic_samples=samples,
        test_data=test_data,
        resume=resume,
        seed_offset=1000 + seed,
        emphasis=emphasis,
        moderate_share=moderate_share,
    )
    try:
        run_line(options, log=_log, train_only=train_only)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        typer.echo(f"training: error: {error}", err=True)
        raise typer.Exit(2) from None
