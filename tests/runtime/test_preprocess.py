from __future__ import annotations

import numpy as np
import pytest

from edge_ocr.preprocess import LineShape, bin_char, bin_line, stretch_contrast, to_model_float
from edge_ocr.render import render_hershey


def _line(dark_on_light: bool = True) -> np.ndarray:
    ink = render_hershey("LOT 42", 24, 0, False, np.random.default_rng(0)).ink
    paper, print_level = (220.0, 40.0) if dark_on_light else (30.0, 200.0)
    return np.rint(paper + (print_level - paper) * ink).astype(np.uint8)


def test_bin_line_shape_and_polarity() -> None:
    dark_on_light = bin_line(_line(True))
    light_on_dark = bin_line(_line(False))
    assert dark_on_light.shape == (32, 256) and dark_on_light.dtype == np.uint8
    # Text is bright on a zero background whatever the print polarity.
    assert np.median(dark_on_light) == 0 and dark_on_light.max() == 255
    assert np.mean(np.abs(dark_on_light.astype(int) - light_on_dark.astype(int))) < 6


def test_long_lines_are_squeezed_short_lines_padded() -> None:
    long_line = np.tile(_line(), (1, 6))
    assert bin_line(long_line)[:, -8:].any()
    short = bin_line(_line())
    assert not short[:, -40:].any()


def test_colour_and_custom_shape() -> None:
    colour = np.dstack([_line()] * 3)
    binned = bin_line(colour, LineShape(32, 128))
    assert binned.shape == (32, 128)
    np.testing.assert_array_equal(binned, bin_line(_line(), LineShape(32, 128)))


def test_blank_crop_gives_zeros_not_noise() -> None:
    flat = np.full((40, 100), 128, np.uint8)
    flat[0, 0] = 131
    assert not bin_line(flat).any()
    assert not stretch_contrast(flat).any()


@pytest.mark.parametrize(
    "bad",
    [np.zeros((1, 50), np.uint8), np.zeros((10, 10), np.float32), np.zeros((4, 4, 2), np.uint8)],
)
def test_bad_crops_raise_value_error(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        bin_line(bad)


def test_bin_char_keeps_aspect_and_centres() -> None:
    tall = np.full((120, 40), 255, np.uint8)
    tall[10:110, 15:25] = 0
    binned = bin_char(tall, 32, 24)
    assert binned.shape == (32, 24)
    columns = np.flatnonzero(binned.any(axis=0))
    assert abs((columns[0] + columns[-1]) / 2 - 11.5) <= 1.5
    assert to_model_float(binned).shape == (32, 24, 1)


@pytest.mark.parametrize("dark_on_light", [True, False])
def test_bin_char_keeps_a_full_stop_that_covers_under_two_percent_of_its_crop(
    dark_on_light: bool,
) -> None:
    """A '.' cut over the whole text band is a few pixels of a tall crop: the percentile
    stretch sees only paper there, and the mark must not vanish."""
    paper, ink = (210, 40) if dark_on_light else (30, 190)
    crop = np.full((60, 45), paper, np.uint8)
    crop[48:53, 20:25] = ink  # 25 of 2,700 pixels
    binned = bin_char(crop, 32, 24)
    assert binned.max() >= 200
    rows = np.flatnonzero(binned.max(axis=1) > 100)
    assert rows.min() > 20  # still at the bottom of the band, where a '.' sits
    assert not bin_char(np.full((60, 45), paper, np.uint8), 32, 24).any()
