"""The evaluation sets: generated deterministically from fixed seeds that training never uses.

Training draws from seeds 1000-4005 (``training/line_run.py``: ``seed_offset`` 1000 plus 0, 1000,
2000 and 3000 + length), plus 10,000 per warm-restart stage (``training/recipes.py``; at most
34005). Every seed here is 90000 or more, and the line sets render only the
held-out fonts (``training.fonts.HELD_OUT_FONTS``) plus the procedural dot-matrix and 7-segment
styles, so no evaluation image was ever seen in training.

Crops are kept un-binned: every reader gets the same raw greyscale crop and does its own
preprocessing (edge-ocr bins it inside the timed call, exactly as on a device). The sets are
drawn sample by sample from one generator per set, so a quick set is a prefix of the full one.

This module imports training code only inside the generating functions: the reader
subprocesses unpickle ``EvalSet`` with numpy alone, so their memory figures stay their own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Gray = npt.NDArray[np.uint8]

LINES_SEED = 90001
LINES_MODERATE_SEED = 90011
LINES_CLEAN_SEED = 90021
CAPTCHA_4_SEED = 90004
CAPTCHA_5_6_SEED = 90056
MIN_SEED = 90000
"""Seeds below this belong to training; ``build_sets`` refuses them."""


@dataclass(frozen=True)
class Item:
    """One crop, its exact text, its print style and the degradations applied to it."""

    image: Gray
    text: str
    style: str
    degradations: tuple[str, ...]


@dataclass(frozen=True)
class EvalSet:
    """A named evaluation set and the bundled edge-ocr model meant to read it."""

    name: str
    title: str
    model: str
    """Bundled model (and ``runs/<model>`` float run) edge-ocr reads this set with."""
    printed_code: bool
    """Printed-code sets are where issue 9 asks edge-ocr to beat the peers."""
    seed: int
    items: tuple[Item, ...]

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    def describe(self) -> dict[str, object]:
        styles = Counter(item.style for item in self.items)
        degradations = Counter(d for item in self.items for d in item.degradations or ("none",))
        return {
            "title": self.title,
            "count": len(self.items),
            "seed": self.seed,
            "model": self.model,
            "printed_code": self.printed_code,
            "styles": dict(sorted(styles.items())),
            "degradations": dict(sorted(degradations.items())),
        }


@dataclass(frozen=True)
class SetSizes:
    """How many crops each set holds (``--quick`` and full mode differ only here)."""

    lines: int
    captchas_4: int
    captchas_5_6: int


FULL_SIZES = SetSizes(lines=1000, captchas_4=1000, captchas_5_6=500)
QUICK_SIZES = SetSizes(lines=100, captchas_4=40, captchas_5_6=20)


LINE_SETS = {
    "harsh": (
        "lines",
        LINES_SEED,
        "held-out code lines (unseen fonts, dot-matrix, 7-segment), harsh: the training mix of "
        "every degradation, stacked, with 8% captcha-styled lines",
    ),
    "moderate": (
        "lines_moderate",
        LINES_MODERATE_SEED,
        "held-out printed code lines, moderate: every camera degradation at the strength of a "
        "working installation",
    ),
    "clean": (
        "lines_clean",
        LINES_CLEAN_SEED,
        "held-out printed code lines, clean: the print as rendered, either polarity",
    ),
}
"""Print quality → (set name, seed, title); ``training.synth.PRINT_QUALITIES`` defines them.
The harsh set is the training generator's own output; the moderate and clean sets hold printed
code lines only, as a code-reading camera sees them (captcha styles are the captcha sets' job)."""


def held_out_lines(count: int, quality: str = "harsh") -> EvalSet:
    """Printed code lines in unseen fonts, dot-matrix and 7-segment, degraded as ``quality`` says
    (``Sample.degradations`` names what each line got)."""
    from training.synth import PRINT_QUALITIES, synthetic_sources

    name, seed, title = LINE_SETS[quality]
    source = synthetic_sources(
        "lines",
        held_out=True,
        quality=PRINT_QUALITIES[quality],
        captcha_styled=quality == "harsh",
    )
    rng = np.random.default_rng(_checked(seed))
    items = []
    for _ in range(count):
        sample = source.sample(rng)
        items.append(Item(sample.image, sample.text, sample.font_kind, sample.degradations))
    return EvalSet(name, title, "lines", True, seed, tuple(items))


def fresh_captchas(name: str, count: int, low: int, high: int, seed: int) -> EvalSet:
    """Default-size (160x60) ImageCaptcha images of ``low``-``high`` characters (0-9A-Z)."""
    from training.synth import CaptchaSynthesizer

    source = CaptchaSynthesizer(sizes=((160, 60),), min_length=low, max_length=high)
    rng = np.random.default_rng(_checked(seed))
    items = []
    for _ in range(count):
        sample = source.sample(rng)
        items.append(Item(sample.image, sample.text, "captcha", ()))
    length = f"{low}" if low == high else f"{low}-{high}"
    return EvalSet(
        name,
        f"fresh ImageCaptcha 160x60, {length} characters",
        "captcha",
        False,
        seed,
        tuple(items),
    )


def build_sets(sizes: SetSizes) -> list[EvalSet]:
    """Every crop set of the bench, in report order; empty sets are left out."""
    sets = [
        held_out_lines(sizes.lines, "harsh"),
        held_out_lines(sizes.lines, "moderate"),
        held_out_lines(sizes.lines, "clean"),
        fresh_captchas("captcha_4", sizes.captchas_4, 4, 4, CAPTCHA_4_SEED),
        fresh_captchas("captcha_5_6", sizes.captchas_5_6, 5, 6, CAPTCHA_5_6_SEED),
    ]
    return [s for s in sets if s.items]


def _checked(seed: int) -> int:
    if seed < MIN_SEED:
        raise ValueError(
            f"seed {seed} may overlap training seeds; evaluation seeds are >= {MIN_SEED}"
        )
    return seed
