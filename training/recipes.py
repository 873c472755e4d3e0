"""The recipes of the bundled models: ``make model`` reruns exactly these.

Each shipped line model is trained in stages: a base run from scratch, then warm restarts,
each from the previous stage's best weights with a lower peak learning rate on freshly drawn
synthetic lines (a different seed, so every stage sees new fonts/text/degradation draws). The
runs were still improving when their cosine schedule ended; a restart is the cheap way to give
them more training without throwing away what they learned. A stage is kept only when it reads
better than the one before on the same validation draws (never the benchmark's sets).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from training.line_run import LineRunOptions
from training.train import TrainConfig


@dataclass(frozen=True)
class Recipe:
    options: LineRunOptions
    starts_from: str | None = None
    """The recipe whose best model this one starts from (it is run first when missing)."""
    install: bool = True
    """Whether the result is shipped in ``edge_ocr/models`` (base stages are not)."""


def _line_options(
    out: str, name: str, kind: str, width: int, steps: int, samples: int
) -> LineRunOptions:
    return LineRunOptions(
        config=TrainConfig(
            out=out,
            name=name,
            epochs=12,
            batch_size=64,
            learning_rate=2e-3,
            warmup_steps=400,
            width=width,
            max_steps_per_epoch=steps,
            patience=5,
        ),
        kind=kind,
        synthetic_samples=samples,
        validation_samples=2_000,
        test_samples=2_000,
        calibration_samples=2_000,
        # The shipped models were trained before the font packages joined the [train] extra.
        font_pool="core",
    )


def _warm_restart(base: LineRunOptions, out: str, epochs: int) -> LineRunOptions:
    config = replace(
        base.config,
        out=out,
        epochs=epochs,
        learning_rate=1e-3,
        warmup_steps=200,
        init_from=f"{base.config.out}/model.keras",
    )
    return replace(base, config=config, seed_offset=base.seed_offset + 10_000)


@dataclass(frozen=True)
class GpuStage:
    """The sizes one GPU stage's fixed time budget fitted (rendering as many 5,000-line chunks as
    16 CPU cores drew in the time given, then as many steps as the measured step rate allowed)."""

    lines: int
    epochs: int
    steps_per_epoch: int
    batch_size: int


def _gpu_stage(base: LineRunOptions, out: str, sizes: GpuStage, init_from: str) -> LineRunOptions:
    """A stage trained on a GPU (``KERAS_BACKEND=jax`` with ``--train-only``, then exported on a
    CPU with TensorFlow): a warm restart on far more fresh lines than the CPU stages, drawn from
    the wide font pool."""
    restart = replace(_warm_restart(base, out, sizes.epochs), moderate_share=0.5)
    config = replace(
        restart.config,
        batch_size=sizes.batch_size,
        learning_rate=1.5e-3,
        warmup_steps=300,
        max_steps_per_epoch=sizes.steps_per_epoch,
        patience=max(5, sizes.epochs),
        init_from=init_from,
    )
    return replace(restart, config=config, synthetic_samples=sizes.lines, font_pool="wide")


def bundled_recipes(runs_dir: str = "runs") -> dict[str, Recipe]:
    """Name → recipe, in the order they must run; base stages come before what starts from them."""
    lines_base = _line_options(f"{runs_dir}/lines", "lines", "lines", 256, 1500, 240_000)
    lines_2 = _warm_restart(lines_base, f"{runs_dir}/lines-2", 6)
    lines_3 = _warm_restart(lines_2, f"{runs_dir}/lines-3", 6)
    # Half of the last two stages' draws at moderate quality: fewer illegible (mislabelled) lines.
    lines_4 = replace(_warm_restart(lines_3, f"{runs_dir}/lines-4", 6), moderate_share=0.5)
    lines_5 = replace(_warm_restart(lines_4, f"{runs_dir}/lines-5", 6), moderate_share=0.5)
    # Two stages on one H200 (about 6 and 4 minutes): the first starts from lines-5's int8
    # model rebuilt as float (how its float weights were recovered), the second from the first.
    lines_6 = _gpu_stage(
        lines_5, f"{runs_dir}/lines-6", GpuStage(600_000, 10, 990, 128), f"{runs_dir}/lines-5"
    )
    lines_7 = _gpu_stage(
        lines_6,
        f"{runs_dir}/lines-7",
        GpuStage(285_000, 8, 331, 256),
        f"{runs_dir}/lines-6/model.keras",
    )
    captcha_base = _line_options(f"{runs_dir}/captcha", "captcha", "captcha", 128, 1000, 120_000)
    captcha_2 = _warm_restart(captcha_base, f"{runs_dir}/captcha-2", 5)
    captcha_3 = _warm_restart(captcha_2, f"{runs_dir}/captcha-3", 6)
    # O/0 is two thirds of the 4-character errors: the last stage draws them three times as often.
    captcha_4 = replace(_warm_restart(captcha_3, f"{runs_dir}/captcha-4", 5), emphasis="O0O0")
    return {
        "lines-base": Recipe(lines_base, install=False),
        "captcha-base": Recipe(captcha_base, install=False),
        "captcha-2": Recipe(captcha_2, "captcha-base", install=False),
        "captcha-3": Recipe(captcha_3, "captcha-2", install=False),
        "captcha": Recipe(captcha_4, "captcha-3"),
        "lines-2": Recipe(lines_2, "lines-base", install=False),
        "lines-3": Recipe(lines_3, "lines-2", install=False),
        "lines-4": Recipe(lines_4, "lines-3", install=False),
        "lines-5": Recipe(lines_5, "lines-4", install=False),
        "lines-6": Recipe(lines_6, "lines-5", install=False),
        "lines": Recipe(lines_7, "lines-6"),
    }


def bundled_run_dir(model: str, runs_dir: str = "runs") -> str:
    """The run folder whose export is shipped as ``edge_ocr/models/<model>.tflite`` (for a model
    without a recipe, e.g. one trained by hand: ``runs_dir/<model>``)."""
    recipe = bundled_recipes(runs_dir).get(model)
    if recipe is None or not recipe.install:
        return f"{runs_dir}/{model}"
    return recipe.options.config.out
