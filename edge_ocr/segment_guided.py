"""Classifier-guided segmentation: over-segment a line, classify every candidate, choose a path.

The classical segmenter (``edge_ocr.segment``) decides from ink alone, and its mistakes are
ones a character classifier sees at once: two touching letters cut as one, a 7-segment '7'
whose top bar came apart from its stem, a dot-matrix character split across two cells. In
char mode a classifier is always at hand, so this module uses it the way Tesseract-style OCR
does:

1. Start from the classical boxes and cut each wide one further at candidate positions
   (minima of its column ink profile, and even splits by the line's typical character
   width). The boxes and their parts are the line's *pieces*.
2. A candidate character is a run of at most ``max_pieces`` neighbouring pieces (so a split
   piece can merge back, and a '7' top bar can join its stem). Every candidate is cut exactly
   as ``cut_char`` cuts, and all candidates of all lines are classified in one interpreter
   call.
3. Dynamic programming picks the run of candidates that covers every piece once and scores
   highest: the sum of each candidate's log-probability of its best class, a width prior
   against the line's typical character width, and a small bonus for the classical boxes
   (the classical answer is right on most lines; evidence must beat it).

Numpy and OpenCV only: the classifier is passed in as a function, so this module runs on the
device and never sees an interpreter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from edge_ocr.render import Box
from edge_ocr.segment import (
    SegmentConfig,
    Segmentation,
    cut_char,
    ink_mask,
    segment_line,
    word_spaces,
)
from edge_ocr.types import FloatArray, LineCrop

Classifier = Callable[[Sequence[LineCrop]], FloatArray]
"""Class probabilities (``N x C``) of ``N`` character crops cut by ``cut_char``, in one call."""


@dataclass(frozen=True)
class GuidedConfig:
    """Thresholds of guided segmentation. Widths are in typical character widths of the line
    (``typical``, measured on the classical boxes) or band heights (``H``); scores in natural
    log-probability units."""

    max_pieces: int = 4
    """Most pieces one candidate character may join (a dot-matrix character split in two,
    each half cut once more, is four)."""
    max_candidates: int = 240
    """Most candidates one line may have; past it, ``max_pieces`` is lowered for that line."""
    split_width: float = 1.2
    """Boxes wider than this many typical widths get inner candidate cuts (two touching
    characters are about 2; a 7-segment '1' merged into its neighbour about 1.4)."""
    max_inner_cuts: int = 6
    """Most inner candidate cuts in one box."""
    max_even_split: int = 4
    """Even splits into 2 .. this many parts are tried (and 1 more than the box's width in
    typical widths)."""
    min_piece: float = 0.12
    """Narrowest part, times ``H``, an inner cut may leave (a '1' or 'I' stem is ~0.1-0.15)."""
    cut_depth: float = 0.6
    """A local minimum of the column ink profile is a candidate cut only where it crosses at
    most this fraction of the box's busiest column."""
    snap: float = 0.2
    """An even split moves to the least ink within this many typical widths."""
    merge_gap: float = 0.35
    """Neighbouring pieces further apart than this times ``H`` never form one character."""
    max_width: float = 2.3
    """Widest candidate, in typical widths, joined from several pieces (an 'M' or 'W' is up
    to ~2 digits wide in a proportional font)."""
    wide_free: float = 1.7
    """Candidates up to this many typical widths wide carry no width penalty."""
    mono_wide_free: float = 1.3
    """The same for dot-matrix print, whose characters all fill one cell of the same width
    (two cells joined are about 2 wide)."""
    wide_weight: float = 3.0
    """Width penalty per squared typical width beyond ``wide_free``."""
    split_cost: float = 0.3
    """Score a cut inside a classical box costs (the classical segmenter saw no gap there)."""
    split_ink: float = 1.0
    """Further cost of an inner cut per band height of ink it crosses (touching characters
    meet at a thin contact; a cut through one character crosses a stroke)."""
    join_cost: float = 0.2
    """Score joining two classical boxes into one character costs."""
    join_gap: float = 5.0
    """Further cost of a join per band height of blank gap between the boxes."""
    probability_floor: float = 1e-4
    """Probabilities are floored here before the log, so one bad crop cannot dominate."""


