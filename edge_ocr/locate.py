"""Finding printed text lines in a frame without a neural detector.

Printed characters are thin strokes (or dots) darker or lighter than what is around them, packed
in a row. The frame is shrunk (``scale``), and a black-hat (dark strokes on light) and a top-hat
(light strokes on dark) with a kernel a little wider than a stroke pick out exactly that: the
straight edges of cartons, tape and belt give no response, whatever their contrast. The
response is thresholded, closed horizontally so the characters of a line join into one blob,
and the blobs are kept by size, aspect ratio and fill. Each kept blob gives a line box in frame
pixels and its tilt (from ``cv2.minAreaRect``); ``crop_line`` cuts it, deskewed, with the margins
the line model was trained with. Lines stacked closely over each other and overlapping
horizontally form one printed block: one item.

It costs a few milliseconds per 640x480 frame on one core, which is what lets the whole
pipeline run at camera rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.preprocess import to_gray
from edge_ocr.types import Frame, LineCrop

Box = tuple[int, int, int, int]
"""x, y, width, height in frame pixels."""


@dataclass(frozen=True)
class LocateConfig:
    """Thresholds of the locator. Sizes are in frame pixels unless said otherwise."""

    scale: float = 0.5
    """The frame is shrunk by this factor before the morphology (cost goes with its square)."""
    stroke_kernel: int = 7
    """Black-hat/top-hat kernel side at the shrunk scale: wider than a stroke, narrower than a
    character's counter-free background."""
    min_response: float = 18.0
    """Grey levels a stroke must stand out from its surroundings, at least..."""
    noise_factor: float = 4.0
    """...and at least this times the frame's median response (the noise level), so noisy
    frames do not turn into blobs."""
    close_width: int = 9
    """Horizontal closing at the shrunk scale: joins characters (and dots) into a line."""
    close_height: int = 3
    """Vertical closing at the shrunk scale: joins the dots of a dot-matrix character without
    joining two lines."""
    min_line_height: int = 10
    max_line_height: int = 90
    min_line_width: int = 24
    min_aspect: float = 1.2
    """Width over height of a line; codes have several characters."""
    min_stroke_edges: int = 6
    """A line's thresholded strokes must change on/off this often along some row (3 strokes):
    solid bands (tape, creases, shadows) do not."""
    min_fill: float = 0.35
    """Share of the blob's rotated box its pixels fill; text blobs are solid after closing."""
    word_gap: float = 1.6
    """Blobs on one row less than this times their height apart are words of one line."""
    max_tilt_deg: float = 12.0
    deskew_min_deg: float = 1.0
    """Lines tilted less than this are cut straight (rotation would only blur them)."""
    margin_x: float = 0.4
    margin_y: float = 0.2
    """Crop margins, times the line height (the line model was trained on such margins)."""
    group_gap: float = 1.2
    """Lines of one block: vertical gap at most this times the taller line's height..."""
    group_overlap: float = 0.3
    """...and horizontal overlap at least this share of the narrower line."""
    max_lines: int = 64
    """At most this many line candidates per frame (the biggest are kept): bounded work."""


@dataclass(frozen=True)
class Line:
    """One located text line. ``box`` is axis-aligned around it; ``angle`` its tilt in degrees
    (positive: rising to the right); ``centre``/``size`` describe the deskewed rectangle."""

    box: Box
    angle: float
    centre: tuple[float, float]
    size: tuple[float, float]
    """Width along the line and height across it, in frame pixels."""
    polarity: str
    """``dark`` (dark print on a lighter background) or ``light``."""

    @property
    def height(self) -> float:
        return self.size[1]


@dataclass(frozen=True)
class LocatedItem:
    """Lines that belong to one printed block, top to bottom, and the box around them."""

    lines: tuple[Line, ...]
    bbox: Box


def _odd(value: int) -> int:
    return max(1, value | 1)


