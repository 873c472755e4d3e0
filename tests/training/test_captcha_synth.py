"""ImageCaptcha samples are reproducible from their seed (training and bench sets rely on it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.synth import CaptchaSynthesizer


def test_same_seed_same_captcha_and_other_seed_other_captcha() -> None:
    first = CaptchaSynthesizer().sample(np.random.default_rng(5))
    again = CaptchaSynthesizer().sample(np.random.default_rng(5))
    other = CaptchaSynthesizer().sample(np.random.default_rng(6))
    assert first.text == again.text and np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)


def test_emphasis_makes_a_hard_pair_more_frequent() -> None:
    from collections import Counter

    from training.line_run import _synthetic
    from edge_ocr.preprocess import LineShape

    def pair_share(emphasis: str) -> float:
        source = CaptchaSynthesizer(emphasis=emphasis)
        rng = np.random.default_rng(0)
        drawn = Counter("".join(source.sample(rng).text for _ in range(120)))
        return (drawn["O"] + drawn["0"]) / sum(drawn.values())

    # Uniform: 2/36 = 5.6%. "O0O0" gives each three tickets in 40: 15%.
    assert pair_share("") < 0.09
    assert pair_share("O0O0") > 0.11
    shape = LineShape(32, 128)
    plain = _synthetic("captcha", False, 40, 7, shape, 1)
    emphasised = _synthetic("captcha", False, 40, 7, shape, 1, emphasis="O0O0")
    assert plain.texts != emphasised.texts
    assert _synthetic("captcha", False, 40, 7, shape, 1).texts == plain.texts


def test_emphasis_outside_the_captcha_alphabet_is_refused(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from training.cli import app

    result = CliRunner().invoke(
        app,
        ["train", "--synthetic-kind", "captcha", "--emphasis", "O0o", "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "--emphasis takes 0-9A-Z only, not 'o'" in result.output
    lines = CliRunner().invoke(app, ["train", "--emphasis", "O0", "--out", str(tmp_path)])
    assert lines.exit_code == 2
    assert "--emphasis applies to --synthetic-kind captcha only" in lines.output
    assert not any(tmp_path.iterdir())