DEFAULT_GUIDANCE = GuidedConfig()
"""What ``CharRecognizer`` uses unless told otherwise."""
DEFAULT_SEGMENT = SegmentConfig()


@dataclass(frozen=True)
class Piece:
    """A column range of a classical box (all of it, or a part between inner cuts), with the
    rows its ink spans."""

    x0: int
    x1: int
    """Exclusive."""
    y0: int
    y1: int
    """Exclusive."""
    box: int
    """Index of the classical box it belongs to."""
    cut_ink: int = 0
    """Ink pixels in the column of the inner cut on its left (0 for a box's first piece)."""


@dataclass(frozen=True)
class Lattice:
    """The candidate characters of one line: every run ``pieces[start:end]`` in ``spans``,
    with the box each is cut with."""

    segmentation: Segmentation
    """The classical segmentation the pieces come from."""
    pieces: tuple[Piece, ...]
    spans: tuple[tuple[int, int], ...]
    boxes: tuple[Box, ...]
    typical: float
    """Typical character width of the line, in pixels."""


@dataclass(frozen=True)
class GuidedSegmentation:
    """The chosen characters of one line and the classifier's probabilities for each."""

    segmentation: Segmentation
    """The classical segmentation with the chosen boxes (and their word spaces) in place."""
    probabilities: FloatArray
    """``len(boxes) x C`` class probabilities of the chosen boxes."""
    classical: tuple[Box, ...]
    """The boxes the classical segmenter found."""
    candidates: int
    """Candidates classified for this line."""


def typical_width(boxes: Sequence[Box], band_height: int, config: SegmentConfig) -> float:
    """Median width of the boxes that look like single characters (0.3-1.0 band heights
    wide), as the classical segmenter measures it; ``typical_width`` of the band height with
    fewer than three."""
    widths = [b[2] for b in boxes if 0.3 * band_height <= b[2] <= band_height]
    if len(widths) < 3:
        return config.typical_width * band_height
    return float(np.median(widths))


def inner_cuts(
    profile: npt.NDArray[np.float64], typical: float, band_height: int, config: GuidedConfig
) -> list[int]:
    """Candidate cut columns (offsets) inside one box from its column ink profile: even splits
    into 2 .. ``max_even_split`` parts, each moved to the least ink nearby, and the deepest
    local minima; none closer than ``min_piece`` to an edge or to each other."""
    width = len(profile)
    least = max(2, round(config.min_piece * band_height))
    if width < 2 * least:
        return []
    window = max(1, round(config.snap * typical))
    parts = min(config.max_even_split, max(2, round(width / typical) + 1))
    wanted = [
        _least_ink(profile, round(width * k / count), window)
        for count in range(2, parts + 1)
        for k in range(1, count)
    ]
    busiest = float(profile.max())
    inside = profile[1:-1]
    minima = (
        np.flatnonzero(
            (inside <= profile[:-2])
            & (inside <= profile[2:])
            & (inside <= config.cut_depth * busiest)
        )
        + 1
    )
    wanted += [int(m) for m in minima[np.argsort(profile[minima], kind="stable")]]
    cuts: list[int] = []
    for cut in wanted:
        if least <= cut <= width - least and all(abs(cut - c) >= least for c in cuts):
            cuts.append(cut)
        if len(cuts) == config.max_inner_cuts:
            break
    return sorted(cuts)


def _least_ink(profile: npt.NDArray[np.float64], cut: int, window: int) -> int:
    """The column within ``window`` of ``cut`` whose profile is lowest (nearest on ties)."""
    lo, hi = max(0, cut - window), min(len(profile), cut + window + 1)
    offsets = np.arange(lo, hi)
    return int(offsets[np.argmin(profile[lo:hi] + 1e-3 * np.abs(offsets - cut))])