class Locator:
    """Finds lines and items in frames; holds its kernels so each frame only does the work."""

    def __init__(self, config: LocateConfig = LocateConfig(), roi: Box | None = None) -> None:
        if not 0.1 <= config.scale <= 1.0:
            raise ValueError("locate scale must be between 0.1 and 1")
        self.config = config
        self.roi = roi
        side = _odd(config.stroke_kernel)
        self._stroke = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
        self._close = cv2.getStructuringElement(
            cv2.MORPH_RECT, (max(1, config.close_width), max(1, config.close_height))
        )
        self._open = cv2.getStructuringElement(cv2.MORPH_RECT, (2, 2))

    def _region(self, gray: Frame) -> tuple[Frame, int, int]:
        if self.roi is None:
            return gray, 0, 0
        x, y, w, h = self.roi
        height, width = gray.shape[:2]
        x0, y0 = max(0, min(x, width)), max(0, min(y, height))
        x1, y1 = max(x0, min(x + w, width)), max(y0, min(y + h, height))
        return gray[y0:y1, x0:x1], x0, y0

    def lines(self, frame: Frame) -> list[Line]:
        """Every text line candidate in the frame (or its ROI), in no particular order."""
        config = self.config
        gray = to_gray(frame)
        region, off_x, off_y = self._region(gray)
        if region.shape[0] < 8 or region.shape[1] < 8:
            return []
        if config.scale < 1.0:
            small = cv2.resize(
                region, None, fx=config.scale, fy=config.scale, interpolation=cv2.INTER_AREA
            )
        else:
            small = region
        dark = cv2.morphologyEx(small, cv2.MORPH_BLACKHAT, self._stroke)
        light = cv2.morphologyEx(small, cv2.MORPH_TOPHAT, self._stroke)
        lines: list[Line] = []
        for polarity, response in (("dark", dark), ("light", light)):
            lines += self._blobs(small, response, polarity, off_x, off_y)
        lines = _drop_overlapping(lines)
        if len(lines) > config.max_lines:
            lines = sorted(lines, key=lambda line: -line.size[0] * line.size[1])
            lines = lines[: config.max_lines]
        return lines

    def _blobs(
        self,
        small: Frame,
        response: npt.NDArray[np.uint8],
        polarity: str,
        off_x: int,
        off_y: int,
    ) -> list[Line]:
        config = self.config
        noise = float(np.median(response[::4, ::4]))
        level = max(config.min_response, config.noise_factor * noise)
        _, strokes = cv2.threshold(response, level, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, self._close)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self._open)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        inverse = 1.0 / config.scale
        min_h = config.min_line_height * config.scale * 0.6
        max_h = config.max_line_height * config.scale * 1.6
        pieces = [
            index
            for index in range(1, count)
            if min_h <= stats[index, cv2.CC_STAT_HEIGHT] <= max_h
            and stats[index, cv2.CC_STAT_AREA]
            >= 0.2 * stats[index, cv2.CC_STAT_WIDTH] * stats[index, cv2.CC_STAT_HEIGHT]
        ]
        found: list[Line] = []
        for group in _words_to_lines(stats, pieces, config.word_gap):
            x0 = min(int(stats[i, cv2.CC_STAT_LEFT]) for i in group)
            y0 = min(int(stats[i, cv2.CC_STAT_TOP]) for i in group)
            x1 = max(int(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH]) for i in group)
            y1 = max(int(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT]) for i in group)
            if (x1 - x0) * inverse < config.min_line_width:
                continue
            window = labels[y0:y1, x0:x1]
            inside = np.isin(window, group) if len(group) > 1 else window == group[0]
            points = cv2.findNonZero(inside.astype(np.uint8))
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(points)
            if rw < rh:
                rw, rh = rh, rw
                angle -= 90.0
            angle = (angle + 90.0) % 180.0 - 90.0  # -90..90, 0 = horizontal
            line_w, line_h = (rw + 1) * inverse, (rh + 1) * inverse
            if not config.min_line_height <= line_h <= config.max_line_height:
                continue
            if line_w < config.min_line_width or line_w < config.min_aspect * line_h:
                continue
            area = sum(int(stats[i, cv2.CC_STAT_AREA]) for i in group)
            if abs(angle) > config.max_tilt_deg or area < config.min_fill * (rw + 1) * (rh + 1):
                continue
            if _stroke_edges(strokes[y0:y1, x0:x1]) < config.min_stroke_edges:
                continue
            pad = (y1 - y0) // 2 + 1
            around = small[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
            if not _background_agrees(around, polarity):
                continue
            box = (
                int(x0 * inverse) + off_x,
                int(y0 * inverse) + off_y,
                int(np.ceil((x1 - x0) * inverse)),
                int(np.ceil((y1 - y0) * inverse)),
            )
            centre = (
                (x0 + cx + 0.5) * inverse - 0.5 + off_x,
                (y0 + cy + 0.5) * inverse - 0.5 + off_y,
            )
            found.append(Line(box, -angle, centre, (line_w, line_h), polarity))
        return found

    def locate(self, frame: Frame) -> list[LocatedItem]:
        """Items (printed blocks of one or more lines) in the frame, left to right."""
        return group_lines(self.lines(frame), self.config)


def _stroke_edges(strokes: npt.NDArray[np.uint8]) -> int:
    """The most on/off changes along a row of the thresholded strokes: characters give two per
    stroke, a band of tape or a crease (solid after thresholding) only its two ends."""
    changes = np.count_nonzero(np.diff(strokes, axis=1), axis=1)
    return int(changes.max()) if changes.size else 0


def _background_agrees(patch: Frame, polarity: str) -> bool:
    """Dark print lies on a background lighter than the print, light print on a darker one.

    The background is most of a line's box grown by half its height on every side, so its
    median sits on the background side of the grey range (even for bold print). This drops
    the light-polarity blob that the bright gaps between two lines of dark print make (and the
    reverse), which would otherwise swallow both lines.
    """
    low, median, high = np.percentile(patch, (5.0, 50.0, 95.0))
    light_background = bool(median > (low + high) / 2.0)
    return light_background == (polarity == "dark")


def _words_to_lines(
    stats: npt.NDArray[np.int32], pieces: list[int], word_gap: float
) -> list[list[int]]:
    """Blobs side by side on one row (words of one line, split at a space) joined: they share
    most of their height and the gap between them is at most ``word_gap`` times it."""
    order = sorted(pieces, key=lambda i: int(stats[i, cv2.CC_STAT_LEFT]))
    lines: list[list[int]] = []
    extents: list[list[int]] = []  # x1, y0, y1 of each line so far
    for index in order:
        x, y, w, h = (int(v) for v in stats[index, :4])
        for members, extent in zip(lines, extents, strict=True):
            ex1, ey0, ey1 = extent
            shared = min(y + h, ey1) - max(y, ey0)
            height = max(h, ey1 - ey0)
            if shared >= 0.6 * min(h, ey1 - ey0) and x - ex1 <= word_gap * height:
                members.append(index)
                extent[:] = [max(ex1, x + w), min(ey0, y), max(ey1, y + h)]
                break
        else:
            lines.append([index])
            extents.append([x + w, y, y + h])
    return lines


def _area(box: Box) -> int:
    return box[2] * box[3]


def _intersection(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _drop_overlapping(lines: list[Line]) -> list[Line]:
    """A line found in both polarities (the gaps between dark strokes are light strokes too)
    is kept once: the bigger blob wins, it holds the whole line."""
    kept: list[Line] = []
    for line in sorted(lines, key=lambda item: -_area(item.box)):
        if any(_intersection(line.box, other.box) > 0.5 * _area(line.box) for other in kept):
            continue
        kept.append(line)
    return kept


def group_lines(lines: list[Line], config: LocateConfig = LocateConfig()) -> list[LocatedItem]:
    """Join lines stacked over each other into items (union-find on the pairwise rule)."""
    parent = list(range(len(lines)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(lines):
        for j in range(i + 1, len(lines)):
            if _same_block(a, lines[j], config):
                parent[root(i)] = root(j)
    groups: dict[int, list[Line]] = {}
    for i, line in enumerate(lines):
        groups.setdefault(root(i), []).append(line)
    items = []
    for members in groups.values():
        members.sort(key=lambda line: line.centre[1])
        x0 = min(line.box[0] for line in members)
        y0 = min(line.box[1] for line in members)
        x1 = max(line.box[0] + line.box[2] for line in members)
        y1 = max(line.box[1] + line.box[3] for line in members)
        items.append(LocatedItem(tuple(members), (x0, y0, x1 - x0, y1 - y0)))
    items.sort(key=lambda item: item.bbox[0])
    return items


def _same_block(a: Line, b: Line, config: LocateConfig) -> bool:
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    overlap = min(ax + aw, bx + bw) - max(ax, bx)
    if overlap < config.group_overlap * min(aw, bw):
        return False
    gap = max(ay, by) - min(ay + ah, by + bh)
    return gap <= config.group_gap * max(a.height, b.height)


def crop_line(gray: Frame, line: Line, config: LocateConfig = LocateConfig()) -> LineCrop:
    """The line cut from a greyscale frame with margins, rotated level when it is tilted.

    Parts of the margin outside the frame are filled by replicating the border, so a crop
    always has the line's full size and the line model sees the margins it was trained on.
    """
    width = line.size[0] + 2.0 * config.margin_x * line.height
    height = line.size[1] + 2.0 * config.margin_y * line.height
    out_w, out_h = max(2, round(width)), max(2, round(height))
    cx, cy = line.centre
    if abs(line.angle) < config.deskew_min_deg:
        x0, y0 = round(cx - out_w / 2.0), round(cy - out_h / 2.0)
        frame_h, frame_w = gray.shape[:2]
        if x0 >= 0 and y0 >= 0 and x0 + out_w <= frame_w and y0 + out_h <= frame_h:
            return gray[y0 : y0 + out_h, x0 : x0 + out_w].copy()
        matrix = np.array([[1.0, 0.0, out_w / 2.0 - cx], [0.0, 1.0, out_h / 2.0 - cy]])
    else:
        matrix = cv2.getRotationMatrix2D((cx, cy), -line.angle, 1.0)
        matrix[0, 2] += out_w / 2.0 - cx
        matrix[1, 2] += out_h / 2.0 - cy
    crop: LineCrop = cv2.warpAffine(
        gray, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop
