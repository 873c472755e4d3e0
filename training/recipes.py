"""The recipes of the bundled models: ``make model`` reruns exactly these."""

from __future__ import annotations

from training.line_run import LineRunOptions
from training.train import TrainConfig


def bundled_recipes(runs_dir: str = "runs") -> dict[str, LineRunOptions]:
    """Name → run options for each model shipped in ``edge_ocr/models``."""
    lines = LineRunOptions(
        config=TrainConfig(
            out=f"{runs_dir}/lines",
            name="lines",
            epochs=12,
            batch_size=64,
            learning_rate=2e-3,
            warmup_steps=400,
            width=256,
            max_steps_per_epoch=1500,
            patience=5,
        ),
        kind="lines",
        synthetic_samples=240_000,
        validation_samples=2_000,
        test_samples=2_000,
    )
    captcha = LineRunOptions(
        config=TrainConfig(
            out=f"{runs_dir}/captcha",
            name="captcha",
            epochs=12,
            batch_size=64,
            learning_rate=2e-3,
            warmup_steps=400,
            width=128,
            max_steps_per_epoch=1000,
            patience=5,
        ),
        kind="captcha",
        synthetic_samples=120_000,
        validation_samples=2_000,
        test_samples=2_000,
    )
    return {"lines": lines, "captcha": captcha}