def box_pieces(
    segmentation: Segmentation,
    mask: npt.NDArray[np.bool_],
    typical: float,
    config: GuidedConfig,
) -> list[Piece]:
    """The pieces of a line: each classical box as it is, or, when wider than
    ``split_width`` typical widths, cut at its ``inner_cuts`` (each part trimmed to the rows
    of its ink)."""
    pieces: list[Piece] = []
    band_height = segmentation.band_height
    for index, (x, y, w, h) in enumerate(segmentation.boxes):
        region = mask[y : y + h, x : x + w]
        cuts = []
        if w > config.split_width * typical:
            profile = region.sum(axis=0).astype(np.float64)
            cuts = inner_cuts(profile, typical, band_height, config)
        if not cuts:
            pieces.append(Piece(x, x + w, y, y + h, index))
            continue
        for a, b in zip([0, *cuts], [*cuts, w], strict=True):
            rows = np.flatnonzero(region[:, a:b].any(axis=1))
            top, bottom = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, h)
            ink = int(profile[a]) if a else 0
            pieces.append(Piece(x + a, x + b, y + top, y + bottom, index, ink))
    return pieces


def candidate_spans(
    pieces: Sequence[Piece], typical: float, band_height: int, max_pieces: int, config: GuidedConfig
) -> list[tuple[int, int]]:
    """Runs of neighbouring pieces that may be one character: each piece alone, every whole
    classical box, and runs of up to ``max_pieces`` pieces with no gap wider than
    ``merge_gap`` and no wider than ``max_width`` typical widths."""
    spans: list[tuple[int, int]] = []
    gap_limit = config.merge_gap * band_height
    width_limit = config.max_width * typical
    for start in range(len(pieces)):
        right = pieces[start].x1
        for end in range(start + 1, min(len(pieces), start + max_pieces) + 1):
            piece = pieces[end - 1]
            if end > start + 1 and piece.x0 - right > gap_limit:
                break
            right = max(right, piece.x1)
            one_box = pieces[start].box == piece.box
            if end > start + 1 and right - pieces[start].x0 > width_limit and not one_box:
                break
            spans.append((start, end))
    whole = _box_spans(pieces)
    return sorted(set(spans) | set(whole))


def _box_spans(pieces: Sequence[Piece]) -> list[tuple[int, int]]:
    """The run of pieces of each classical box."""
    spans: list[tuple[int, int]] = []
    start = 0
    for index in range(1, len(pieces) + 1):
        if index == len(pieces) or pieces[index].box != pieces[start].box:
            spans.append((start, index))
            start = index
    return spans


def span_box(pieces: Sequence[Piece], span: tuple[int, int]) -> Box:
    """The box of a run of pieces: their columns and the rows of their ink."""
    run = pieces[span[0] : span[1]]
    x0, x1 = min(p.x0 for p in run), max(p.x1 for p in run)
    y0, y1 = min(p.y0 for p in run), max(p.y1 for p in run)
    return (x0, y0, x1 - x0, y1 - y0)


def build_lattice(
    segmentation: Segmentation,
    config: GuidedConfig = GuidedConfig(),
    segment_config: SegmentConfig = DEFAULT_SEGMENT,
) -> Lattice:
    """The candidate characters of a classically segmented line, at most ``max_candidates``
    (fewer pieces joined per candidate where a line would have more)."""
    band_height = segmentation.band_height
    typical = typical_width(segmentation.boxes, band_height, segment_config)
    if not segmentation.boxes:
        return Lattice(segmentation, (), (), (), typical)
    mask = ink_mask(segmentation.normalised)
    pieces = box_pieces(segmentation, mask, typical, config)
    spans: list[tuple[int, int]] = []
    for max_pieces in range(config.max_pieces, 0, -1):
        spans = candidate_spans(pieces, typical, band_height, max_pieces, config)
        if len(spans) <= config.max_candidates:
            break
    boxes = tuple(span_box(pieces, s) for s in spans)
    return Lattice(segmentation, tuple(pieces), tuple(spans), boxes, typical)


