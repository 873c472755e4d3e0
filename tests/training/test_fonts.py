"""The synthetic data's font pool: what the ``[train]`` extra ships, what is held out, and that
every outline font really draws every character (a missing glyph would be a mislabelled line)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from edge_ocr.charset import DEFAULT_CHARSET
from training.fonts import HELD_OUT_FONTS, FontKind, all_fonts, split_fonts
from training.recipes import bundled_recipes


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> np.ndarray:
    canvas = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(canvas).text((8, 4), char, font=font, fill=255)
    return np.asarray(canvas) > 127


def test_the_train_extra_ships_the_package_fonts() -> None:
    names = {f.name for f in all_fonts() if f.kind is FontKind.TRUETYPE}
    for expected in (
        "DejaVuSans",
        "DroidSansMono",
        "Helvetica",
        "Times-Roman",
        "Courier-Bold",
        "Roboto-Regular",
        "SourceSansPro-Regular",
        "SourceSerifPro-It",
    ):
        assert expected in names


def test_held_out_fonts_stay_out_of_training() -> None:
    train, held_out = split_fonts(all_fonts())
    assert not {f.name for f in train} & HELD_OUT_FONTS
    outline = {f.name for f in held_out if f.kind in (FontKind.TRUETYPE, FontKind.HERSHEY)}
    assert outline == HELD_OUT_FONTS
    assert len([f for f in train if f.kind is FontKind.TRUETYPE]) >= 50


def test_every_outline_font_draws_every_character() -> None:
    """A font without a glyph draws its .notdef box (or nothing) for it; a private-use code
    point shows what that looks like in each font."""
    for spec in all_fonts():
        if spec.kind is not FontKind.TRUETYPE:
            continue
        font = ImageFont.truetype(str(spec.path), 40)
        missing = _glyph(font, "\ue000")
        for char in DEFAULT_CHARSET.replace(" ", ""):
            drawn = _glyph(font, char)
            assert drawn.any(), f"{spec.name} draws nothing for {char!r}"
            assert not np.array_equal(drawn, missing), f"{spec.name} has no {char!r}"


def test_the_core_pool_is_what_the_shipped_line_models_were_trained_with() -> None:
    """``make model`` must draw the fonts the bundled ``lines`` and ``captcha`` saw."""
    core, _ = split_fonts(all_fonts(pool="core"))
    wide, _ = split_fonts(all_fonts(pool="wide"))
    core_outline = {f.name for f in core if f.kind is FontKind.TRUETYPE}
    assert len(core_outline) == 18
    assert core_outline < {f.name for f in wide}
    assert not {"Helvetica", "Roboto-Regular", "SourceSansPro-Regular"} & core_outline
    # The CPU stages drew the core pool; the GPU stages (bigger batches of fresh lines) the wide.
    pools = {name: r.options.font_pool for name, r in bundled_recipes().items()}
    assert {pools.pop("lines-6"), pools.pop("lines")} == {"wide"}
    assert set(pools.values()) == {"core"}
    with pytest.raises(ValueError, match="unknown font pool"):
        all_fonts(pool="everything")


def test_a_line_run_draws_from_its_font_pool() -> None:
    from edge_ocr.preprocess import LineShape
    from training.line_run import _synthetic

    core = {f.name for f in all_fonts(pool="core")}
    shape = LineShape(32, 256)
    drawn_core = set(_synthetic("lines", False, 150, 5, shape, 1, font_pool="core").sources)
    drawn_wide = set(_synthetic("lines", False, 150, 5, shape, 1, font_pool="wide").sources)
    assert drawn_core <= core
    assert drawn_wide - core  # the package fonts are drawn
