"""The recipes of the char models: ``python -m training bundle --only chars`` (or ``char-digits``)
reruns exactly these. ``chars`` is shipped in ``edge_ocr/models``; ``char-digits`` is the model
the bench scores on scikit-learn's digits (found as ``runs/char-digits/model.tflite``).

Each recipe is one ``train-char`` command line; the equivalent options are kept beside it so the
README, the model contract and the bundle agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from training.char_train import CharRunOptions, CharTrainConfig


@dataclass(frozen=True)
class CharRecipe:
    options: CharRunOptions
    command: str
    """The ``python -m training train-char`` command line that runs the same."""
    install: bool = True
    """Whether the result is shipped in ``edge_ocr/models``."""


def char_recipes(runs_dir: str = "runs") -> dict[str, CharRecipe]:
    """Name → recipe of each char model."""
    # 160 epochs, not the default 80: 1 error against 5 in 3-fold cross-validation on the
    # digits training split (756 validation images); lighter augmentation did no better.
    digits_epochs = 160
    synthetic_epochs = 30
    synthetic_train, synthetic_test = 48_000, 6_000
    # Wrong cuts as a fifth of the training set: the non-character class that lets guided
    # segmentation refuse fragments and merged pairs.
    non_chars = 12_000
    return {
        "char-digits": CharRecipe(
            CharRunOptions(
                data="digits",
                out=f"{runs_dir}/char-digits",
                config=replace(CharTrainConfig(), epochs=digits_epochs),
                name="char-digits",
            ),
            f"python -m training train-char --data digits --epochs {digits_epochs} "
            f"--out {runs_dir}/char-digits",
            install=False,
        ),
        "chars": CharRecipe(
            CharRunOptions(
                data="synthetic",
                out=f"{runs_dir}/chars",
                config=replace(CharTrainConfig(), epochs=synthetic_epochs),
                synthetic_train=synthetic_train,
                synthetic_test=synthetic_test,
                synthetic_non_chars=non_chars,
                name="chars",
            ),
            f"python -m training train-char --data synthetic --epochs {synthetic_epochs} "
            f"--synthetic-train {synthetic_train} --synthetic-test {synthetic_test} "
            f"--non-chars {non_chars} --out {runs_dir}/chars",
        ),
    }
