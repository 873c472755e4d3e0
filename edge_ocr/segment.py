"""Character segmentation of a line crop: numpy and OpenCV only, so it runs on the device.

The crop is normalised (text bright, light gradients removed, local contrast evened out) and
thresholded. Dot-matrix print is recognised by its dots (distance-transform peaks on a 5-7 row
grid, or small round components); its dot columns are split into 5-column characters, which
copes with printers that leave no blank column. Other print is straightened when it is italic
or slanted, its connected components are grouped into glyphs (a colon's two dots, a broken
stroke, 7-segment bars), stray specks are dropped, and a group too wide for one character
(touching characters from negative tracking or a tight printer) is cut evenly into as many as
fit. Boxes come back in reading order with the text band (cap height to baseline), which
per-character recognition cuts each character with: a full-band cut keeps '.', '-' and ':'
apart by their height in the line.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.preprocess import MIN_CONTRAST, to_gray
from edge_ocr.render import Box
from edge_ocr.types import LineCrop


NOISE_MARGIN = 6.0
"""Ink must stand this many noise deviations above the paper, or the crop reads as blank
(the top-hat of pure noise reaches 4.2-5.0 deviations; composed print lines 14 and more)."""
MIN_BAND = 0.25
"""The text band is at least this fraction of the crop's height (a locator's crop of a line is
at most about four times the text height)."""
LOCAL_CONTRAST_FLOOR = 0.4
"""Local contrast is equalised up to 1 / this: weaker print than that stays weaker."""


@dataclass(frozen=True)
class SegmentConfig:
    """Thresholds of the segmenter, as fractions of the text band height ``H``."""

    band_row_fraction: float = 0.12
    """Rows whose ink count reaches this fraction of the busiest row belong to the text band."""
    speck_area: float = 0.004
    """Components smaller than this times ``H**2`` are noise (a dot-matrix dot is ~0.006 H**2)."""
    dot_size: float = 0.3
    """Components at most this tall and wide count as dots; mostly dots means dot-matrix print."""
    dot_min_ink: float = 0.15
    """A dot-matrix piece with less ink than this fraction of the median character is noise."""
    dot_char_slack: float = 0.9
    """Slack, in dot pitches, on the width of a 5-column character (bold prints double each dot
    0.35 pitch to the right; dots jitter)."""
    dot_row_tolerance: float = 0.6
    """Pixels a dot centre may lie off its grid row when fitting the row pitch (at least 0.2
    pitch); centres are whole pixels. More lets thin strokes of other print at a 2-3 pixel
    pitch pass for a grid."""
    dot_waist: float = 0.6
    """Where dots are too small for the roundness test (a 2-3 pixel pitch), this fraction of the
    dot centres pinched to their neighbour, on regular columns, still means dot-matrix (strokes
    of other print pinch at most ~0.4)."""
    dot_waist_regular: float = 0.6
    """Share of one-pitch steps between dot columns the ``dot_waist`` test also needs."""
    dot_advance: tuple[float, float] = (4.85, 6.5)
    """Range, in dot pitches, of the advance from one dot-matrix character to the next: 5
    columns and a gap of 1 (none blank) to about 2.5 columns."""
    dot_cell_tolerance: float = 0.3
    """A dot column within this many pitches of the cell grid lies on it (dots jitter; bold
    print doubles each dot 0.35 pitch to the right, moving its column's centre half that)."""
    dot_cell_fit: float = 0.85
    """Share of the dot columns the cell grid must hold; otherwise the line is cut into the
    fewest 5-column characters instead."""
    dot_cell_slack: float = 0.05
    """Cell grids holding this share of the dot columns fewer than the best one still compete
    on their number of cells: an advance of 5 pitches fits any columns, so the best fit alone
    would cut wider cells into 5-column ones."""
    spot_blur: float = 0.7
    """Gaussian sigma, in pixels, that smooths sensor noise off the grey image before its bright
    spots are taken as dots of small dot-matrix print (``_spot_grid``)."""
    spot_level: float = 0.3
    """A bright spot is a dot only at this fraction of the line's brightest ink or more."""
    spot_paired: float = 0.75
    """Share of the bright spots that must have their nearest neighbour 0.6-1.6 pitches away
    (dot-matrix lines: 0.75 and more; an ordinary font's spots: mostly less)."""
    spot_regular: float = 0.5
    """Share of one-pitch steps between the bright spots' columns that dot-matrix needs
    (dot-matrix lines: 0.5 and more; other print at most about 0.45)."""
    faint_ink: float = 0.7
    """A glyph group whose ink (90th percentile of its grey levels) is below this fraction of
    both its neighbours' is a blotch of paper texture, not print (against the line's median,
    characters: 0.77 and more, 99.5% of them 0.85 and more; texture blotches mostly
    0.45-0.75)."""
    faint_end_height: float = 0.75
    """At either end of a line, only a faint group shorter than this times ``H`` is dropped
    (see ``faint_ink``); a full-height one is a character in fading light."""
    slants: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(-7, 8))
    """Shears tried when straightening italic or slanted print (pixels per row)."""
    slant_gain: float = 1.05
    """A shear is used only when its column profile is this much sharper than upright's."""
    backslant_gain: float = 1.1
    """The same for a negative shear (print leaning left): italic fonts and slanted displays
    lean right, and upright print rich in '\\' strokes ('W', 'X', 'Y', 'V') sharpens by up to
    ~1.09 when sheared left."""
    stack_overlap: float = 0.5
    """Components whose column ranges share this fraction of the narrower one are one glyph."""
    max_width: float = 1.6
    """A glyph group wider than this times ``H`` (and than ``max_relative_width`` typical
    characters of its line) holds touching characters and is split; 'M' and 'W' are wide."""
    max_relative_width: float = 1.9
    """See ``max_width``; on a line of uniform character widths (``uniform_spread``) this
    alone decides. An 'M' or 'W' among alike characters is up to ~1.8 of them wide; two
    touching characters are about 2."""
    wide_letter_width: float = 2.1
    """On a uniform line, a group less than this many typical characters wide is cut only where
    a cut crosses little ink (``wide_letter_cut``): proportional fonts draw tabular digits, so
    a line of digits is uniform, and their 'W' and 'M' are up to ~2.0 digits wide."""
    wide_letter_cut: float = 0.2
    """Most ink, times ``H``, a cut between two touching characters crosses (contacts at
    serifs and overlapping strokes: mostly 0.02-0.2); a cut through the middle of a 'W' or 'M'
    crosses 0.23-0.34."""
    uniform_spread: float = 0.35
    """A line's character widths are uniform when their 10th-90th percentile spread is at
    most this fraction of their median."""
    typical_width: float = 0.7
    """Character width, times ``H``, assumed when a line has too few single characters to
    measure it."""
    space_gap: float = 0.5
    """A gap between characters wider than this times ``H`` (and than 2.2x the typical gap) is a
    word space."""
    crop_margin: float = 0.12
    """Rows kept above and below the band when cutting characters, times ``H``."""
    crop_aspect: float = 0.75
    """Character cuts are padded with background to at least this width / height."""