def boundary_costs(
    pieces: Sequence[Piece], band_height: int, config: GuidedConfig
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """For the boundary before each piece: what a character boundary there costs (an inner
    cut: ``split_cost`` and the ink it crosses) and what joining across it costs (between
    classical boxes: ``join_cost`` and the blank gap). Deviating from the classical boxes
    has to be paid for by the classifier's evidence."""
    cut = np.zeros(len(pieces))
    join = np.zeros(len(pieces))
    for index in range(1, len(pieces)):
        piece, before = pieces[index], pieces[index - 1]
        if piece.box == before.box:
            cut[index] = config.split_cost + config.split_ink * piece.cut_ink / band_height
        else:
            gap = max(0, piece.x0 - max(p.x1 for p in pieces[:index]))
            join[index] = config.join_cost + config.join_gap * gap / band_height
    return cut, join


def span_scores(
    lattice: Lattice, probabilities: FloatArray, config: GuidedConfig
) -> npt.NDArray[np.float64]:
    """Score of every candidate: log-probability of its best class, the width prior, and the
    costs of its boundaries and joins (``boundary_costs``)."""
    best = np.maximum(probabilities.max(axis=1).astype(np.float64), config.probability_floor)
    widths = np.array([b[2] for b in lattice.boxes], dtype=np.float64) / lattice.typical
    free = config.mono_wide_free if lattice.segmentation.dot_matrix else config.wide_free
    excess = np.maximum(0.0, widths - free)
    cut, join = boundary_costs(lattice.pieces, lattice.segmentation.band_height, config)
    joined = np.concatenate([[0.0], np.cumsum(join)])
    starts = np.array([s for s, _ in lattice.spans], dtype=np.int64)
    ends = np.array([e for _, e in lattice.spans], dtype=np.int64)
    scores: npt.NDArray[np.float64] = (
        np.log(best)
        - config.wide_weight * excess**2
        - cut[starts]
        - (joined[ends] - joined[starts + 1])
    )
    return scores


def best_path(lattice: Lattice, scores: npt.NDArray[np.float64]) -> list[int]:
    """Indices of the candidates that cover every piece exactly once, left to right, with the
    highest total score (dynamic programming over piece boundaries)."""
    count = len(lattice.pieces)
    best = [-math.inf] * (count + 1)
    best[0] = 0.0
    back = [-1] * (count + 1)
    ending: list[list[int]] = [[] for _ in range(count + 1)]
    for index, (_, end) in enumerate(lattice.spans):
        ending[end].append(index)
    for end in range(1, count + 1):
        for index in ending[end]:
            start = lattice.spans[index][0]
            total = best[start] + float(scores[index])
            if total > best[end]:
                best[end], back[end] = total, index
    path: list[int] = []
    end = count
    while end > 0:
        index = back[end]
        path.append(index)
        end = lattice.spans[index][0]
    return path[::-1]


class GuidedSegmenter:
    """Segments line crops with a character classifier choosing among candidate cuts."""

    def __init__(
        self,
        classify: Classifier,
        config: GuidedConfig = GuidedConfig(),
        segment_config: SegmentConfig = DEFAULT_SEGMENT,
    ) -> None:
        self.classify = classify
        self.config = config
        self.segment_config = segment_config

    def lattice(self, crop: LineCrop) -> Lattice:
        """The candidates of one line crop, from its classical segmentation."""
        classical = segment_line(crop, self.segment_config)
        return build_lattice(classical, self.config, self.segment_config)

    def segment(self, crops: Sequence[LineCrop]) -> list[GuidedSegmentation]:
        """Every line segmented, with all candidates of all lines classified in one call."""
        lattices = [self.lattice(c) for c in crops]
        return self.choose(lattices)

    def choose(self, lattices: Sequence[Lattice]) -> list[GuidedSegmentation]:
        """The best path of every lattice, classifying all their candidates in one call."""
        cuts = [
            cut_char(lat.segmentation.normalised, lat.segmentation.band, box, self.segment_config)
            for lat in lattices
            for box in lat.boxes
        ]
        probabilities = self.classify(cuts)
        results: list[GuidedSegmentation] = []
        start = 0
        for lattice in lattices:
            rows = probabilities[start : start + len(lattice.boxes)]
            start += len(lattice.boxes)
            results.append(self._chosen(lattice, rows))
        return results

    def _chosen(self, lattice: Lattice, probabilities: FloatArray) -> GuidedSegmentation:
        segmentation = lattice.segmentation
        if not lattice.spans:
            return GuidedSegmentation(segmentation, probabilities, (), 0)
        path = best_path(lattice, span_scores(lattice, probabilities, self.config))
        boxes = tuple(lattice.boxes[i] for i in path)
        spaces = word_spaces(boxes, segmentation.band_height, self.segment_config)
        chosen = replace(segmentation, boxes=boxes, spaces=spaces)
        return GuidedSegmentation(
            chosen, probabilities[path], segmentation.boxes, len(lattice.boxes)
        )
