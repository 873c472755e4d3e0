"""The training code is backend-agnostic Keras 3: it trains with JAX too (the GPU box has no
TensorFlow). Runs in a subprocess because the backend is fixed when Keras is first imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
import numpy as np
import keras
from edge_ocr.preprocess import LineShape, bin_line
from training.data import LineSet
from training.fonts import FontKind, truetype_fonts
from training.synth import LineSynthesizer
from training.train import TrainConfig, train_line_model

assert keras.backend.backend() == "jax", keras.backend.backend()
font = next(f for f in truetype_fonts() if f.name == "DejaVuSans")
synthesizer = LineSynthesizer([font], kind_weights={FontKind.TRUETYPE: 1.0})
def lines(count, seed):
    rng = np.random.default_rng(seed)
    texts = ["".join(rng.choice(list("0123456789"), size=4)) for _ in range(count)]
    crops = [synthesizer.draw(t, font, rng).image for t in texts]
    images = np.stack([bin_line(c, LineShape(32, 128)) for c in crops])
    return LineSet(images, texts, ["f"] * count, ["truetype"] * count)
config = TrainConfig(out=sys.argv[1], epochs=3, batch_size=32, learning_rate=5e-3, warmup_steps=20,
                     width=128, channels=(24, 32, 48), stem_channels=12, temporal_blocks=1,
                     max_steps_per_epoch=30, patience=10, bn_momentum=0.8)
state = train_line_model(config, lines(960, 1), lines(64, 2), verbose=False, log=lambda _: None)
print(json.dumps([h["loss"] for h in state["history"]]))
"""


def test_line_training_runs_on_the_jax_backend(tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="JAX is not installed (pip install -e '.[dev]' brings it)")
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    assert losses[-1] < 0.6 * losses[0]
    assert (tmp_path / "model.keras").is_file()