@dataclass(frozen=True)
class Segmentation:
    """Characters found in one line crop, left to right."""

    normalised: LineCrop
    """The crop as stretched grey levels with the text bright: what the boxes index."""
    boxes: tuple[Box, ...]
    band: tuple[int, int]
    """First and last row of the text band."""
    spaces: tuple[int, ...]
    """Indices ``i`` of the boxes preceded by a word space."""
    dot_matrix: bool
    shear: float = 0.0
    """Pixels per row the crop was sheared to stand upright (``deslant``); 0 when it was not."""

    @property
    def band_height(self) -> int:
        return self.band[1] - self.band[0] + 1

    def from_crop(self, x: float, y: float) -> float:
        """Column in ``normalised`` of the crop's pixel (x, y)."""
        if not self.shear:
            return x
        height = int(self.normalised.shape[0])
        return float(x + self.shear * (y - (height - 1) / 2.0) + deslant_margin(self.shear, height))


def noise_level(gray: LineCrop) -> float:
    """Sensor noise (standard deviation, grey levels) from neighbouring-pixel differences; the
    median ignores the few differences at ink edges."""
    if gray.shape[1] < 2:
        return 0.0
    steps = np.abs(np.diff(gray.astype(np.float32), axis=1))
    deviation: float = float(np.median(steps)) * 1.4826 / 2.0**0.5
    return deviation


def normalise_line(crop: LineCrop) -> LineCrop:
    """Text bright on a zero background, with uneven light removed.

    ``stretch_contrast`` decides polarity by the median, which a bold print or a strong light
    gradient can fool. Here a wide median filter estimates the background (ink is a minority
    in any window a line tall and wider); the strongest deviations from it are the ink, and
    their sign is the polarity (1 error in 1,500 composed lines, against 30 for comparing the
    crop's outer ring with its extremes). A morphological top-hat a third of the crop high then
    removes the background, gradients included, and keeps every stroke thinner than that;
    local contrast is then evened out along the line.
    """
    gray = to_gray(crop)
    height, width = gray.shape
    factor = min(1.0, 24.0 / height)
    small = cv2.resize(
        gray,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    background = cv2.medianBlur(small, max(3, round(1.5 * small.shape[0])) | 1)
    diff = small.astype(np.float32) - background.astype(np.float32)
    strongest = np.abs(diff) >= np.percentile(np.abs(diff), 95.0)
    dark_text = float(diff[strongest].mean()) < 0.0
    size = max(3, height // 3) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    operation = cv2.MORPH_BLACKHAT if dark_text else cv2.MORPH_TOPHAT
    text = cv2.morphologyEx(gray, operation, kernel).astype(np.float32)
    top = float(np.percentile(text, 99.5))
    if top < max(MIN_CONTRAST, NOISE_MARGIN * noise_level(gray)):
        return np.zeros_like(gray)  # nothing stands out of the sensor noise
    # Equalise local contrast (light falling off along the line): divide by the brightest ink
    # around, but never by less than a fraction of the line's, so blank paper stays dark.
    around = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * height + 1, height | 1))
    local = np.maximum(cv2.dilate(text, around), LOCAL_CONTRAST_FLOOR * top)
    result: LineCrop = np.rint(np.clip(text * (255.0 / local), 0.0, 255.0)).astype(np.uint8)
    return result


def ink_mask(normalised: LineCrop) -> npt.NDArray[np.bool_]:
    """Ink pixels of a normalised line: Otsu on a lightly smoothed copy, then hysteresis (a
    component must reach half the typical ink level), which drops paper texture and noise."""
    sigma = max(0.5, normalised.shape[0] / 80.0)
    smooth = cv2.GaussianBlur(normalised, (0, 0), sigma)
    if int(smooth.max()) < MIN_CONTRAST:
        return np.zeros(normalised.shape, dtype=bool)
    level, _ = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    weak = smooth > level
    strong_level = max(level, 0.5 * float(np.percentile(smooth[weak], 90.0)))
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    peaks = np.zeros(count, dtype=np.float32)
    np.maximum.at(peaks, labels.ravel(), smooth.ravel().astype(np.float32))
    keep = peaks > strong_level
    keep[0] = False
    mask: npt.NDArray[np.bool_] = keep[labels]
    return mask


def estimate_slant(mask: npt.NDArray[np.bool_], config: SegmentConfig) -> float:
    """Horizontal shift per row that makes the strokes most upright (italic fonts, slanted
    7-segment displays): the shear whose column ink profile is sharpest. 0 when no shear
    beats upright by a clear margin (a wider one for leaning left, which real print rarely
    does)."""
    ys, xs = np.nonzero(mask)
    if xs.size < 20:
        return 0.0
    centre = float(ys.mean())
    scores = {}
    for shear in config.slants:
        columns = np.rint(xs + shear * (ys - centre)).astype(np.int64)
        profile = np.bincount(columns - columns.min())
        scores[shear] = float(np.sum(profile.astype(np.float64) ** 2))
    best = max(scores, key=lambda k: scores[k])
    gain = config.backslant_gain if best < 0.0 else config.slant_gain
    return best if scores[best] > gain * scores.get(0.0, 0.0) else 0.0


def deslant_margin(shear: float, height: int) -> int:
    """Columns ``deslant`` adds on each side."""
    return int(np.ceil(abs(shear) * height / 2.0)) + 1


def deslant(image: npt.NDArray[np.uint8], shear: float) -> npt.NDArray[np.uint8]:
    """Shear rows horizontally by ``shear`` pixels per row about the middle row, widening the
    image so nothing is cut off."""
    height, width = image.shape
    extra = deslant_margin(shear, height)
    matrix = np.array([[1.0, shear, extra - shear * (height - 1) / 2.0], [0.0, 1.0, 0.0]])
    sheared: npt.NDArray[np.uint8] = cv2.warpAffine(
        image, matrix, (width + 2 * extra, height), flags=cv2.INTER_LINEAR, borderValue=0
    )
    return sheared


