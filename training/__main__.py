"""``python -m training``: synthetic data, training, evaluation and the bundled-model recipe.

One module per command under ``training.commands``; TensorFlow is imported inside them.
"""

from __future__ import annotations

from training.cli import app

if __name__ == "__main__":
    app()
