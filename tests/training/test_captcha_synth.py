"""ImageCaptcha samples are reproducible from their seed (training and bench sets rely on it)."""

from __future__ import annotations

import numpy as np

from training.synth import CaptchaSynthesizer


def test_same_seed_same_captcha_and_other_seed_other_captcha() -> None:
    first = CaptchaSynthesizer().sample(np.random.default_rng(5))
    again = CaptchaSynthesizer().sample(np.random.default_rng(5))
    other = CaptchaSynthesizer().sample(np.random.default_rng(6))
    assert first.text == again.text and np.array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)