def _band(mask: npt.NDArray[np.bool_], fraction: float) -> tuple[int, int] | None:
    """Rows from cap height to baseline: those with at least ``fraction`` of the busiest row's
    ink. A line of only '-', '.' or ':' would give a band a few pixels high, so the band is at
    least ``MIN_BAND`` of the crop, around the ink found."""
    profile = mask.sum(axis=1)
    if profile.max() == 0:
        return None
    rows = np.flatnonzero(profile >= fraction * profile.max())
    top, bottom = int(rows[0]), int(rows[-1])
    missing = round(MIN_BAND * mask.shape[0]) - (bottom - top + 1)
    if missing > 0:
        top = max(0, top - (missing + 1) // 2)
        bottom = min(mask.shape[0] - 1, bottom + (missing + 1) // 2)
    return top, bottom


@dataclass
class _Group:
    x0: int
    x1: int  # exclusive
    y0: int
    y1: int  # exclusive
    area: int

    def merge(self, other: _Group) -> None:
        self.x0 = min(self.x0, other.x0)
        self.x1 = max(self.x1, other.x1)
        self.y0 = min(self.y0, other.y0)
        self.y1 = max(self.y1, other.y1)
        self.area += other.area


def _components(
    mask: npt.NDArray[np.bool_], band: tuple[int, int], config: SegmentConfig, speck: float = 1.0
) -> tuple[list[_Group], npt.NDArray[np.bool_]]:
    """Components of the mask that can be ink of this line: not specks, not outside the band,
    not small blobs on the crop's left or right edge (where light falls off or a neighbour
    was cut). Returns them sorted by their left edge, and the mask of their pixels only."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8
    )
    keep = np.zeros(count, dtype=bool)
    band_height = band[1] - band[0] + 1
    min_area = max(2.0, speck * config.speck_area * band_height**2)
    small = config.dot_size * band_height
    width = mask.shape[1]
    groups = []
    for index in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[index])
        if area < min_area or y + h <= band[0] or y > band[1]:
            continue
        is_small = w <= small and h <= small
        centre = y + (h - 1) / 2.0
        if is_small and not band[0] - h / 2.0 <= centre <= band[1] + h / 2.0:
            continue
        if is_small and (x == 0 or x + w == width) and area < 4 * min_area:
            continue
        groups.append(_Group(x, x + w, y, y + h, area))
        keep[index] = True
    groups.sort(key=lambda g: g.x0)
    clean: npt.NDArray[np.bool_] = keep[labels]
    return groups, clean


def _stacked(a: _Group, b: _Group, overlap: float, band_height: int) -> bool:
    """One glyph in two pieces: column ranges that share ``overlap`` of the narrower one (a
    colon, a broken stroke, 7-segment bars), or two small pieces one above the other and offset
    by less than their width (an italic colon). Italic neighbours share only a little."""
    shared = min(a.x1, b.x1) - max(a.x0, b.x0)
    narrower = min(a.x1 - a.x0, b.x1 - b.x0)
    if shared >= overlap * narrower:
        return True
    small = 0.35 * band_height
    stacked = a.y1 <= b.y0 or b.y1 <= a.y0
    return (
        stacked
        and max(a.y1 - a.y0, b.y1 - b.y0) <= small
        and max(a.x1 - a.x0, b.x1 - b.x0) <= small
        and shared >= -0.5 * narrower
    )


def _baseline(groups: list[_Group], band: tuple[int, int]) -> int:
    """The row characters stand on: the median bottom of the groups at least half the band
    high. The band's own bottom is lower where descenders ('J', 'Q', 'g' in many fonts) are
    common enough to count as band rows."""
    band_height = band[1] - band[0] + 1
    bottoms = [g.y1 - 1 for g in groups if g.y1 - g.y0 >= 0.5 * band_height]
    return round(float(np.median(bottoms))) if bottoms else band[1]


def _stray_speck(
    group: _Group, band: tuple[int, int], baseline: int, config: SegmentConfig
) -> bool:
    """A small round blob alone and off the baseline is noise: the only small characters are
    '.' (on the baseline), '-' (wide) and ':' (two blobs, merged before this test)."""
    band_height = band[1] - band[0] + 1
    width, height = group.x1 - group.x0, group.y1 - group.y0
    small = width <= config.dot_size * band_height and height <= config.dot_size * band_height
    round_blob = width <= 2.0 * height and height <= 2.0 * width
    on_baseline = group.y1 - 1 >= baseline - 0.2 * band_height
    return small and round_blob and not on_baseline


def _drop_faint(
    groups: list[_Group],
    normalised: LineCrop,
    clean: npt.NDArray[np.bool_],
    band: tuple[int, int],
    config: SegmentConfig,
) -> list[_Group]:
    """Drop glyph groups whose ink is much fainter than both neighbours': blotches of paper
    texture and light that pass the threshold next to the print (a character's ink, '.' and
    ':' included, is as bright as its neighbours'; where light falls off along the line, the
    neighbours fall off with it). At the ends of the line, with one neighbour to compare
    with, only a group shorter than a character is dropped: light falls off most there."""
    if len(groups) < 3:
        return groups
    band_height = band[1] - band[0] + 1
    levels = []
    for g in groups:
        ink = normalised[g.y0 : g.y1, g.x0 : g.x1][clean[g.y0 : g.y1, g.x0 : g.x1]]
        levels.append(float(ink.max()) if ink.size else 0.0)
    kept = []
    for index, (group, level) in enumerate(zip(groups, levels, strict=True)):
        near = levels[max(0, index - 1) : index] + levels[index + 1 : index + 2]
        short = group.y1 - group.y0 < config.faint_end_height * band_height
        if level >= config.faint_ink * min(near) or (len(near) < 2 and not short):
            kept.append(group)
    return kept


def _merge_stacked(groups: list[_Group], overlap: float, band_height: int) -> list[_Group]:
    """Merge the pieces of glyphs drawn in several parts (see ``_stacked``)."""
    merged: list[_Group] = []
    for group in groups:
        candidate = _Group(group.x0, group.x1, group.y0, group.y1, group.area)
        while merged:
            last = merged[-1]
            if not _stacked(last, candidate, overlap, band_height):
                break
            merged.pop()
            candidate.merge(last)
        merged.append(candidate)
    merged.sort(key=lambda g: g.x0)
    return merged


def _cut(group: _Group, mask: npt.NDArray[np.bool_], cuts: list[int], window: int) -> list[_Group]:
    """Cut a group of touching characters near the column offsets ``cuts``, each moved to the
    lowest point of the column ink profile within ``window`` columns."""
    profile = mask[group.y0 : group.y1, group.x0 : group.x1].sum(axis=0).astype(np.float64)
    return _pieces(group, mask, _cut_edges(profile, cuts, window))


def _cut_edges(profile: npt.NDArray[np.float64], cuts: list[int], window: int) -> list[int]:
    """Column offsets that cut the profile into pieces, from 0 to its width: each of ``cuts``
    moved to the least ink within ``window`` columns."""
    width = len(profile)
    edges = [0]
    for cut in cuts:
        lo = max(edges[-1] + 1, cut - window)
        hi = min(width - 1, cut + window + 1)
        if hi <= lo:
            continue
        offsets = np.arange(lo, hi)
        edges.append(int(offsets[np.argmin(profile[lo:hi] + 1e-3 * np.abs(offsets - cut))]))
    edges.append(width)
    return edges


def _pieces(group: _Group, mask: npt.NDArray[np.bool_], edges: list[int]) -> list[_Group]:
    """The ink of a group between consecutive column offsets ``edges``, each piece trimmed to
    its ink (empty pieces are left out)."""
    parts = []
    for a, b in itertools.pairwise(edges):
        cols = mask[group.y0 : group.y1, group.x0 + a : group.x0 + b]
        rows = np.flatnonzero(cols.any(axis=1))
        used = np.flatnonzero(cols.any(axis=0))
        if rows.size == 0:
            continue
        parts.append(
            _Group(
                group.x0 + a + int(used[0]),
                group.x0 + a + int(used[-1]) + 1,
                group.y0 + int(rows[0]),
                group.y0 + int(rows[-1]) + 1,
                int(cols.sum()),
            )
        )
    return parts


def _split_evenly(
    group: _Group, mask: npt.NDArray[np.bool_], pieces: int
) -> tuple[list[_Group], int]:
    """Cut ``pieces`` characters of similar width, each cut moved to the least ink within a
    third of a character of its even position. Also returns the most ink a cut crosses."""
    width = group.x1 - group.x0
    profile = mask[group.y0 : group.y1, group.x0 : group.x1].sum(axis=0).astype(np.float64)
    cuts = [round(width * k / pieces) for k in range(1, pieces)]
    edges = _cut_edges(profile, cuts, max(1, round(0.35 * width / pieces)))
    heaviest = max((int(profile[e]) for e in edges[1:-1]), default=0)
    return _pieces(group, mask, edges), heaviest


@dataclass(frozen=True)
class _DotGrid:
    """Dot-matrix geometry: dot pitch and diameter in pixels, and the dots themselves."""

    pitch: float
    diameter: float
    columns: npt.NDArray[np.float64]
    """Centre of every dot column found, left to right (from the eroded mask, where touching
    dots come apart)."""


def _dot_grid(
    normalised: LineCrop,
    mask: npt.NDArray[np.bool_],
    band: tuple[int, int],
    config: SegmentConfig,
) -> _DotGrid | None:
    """The dot grid of dot-matrix print, or None for other print.

    First by the dots' centres (``_peak_grid``). Failing that, by its pieces: large or bold
    dots touch and make strokes, so the mask is also tried slightly eroded; mostly small round
    components, many per character, whose ends sit on the rows of a 7-row grid spanning the
    band are dots; fragments of an eroded ordinary font are upright slivers on no such grid.
    Last, for dots too small for the mask to keep apart, by the grey image's bright spots
    (``_spot_grid``).
    """
    band_height = band[1] - band[0] + 1
    peaks = _peak_grid(mask, band, config)
    if peaks is not None:
        return peaks
    kernel = np.ones((3, 3), np.uint8)
    for erosion in range(4):
        if erosion > max(1.0, band_height * 0.05):
            break
        eroded = cv2.erode(mask.astype(np.uint8), kernel, iterations=erosion) if erosion else mask
        components, _ = _components(eroded.astype(bool), band, config, 0.5 if erosion else 1.0)
        limit = config.dot_size * band_height
        dots = [g for g in components if g.x1 - g.x0 <= limit and g.y1 - g.y0 <= limit]
        if len(dots) < 8 or len(dots) < 0.4 * len(components):
            continue
        widths = np.array([g.x1 - g.x0 for g in dots], dtype=np.float64)
        heights = np.array([g.y1 - g.y0 for g in dots], dtype=np.float64)
        if float(np.median(widths / heights)) < 0.7:
            continue  # thin upright pieces: an eroded ordinary font, not round dots
        diameter = float(np.median(heights))
        # Centres of the top and bottom dot of each component (a run of touching dots counts)
        ends = [g.y0 + (diameter - 1) / 2 for g in dots] + [g.y1 - (diameter + 1) / 2 for g in dots]
        diameter += 2 * erosion
        pitch = _fit_pitch(np.array(ends), (band_height - diameter) / 6.0, config.dot_row_tolerance)
        ink_columns = int(mask[band[0] : band[1] + 1].any(axis=0).sum())
        if pitch is not None and len(dots) >= 2.2 * ink_columns / (4.0 * pitch + diameter):
            columns = _dot_columns(components, pitch, diameter - 2 * erosion)
            return _DotGrid(pitch, diameter, columns)
    return _spot_grid(normalised, mask, band, config)


def _spot_grid(
    normalised: LineCrop,
    mask: npt.NDArray[np.bool_],
    band: tuple[int, int],
    config: SegmentConfig,
) -> _DotGrid | None:
    """Dot-matrix print whose dots are 2-3 pixels apart: the mask runs them into strokes, but
    the grey image still has a bright spot on every dot. The print is dot-matrix when the
    spots sit on the rows of a 5-7 row grid, nearly every one has a neighbour about a pitch
    away, and their columns, left to right, are mostly one pitch apart; the bright spots of
    an ordinary font's strokes (noise on a ridge, saturated plateaus) are scattered along them
    at no such spacing."""
    smooth = cv2.GaussianBlur(normalised.astype(np.float32), (0, 0), config.spot_blur)
    level = config.spot_level * float(smooth[mask].max()) if mask.any() else 0.0
    spots = (smooth >= cv2.dilate(smooth, np.ones((3, 3), np.uint8))) & mask & (smooth > level)
    spots[: band[0]] = False
    spots[band[1] + 1 :] = False
    ys, xs = np.nonzero(spots)
    if ys.size < 8:
        return None
    pitch = _fit_pitch(
        ys.astype(np.float64), (band[1] - band[0] + 1) / 7.0, config.dot_row_tolerance
    )
    if pitch is None:
        return None
    gaps = np.hypot(ys[:, None] - ys[None, :], xs[:, None] - xs[None, :]).astype(np.float64)
    np.fill_diagonal(gaps, np.inf)
    nearest = gaps.min(axis=1)
    paired = float(np.mean((nearest >= 0.6 * pitch) & (nearest <= 1.6 * pitch)))
    centres_x = np.sort(xs).astype(np.float64)
    regular = _column_regularity(centres_x, pitch)
    if paired < config.spot_paired or regular < config.spot_regular:
        return None
    return _DotGrid(pitch, pitch, _cluster(centres_x, 0.55 * pitch))


def _column_regularity(centres_x: npt.NDArray[np.float64], pitch: float) -> float:
    """Share of the steps between neighbouring dot columns (sorted dot x centres grouped into
    columns) that are about one pitch: high for dot-matrix print, low for an ordinary font."""
    runs = np.split(centres_x, np.flatnonzero(np.diff(centres_x) >= 0.5 * pitch) + 1)
    steps = np.diff([float(run.mean()) for run in runs]) / pitch
    return float(np.mean((steps > 0.75) & (steps < 1.3))) if steps.size else 0.0


def _peak_grid(
    mask: npt.NDArray[np.bool_], band: tuple[int, int], config: SegmentConfig
) -> _DotGrid | None:
    """Dot-matrix found by the centres of its dots, even where dots overlap and merge.

    A dot's centre is a local maximum of the distance to the nearest background pixel, and
    overlapping dots keep their own maxima. The print is dot-matrix when those centres sit on
    the rows of a 5-7 row grid and, left to right, mostly one pitch apart: an ordinary font's
    maxima lie along its strokes, at no such spacing.
    """
    band_height = band[1] - band[0] + 1
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    inside = distance[distance > 0]
    if inside.size == 0:
        return None
    radius = float(np.percentile(inside, 90.0))
    guess = (band_height - 2.0 * radius) / 6.0
    if guess < 1.5:
        return None
    size = max(3, round(0.7 * guess) | 1)
    around = cv2.dilate(distance, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    ys, xs = np.nonzero((distance >= around) & (distance >= max(0.8, 0.5 * radius)))
    order = np.argsort(-distance[ys, xs], kind="stable")
    kept: list[tuple[float, float]] = []
    spacing = (0.7 * guess) ** 2
    for index in order:  # one point per dot: drop maxima closer than 0.6 pitch to a kept one
        y, x = float(ys[index]), float(xs[index])
        if not band[0] - radius <= y <= band[1] + radius:
            continue  # a speck above or below the line is no dot of it
        if all((y - a) ** 2 + (x - b) ** 2 >= spacing for a, b in kept):
            kept.append((y, x))
    if len(kept) < 8:
        return None
    points = np.array(kept)
    pitch = _fit_pitch(points[:, 0], guess, config.dot_row_tolerance)
    if pitch is None:
        return None
    centres_x: npt.NDArray[np.float64] = np.sort(points[:, 1]).astype(np.float64)
    regular = _column_regularity(centres_x, pitch)
    if regular < 0.5 or not _dotted(distance, points, pitch, regular, config):
        return None
    return _DotGrid(pitch, 2.0 * radius, _cluster(centres_x, 0.55 * pitch))


def _dotted(
    distance: npt.NDArray[np.float32],
    points: npt.NDArray[np.float64],
    pitch: float,
    regular: float,
    config: SegmentConfig,
) -> bool:
    """Whether the distance maxima are dots: mostly round blobs; or, where big dots overlap
    into scalloped strokes and are no longer round, very regular columns and strokes pinched
    between neighbouring dots."""
    roundness = _roundness(distance, [(float(y), float(x)) for y, x in points])
    if roundness >= 0.5:
        return True
    waisted = _waisted(distance, points, pitch)
    if regular >= config.dot_waist_regular and waisted >= config.dot_waist:
        return True
    return roundness >= 0.35 and regular >= 0.7 and waisted >= 0.2


def _waisted(
    distance: npt.NDArray[np.float32], points: npt.NDArray[np.float64], pitch: float
) -> float:
    """Fraction of the dot centres (with a neighbour 0.6-1.5 pitches away) joined to their
    nearest neighbour through a waist: on the way, the distance to the background falls below
    80% of the smaller centre's. Overlapping dots pinch there; a bar or a stroke does not."""
    pinched = paired = 0
    for index, (y, x) in enumerate(points):
        gaps = np.hypot(points[:, 0] - y, points[:, 1] - x)
        gaps[index] = np.inf
        nearest = int(np.argmin(gaps))
        if not 0.6 * pitch <= gaps[nearest] <= 1.5 * pitch:
            continue
        paired += 1
        ny, nx = points[nearest]
        steps = np.linspace(0.0, 1.0, max(3, int(2 * gaps[nearest])))[1:-1]
        rows = np.rint(y + (ny - y) * steps).astype(np.int64)
        cols = np.rint(x + (nx - x) * steps).astype(np.int64)
        ends = min(float(distance[int(y), int(x)]), float(distance[int(ny), int(nx)]))
        pinched += float(distance[rows, cols].min()) <= 0.8 * ends
    return pinched / max(1, paired)


def _roundness(distance: npt.NDArray[np.float32], peaks: list[tuple[float, float]]) -> float:
    """Fraction of the peaks that are the centres of round blobs: one radius away, the
    distance to the background has fallen by 40% in at least three of the four directions.
    Along a stroke or a 7-segment bar it stays the same in two of them."""
    height, width = distance.shape
    round_count = 0
    for y, x in peaks:
        row, col = int(y), int(x)
        value = float(distance[row, col])
        step = max(1, round(value))
        around = [
            float(distance[min(height - 1, max(0, row + dy)), min(width - 1, max(0, col + dx))])
            for dy, dx in ((-step, 0), (step, 0), (0, -step), (0, step))
        ]
        round_count += sum(v <= 0.6 * value for v in around) >= 3
    return round_count / max(1, len(peaks))


def _cluster(values: npt.NDArray[np.float64], extent: float) -> npt.NDArray[np.float64]:
    """Means of groups of sorted values, each group spanning at most ``extent`` (no chaining,
    so a column of jittered or doubled dots stays one column and its neighbour another)."""
    groups: list[list[float]] = []
    for value in np.sort(values):
        if groups and value - groups[-1][0] <= extent:
            groups[-1].append(float(value))
        else:
            groups.append([float(value)])
    return np.array([float(np.mean(g)) for g in groups])


def _dot_columns(
    components: list[_Group], pitch: float, diameter: float
) -> npt.NDArray[np.float64]:
    """Centres of the dot columns: a component wider than a dot (dots touching sideways) stands
    for as many columns as fit in it, one pitch apart; centres closer than half a pitch are one
    column."""
    centres: list[float] = []
    for g in components:
        count = max(1, round((g.x1 - g.x0 - diameter) / pitch) + 1)
        first = g.x0 + (g.x1 - g.x0 - 1 - (count - 1) * pitch) / 2.0
        centres += [first + k * pitch for k in range(count)]
    return _cluster(np.array(centres), 0.55 * pitch)


def _fit_pitch(centres: npt.NDArray[np.float64], guess: float, tolerance: float) -> float | None:
    """The row pitch near ``guess`` that puts the most dot centres on a grid of 5 to 7 rows;
    None unless it holds at least 80% of them."""
    if guess < 1.2:
        return None
    best: tuple[float, float] | None = None
    for pitch in np.linspace(0.8 * guess, 1.2 * guess, 41):
        phase = np.angle(np.exp(2j * np.pi * centres / pitch).mean())
        position = (centres - phase / (2 * np.pi) * pitch) / pitch
        on_grid = np.abs(position - np.round(position)) < max(0.2, tolerance / pitch)
        rows = np.round(position[on_grid])
        score = float(on_grid.mean()) - 0.05 * abs(pitch / guess - 1.0)
        if rows.size and 4 <= rows.max() - rows.min() <= 6 and (best is None or score > best[0]):
            best = (score, float(pitch))
    if best is None or best[0] < 0.78:
        return None
    return best[1]


def _dot_cells(
    columns: npt.NDArray[np.float64], pitch: float, config: SegmentConfig
) -> list[int] | None:
    """Cuts between the characters of dot-matrix print from its monospaced cell grid.

    A 5x7 printer puts every character, space included, in a cell of the same advance ``A``
    (5 dot columns and a gap of at least one), so every dot column sits at
    ``phase + i * A + j * pitch`` with ``j`` in 0-4. The advance and phase that put the most
    columns on that lattice give each column its cell ``i``; where printers leave no blank
    column (``A`` = 5 pitches) several phases fit, and the one with the fewest cells, then the
    most cells using both their first and last column, wins. Returns the columns to cut at,
    or None when no lattice holds ``dot_cell_fit`` of the columns.
    """
    if len(columns) < 2:
        return None
    advances = pitch * np.arange(config.dot_advance[0], config.dot_advance[1], 0.02)
    offsets = pitch * np.linspace(-0.3, 0.3, 13)
    phases = (columns[0] - pitch * np.arange(5))[:, None] + offsets[None, :]
    phases = phases.ravel()
    tolerance = config.dot_cell_tolerance * pitch
    # distance of each column to the lattice, for every advance and phase
    relative = columns[None, None, :] - phases[None, :, None]
    within = np.mod(relative, advances[:, None, None])
    slot = np.clip(np.rint(within / pitch), 0, 4)
    off = np.minimum(np.abs(within - slot * pitch), advances[:, None, None] - within)
    on = off <= tolerance
    score = on.sum(axis=2)
    best = int(score.max())
    if best < config.dot_cell_fit * len(columns):
        return None
    good = score >= best - config.dot_cell_slack * len(columns)
    # (cells, -full cells) ranks the fits; the advance, phase and cell of each column go along
    chosen: tuple[tuple[int, int], float, float, npt.NDArray[np.int64]] | None = None
    for a, f in zip(*np.nonzero(good), strict=True):
        advance, phase = float(advances[a]), float(phases[f])
        gap = advance - 4.0 * pitch
        cells = np.floor((columns - phase + gap / 2.0) / advance).astype(np.int64)
        start = phase + cells * advance
        first = set(cells[np.abs(columns - start) <= tolerance].tolist())
        last = set(cells[np.abs(columns - start - 4.0 * pitch) <= tolerance].tolist())
        rank = (len(set(cells.tolist())), -len(first & last))
        if chosen is None or rank < chosen[0]:
            chosen = (rank, advance, phase, cells)
    assert chosen is not None
    _, advance, phase, cells = chosen
    gap = advance - 4.0 * pitch
    return [
        round(phase + i * advance + 4.0 * pitch + gap / 2.0)
        for i in range(int(cells.min()), int(cells.max()))
    ]


def _dot_characters(columns: npt.NDArray[np.float64], pitch: float, slack: float) -> list[int]:
    """Split the dot columns of a line into the fewest characters of at most 5 columns.

    Among splits with that many characters, the preferred one has its boundaries in the widest
    gaps, its characters a full 5 columns wide, and (where printers leave no blank column, so
    gaps tell nothing) its boundaries every 5 columns from the start of each run of columns.
    Returns the index of the first column of each character after the first.
    """
    count = len(columns)
    gaps = np.diff(columns, prepend=columns[0] - 10.0 * pitch) / pitch
    # grid position of each column within its run (runs break at gaps of 1.5 pitches)
    position = np.zeros(count, dtype=np.int64)
    for index in range(1, count):
        if gaps[index] < 1.5:
            position[index] = position[index - 1] + max(1, round(gaps[index]))
    # best[j]: (characters, -preference, start of the last character) for columns[:j]
    best: list[tuple[int, float, int]] = [(0, 0.0, 0)] + [(count + 1, 0.0, 0)] * count
    for end in range(1, count + 1):
        for start in range(end - 1, -1, -1):
            span = (columns[end - 1] - columns[start]) / pitch
            if span > 4.0 + slack:
                break
            preference = 0.5 * (span >= 3.6)
            if start:
                preference += min(1.5, max(0.0, gaps[start] - 1.0))
                preference += 0.3 * (position[start] % 5 == 0)
            candidate = (best[start][0] + 1, best[start][1] - preference, start)
            if candidate[:2] < best[end][:2]:
                best[end] = candidate
    starts: list[int] = []
    end = count
    while end > 0:
        start = best[end][2]
        if start:
            starts.append(start)
        end = start
    return sorted(starts)


def segment_line(crop: LineCrop, config: SegmentConfig = SegmentConfig()) -> Segmentation:
    """Boxes of the characters of one line crop, in reading order.

    The boxes index ``Segmentation.normalised``: the crop with its text bright and, for italic
    or slanted print, sheared upright (dot-matrix print is never sheared).
    """
    normalised = normalise_line(crop)
    mask = ink_mask(normalised)
    band = _band(mask, config.band_row_fraction)
    if band is None:
        return Segmentation(normalised, (), (0, normalised.shape[0] - 1), (), False)
    grid = _dot_grid(normalised, mask, band, config)
    shear = 0.0
    if grid is None:
        shear = estimate_slant(mask, config)
        if shear:
            normalised = deslant(normalised, shear)
            mask = deslant(mask.astype(np.uint8) * 255, shear) > 127
            band = _band(mask, config.band_row_fraction) or band
    band_height = band[1] - band[0] + 1
    components, clean = _components(mask, band, config)
    if not components:
        return Segmentation(normalised, (), band, (), False, shear)
    boxes: list[_Group] = []
    if grid is not None:
        # Every dot column of the line, cut into 5-column characters.
        columns = grid.columns
        whole = _Group(0, clean.shape[1], 0, clean.shape[0], 0)
        cuts = _dot_cells(columns, grid.pitch, config)
        if cuts is None:  # no monospaced cell grid fits: the fewest 5-column characters
            starts = _dot_characters(columns, grid.pitch, config.dot_char_slack / 2)
            cuts = [round((columns[i - 1] + columns[i]) / 2.0) for i in starts]
        pieces = _cut(whole, clean, cuts, 0)
        typical = float(np.median([p.area for p in pieces])) if pieces else 0.0
        boxes = [
            p
            for p in pieces
            if _dot_piece_is_character(p, clean, columns, typical, band, grid, config)
        ]
    else:
        stacked = _merge_stacked(components, config.stack_overlap, band_height)
        baseline = _baseline(stacked, band)
        groups = _drop_faint(
            [g for g in stacked if not _stray_speck(g, band, baseline, config)],
            normalised,
            clean,
            band,
            config,
        )
        typical, uniform = _typical_width(groups, band_height, config)
        for group in groups:
            boxes += _split_group(group, clean, typical, uniform, band_height, config)
    result = tuple((g.x0, g.y0, g.x1 - g.x0, g.y1 - g.y0) for g in boxes)
    spaces = word_spaces(result, band_height, config)
    return Segmentation(normalised, result, band, spaces, grid is not None, shear)


def _split_group(
    group: _Group,
    clean: npt.NDArray[np.bool_],
    typical: float,
    uniform: bool,
    band_height: int,
    config: SegmentConfig,
) -> list[_Group]:
    """A glyph group as its characters: itself, or, when too wide for one character (see
    ``max_width``), cut near even positions where the least ink is. On a uniform line a group
    barely two characters wide is cut only through little ink (``wide_letter_cut``)."""
    limit = config.max_relative_width * typical
    if not uniform:  # proportional print: 'M' and 'W' are wide
        limit = max(config.max_width * band_height, limit)
    width = group.x1 - group.x0
    count = round(width / typical)
    if width <= limit or count < 2:
        return [group]
    pieces, heaviest = _split_evenly(group, clean, count)
    wide_letter = uniform and width < config.wide_letter_width * typical
    if wide_letter and heaviest > config.wide_letter_cut * band_height:
        return [group]  # a 'W' or 'M' among tabular digits
    return pieces


def _dot_piece_is_character(
    piece: _Group,
    clean: npt.NDArray[np.bool_],
    columns: npt.NDArray[np.float64],
    typical: float,
    band: tuple[int, int],
    grid: _DotGrid,
    config: SegmentConfig,
) -> bool:
    """Whether a piece of dot-matrix print is a character, not a stray blob. A piece with a
    fraction of a character's dots is a blob (the smallest character, '.', has 4 of a typical
    12-20 dots); so is a single column of little ink, unless it sits where '.' does (on the
    baseline, at most two dot rows tall) or is shaped like ':' (two short runs of dots one
    above the other): bold or jittered print merges their two dot columns into one."""
    if piece.area < config.dot_min_ink * typical:
        return False
    if int(np.count_nonzero((columns >= piece.x0) & (columns < piece.x1))) > 1:
        return True
    if piece.area >= 0.4 * typical:
        return True
    pitch = grid.pitch
    height = piece.y1 - piece.y0
    if piece.y1 - 1 >= band[1] - 0.6 * pitch and height <= 1.2 * pitch + grid.diameter:
        return True  # '.'
    rows = clean[piece.y0 : piece.y1, piece.x0 : piece.x1].any(axis=1)
    runs = np.flatnonzero(np.diff(np.concatenate([[0], rows.astype(np.int8), [0]])))
    lengths = runs[1::2] - runs[::2]
    return len(lengths) == 2 and bool(np.all(lengths <= 1.2 * pitch + grid.diameter))  # ':'


def _typical_width(
    groups: list[_Group], band_height: int, config: SegmentConfig
) -> tuple[float, bool]:
    """Median width of the line's glyph groups no wider than the line is tall (single
    characters), and whether they are all about as wide (monospaced print, 7-segment); with
    fewer than three, ``typical_width`` times the band height and False."""
    widths = [g.x1 - g.x0 for g in groups if 0.3 * band_height <= g.x1 - g.x0 <= band_height]
    if len(widths) < 3:
        return config.typical_width * band_height, False
    low, median, high = np.percentile(widths, [10.0, 50.0, 90.0])
    return float(median), bool(high - low <= config.uniform_spread * median)


def word_spaces(
    boxes: tuple[Box, ...], band_height: int, config: SegmentConfig = SegmentConfig()
) -> tuple[int, ...]:
    """Indices ``i`` of the boxes preceded by a word space: a gap wider than ``space_gap``
    band heights and than 2.2 typical gaps of the line."""
    if len(boxes) < 2:
        return ()
    gaps = np.array([b[0] - (a[0] + a[2]) for a, b in itertools.pairwise(boxes)])
    typical = float(np.median(np.maximum(gaps, 0)))
    limit = max(config.space_gap * band_height, 2.2 * typical)
    return tuple(i + 1 for i, gap in enumerate(gaps) if gap > limit)


def text_band(normalised: LineCrop, config: SegmentConfig = SegmentConfig()) -> tuple[int, int]:
    """First and last row of the text band of a normalised line (the whole crop when blank)."""
    band = _band(ink_mask(normalised), config.band_row_fraction)
    return band if band is not None else (0, normalised.shape[0] - 1)


def cut_char(
    normalised: LineCrop, band: tuple[int, int], box: Box, config: SegmentConfig = SegmentConfig()
) -> LineCrop:
    """One character as per-character recognition sees it: the box's columns over the whole
    text band, centred on a background canvas with a margin all round and at least
    ``crop_aspect`` wide, text bright. The full band height keeps '.', '-' and ':' apart by
    where they sit in it; the margin keeps a bold character under half the crop, so
    ``bin_char``'s polarity test (by the median) leaves it bright."""
    band_height = band[1] - band[0] + 1
    margin = round(config.crop_margin * band_height)
    top = max(0, min(band[0], box[1]) - margin)
    bottom = min(normalised.shape[0], max(band[1] + 1, box[1] + box[3]) + margin)
    x0 = max(0, box[0])
    x1 = min(normalised.shape[1], box[0] + box[2])
    column = normalised[top:bottom, x0 : max(x0 + 1, x1)]
    height = bottom - top
    width = max(column.shape[1] + 2 * margin, round(config.crop_aspect * height))
    canvas = np.zeros((height, width), dtype=np.uint8)
    left = (width - column.shape[1]) // 2
    canvas[:, left : left + column.shape[1]] = column
    return canvas


def char_crops(
    segmentation: Segmentation, config: SegmentConfig = SegmentConfig()
) -> list[LineCrop]:
    """Every character of a segmented line, cut with ``cut_char``, left to right."""
    return [
        cut_char(segmentation.normalised, segmentation.band, b, config) for b in segmentation.boxes
    ]
