"""The built-in synthetic conveyor stream, with the ground truth that scores a run.

Cartons carrying one or two printed code lines pass a fixed camera at a constant speed, left to
right or right to left, in the print styles the runtime can draw without Pillow (continuous
inkjet dot-matrix, 7-segment, Hershey vector fonts), dark print on light cartons or light print
on dark ones, slightly tilted, with motion blur from the exposure time and sensor noise.

It exists so the main job (``edge-ocr run --source synthetic``, ``make demo``, the bench) runs
with no camera and no downloads, and so that tests and benchmarks can score a run against what
was really printed: every item's text lines and the frames in which it is in view
(``ConveyorStream.truth``, ``score_events``).

Everything random is drawn from the seed when the stream is made (sprites) or from
``(seed, frame)`` when a frame is drawn (noise), so frame ``i`` of a stream is always the same
image and frames can be drawn in any order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from edge_ocr.events import ItemEvent
from edge_ocr.render import (
    SEVEN_SEGMENT_CHARSET,
    RenderedLine,
    render_dot_matrix,
    render_hershey,
    render_seven_segment,
)
from edge_ocr.types import Frame

Box = tuple[int, int, int, int]
"""x, y, width, height in frame pixels."""

STYLES = ("dot-matrix", "seven-segment", "hershey")
DIRECTIONS = ("right", "left", "random")
HERSHEY_IDS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
_DIGITS = "0123456789"
_ALNUM = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NOISE_MARGIN = 32
MAX_LINE_ASPECT = 8.5
"""Longest printed line, as width over character height: the line model's 32x256 input reads
at most about this much without squeezing the characters."""


@dataclass(frozen=True)
class ConveyorConfig:
    """What the synthetic conveyor looks like. Speeds are in pixels per second of stream time."""

    width: int = 640
    height: int = 480
    fps: float = 30.0
    speed: float = 400.0
    direction: str = "random"
    """right, left, or random (one direction for the whole stream, drawn from the seed)."""
    items: int = 12
    seed: int = 0
    styles: tuple[str, ...] = STYLES
    max_lines: int = 2
    char_height: tuple[int, int] = (18, 32)
    """Range of printed character heights in pixels (the line model is trained on 16-44)."""
    exposure_s: float = 0.003
    """Exposure time: motion blur is ``speed * exposure_s`` pixels long."""
    noise: float = 5.0
    """Standard deviation of the sensor noise, in grey levels."""
    max_tilt_deg: float = 3.0
    light_print_fraction: float = 0.25
    """Share of items printed light on a dark carton (the others are dark on light)."""
    gap: tuple[int, int] = (40, 220)
    """Range of the belt gap between cartons, in pixels."""

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64:
            raise ValueError("the conveyor frame must be at least 64x64 pixels")
        if self.fps <= 0 or self.speed <= 0:
            raise ValueError("fps and speed must be positive")
        if self.items < 0:
            raise ValueError("items must be zero or more")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
        unknown = [s for s in self.styles if s not in STYLES]
        if unknown or not self.styles:
            raise ValueError(f"styles must be some of {', '.join(STYLES)}; got {self.styles}")
        if not 1 <= self.max_lines <= 2:
            raise ValueError("max_lines must be 1 or 2")
        low, high = self.char_height
        if not 8 <= low <= high or 3 * high * self.max_lines > self.height:
            raise ValueError(f"char_height {self.char_height} does not fit the frame")

    @property
    def pixels_per_frame(self) -> float:
        return self.speed / self.fps


@dataclass(frozen=True)
class ItemTruth:
    """One carton's printed code and where it is: the ground truth a run is scored against.

    Positions are linear in the frame index: the text block's left edge is at
    ``x0 + step * frame`` (``step`` is negative when the belt runs left).
    """

    index: int
    lines: tuple[str, ...]
    style: str
    x0: float
    step: float
    line_boxes: tuple[Box, ...]
    """Each line's box with the block's left edge at x = 0 (y is absolute)."""
    block_width: int
    frame_width: int
    last_stream_frame: int

    @property
    def text(self) -> str:
        """The lines top to bottom joined as ``ItemEvent.text`` joins them."""
        return " | ".join(self.lines)

    def left(self, frame: int) -> int:
        return round(self.x0 + self.step * frame)

    def boxes(self, frame: int) -> tuple[Box, ...]:
        """Each line's box in this frame (possibly partly or wholly outside the view)."""
        left = self.left(frame)
        return tuple((x + left, y, w, h) for x, y, w, h in self.line_boxes)

    def block(self, frame: int) -> Box:
        """The whole text block's box in this frame."""
        boxes = self.boxes(frame)
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        return (x0, y0, x1 - x0, y1 - y0)

    def _frames_where(self, full: bool) -> range:
        frames = [
            f
            for f in range(self.last_stream_frame + 1)
            if _in_view(self.block(f), self.frame_width, full)
        ]
        return range(frames[0], frames[-1] + 1) if frames else range(0)

    @property
    def frames(self) -> range:
        """Frames in which some of the text is in view."""
        return self._frames_where(full=False)

    @property
    def full_frames(self) -> range:
        """Frames in which all of the text is in view."""
        return self._frames_where(full=True)


def _in_view(box: Box, width: int, full: bool) -> bool:
    x, _, w, _ = box
    if full:
        return x >= 0 and x + w <= width
    return x + w > 0 and x < width


# --------------------------------------------------------------------------- text


def _chars(rng: np.random.Generator, alphabet: str, count: int) -> str:
    return "".join(alphabet[int(i)] for i in rng.integers(0, len(alphabet), size=count))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _date(rng: np.random.Generator) -> tuple[int, int, int]:
    return int(rng.integers(2024, 2031)), int(rng.integers(1, 13)), int(rng.integers(1, 29))


def _numeric_line(rng: np.random.Generator) -> str:
    """What a 7-segment printer prints: dates, times, batch numbers."""
    year, month, day = _date(rng)
    hour, minute = int(rng.integers(24)), int(rng.integers(60))
    options = (
        f"{year}-{month:02d}-{day:02d}",
        f"{day:02d}.{month:02d}.{year % 100:02d}",
        f"{hour:02d}:{minute:02d}",
        f"{day:02d}{month:02d}{year % 100:02d} {hour:02d}:{minute:02d}",
        _chars(rng, _DIGITS, int(rng.integers(4, 9))),
        f"{_chars(rng, _DIGITS, 3)}-{_chars(rng, _DIGITS, int(rng.integers(2, 5)))}",
    )
    return _pick(rng, options)


def _code_line(rng: np.random.Generator) -> str:
    """Lot, expiry, time and serial lines as date coders print them."""
    year, month, day = _date(rng)
    hour, minute = int(rng.integers(24)), int(rng.integers(60))
    options = (
        f"LOT {_chars(rng, _ALNUM, int(rng.integers(4, 7)))}",
        f"L{_chars(rng, _DIGITS, int(rng.integers(4, 8)))}",
        f"EXP {day:02d}/{month:02d}/{year % 100:02d}",
        f"BB {year}-{month:02d}-{day:02d}",
        f"{day:02d}.{month:02d}.{year}",
        f"{hour:02d}:{minute:02d} L{int(rng.integers(1, 10))}",
        f"SN {_chars(rng, _ALNUM, 3)}-{_chars(rng, _DIGITS, 4)}",
        _chars(rng, _ALNUM, int(rng.integers(4, 9))),
    )
    return _pick(rng, options)


def _line_text(style: str, rng: np.random.Generator) -> str:
    return _numeric_line(rng) if style == "seven-segment" else _code_line(rng)


def _render(style: str, text: str, char_height: int, rng: np.random.Generator) -> RenderedLine:
    if style == "dot-matrix":
        return render_dot_matrix(text, char_height, rng)
    if style == "seven-segment":
        return render_seven_segment(text, char_height, rng)
    font = HERSHEY_IDS[int(rng.integers(len(HERSHEY_IDS)))]
    return render_hershey(text, char_height, font, bool(rng.random() < 0.3), rng)


def _ink_bounds(ink: npt.NDArray[np.float32]) -> Box:
    mask = ink > 0.3
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))


# --------------------------------------------------------------------------- items


@dataclass(frozen=True)
class _Sprite:
    """A carton as drawn (uint8, motion blur applied) and where its text sits on it."""

    image: npt.NDArray[np.uint8]
    y: int
    text_x: int
    """Left edge of the text block, in carton coordinates."""
    line_boxes: tuple[Box, ...]
    """Line boxes in carton coordinates."""


def _print_block(
    config: ConveyorConfig, style: str, rng: np.random.Generator
) -> tuple[tuple[str, ...], npt.NDArray[np.float32], tuple[Box, ...]]:
    """The ink of a 1-2 line text block, its texts and tight line boxes (block coordinates)."""
    low, high = config.char_height
    char_height = int(rng.integers(low, high + 1))
    count = 1 if config.max_lines == 1 or rng.random() < 0.5 else 2
    texts: list[str] = []
    inks: list[npt.NDArray[np.float32]] = []
    for _ in range(count):
        for _attempt in range(20):
            text = _line_text(style, rng)
            if style == "seven-segment" and any(c not in SEVEN_SEGMENT_CHARSET for c in text):
                continue
            drawn = _render(style, text, char_height, rng)
            x, y, w, h = _ink_bounds(drawn.ink)
            if w <= MAX_LINE_ASPECT * char_height and w <= config.width * 0.55:
                break
        texts.append(text)
        inks.append(drawn.ink[y : y + h, x : x + w])
    spacing = round(char_height * rng.uniform(0.45, 0.9))
    width = max(ink.shape[1] for ink in inks)
    height = sum(ink.shape[0] for ink in inks) + spacing * (count - 1)
    block = np.zeros((height, width), np.float32)
    boxes: list[Box] = []
    top = 0
    align = rng.choice(["left", "centre"])
    for ink in inks:
        left = 0 if align == "left" else (width - ink.shape[1]) // 2
        block[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
        boxes.append((left, top, ink.shape[1], ink.shape[0]))
        top += ink.shape[0] + spacing
    return tuple(texts), block, tuple(boxes)


def _tilt(
    block: npt.NDArray[np.float32], boxes: tuple[Box, ...], degrees: float
) -> tuple[npt.NDArray[np.float32], tuple[Box, ...]]:
    """Rotate the block about its centre; boxes become the bounds of each rotated line."""
    if abs(degrees) < 0.05:
        return block, boxes
    h, w = block.shape
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(np.ceil(w * cos + h * sin)), int(np.ceil(w * sin + h * cos))
    matrix[0, 2] += (new_w - w) / 2.0
    matrix[1, 2] += (new_h - h) / 2.0
    rotated = cv2.warpAffine(block, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR)
    new_boxes = []
    for x, y, bw, bh in boxes:
        corners = np.array(
            [[x, y, 1], [x + bw, y, 1], [x, y + bh, 1], [x + bw, y + bh, 1]], np.float64
        )
        moved = corners @ matrix.T
        x0, y0 = np.floor(moved.min(axis=0)).astype(int)
        x1, y1 = np.ceil(moved.max(axis=0)).astype(int)
        new_boxes.append((int(x0), int(y0), int(x1 - x0), int(y1 - y0)))
    return rotated, tuple(new_boxes)


def _carton(
    config: ConveyorConfig, block: npt.NDArray[np.float32], rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], int, int, bool]:
    """A shaded carton big enough for the block; returns it, where the block goes, polarity."""
    bh, bw = block.shape
    margin_x = int(rng.integers(20, 60))
    margin_y = int(rng.integers(16, 50))
    width = bw + 2 * margin_x
    height = min(config.height - 20, bh + 2 * margin_y + int(rng.integers(0, 80)))
    light_print = bool(rng.random() < config.light_print_fraction)
    base = rng.uniform(35, 80) if light_print else rng.uniform(150, 225)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = (
        1.0
        + rng.uniform(-0.12, 0.12) * (xs / width - 0.5)
        + rng.uniform(-0.1, 0.1) * (ys / height - 0.5)
    )
    carton = (base * shade).astype(np.float32)
    cv2.rectangle(carton, (0, 0), (width - 1, height - 1), float(base * 0.7), 2)
    text_y = int(rng.integers(margin_y // 2, max(margin_y // 2 + 1, height - bh - margin_y // 2)))
    # A strip of tape above or below the print: strong straight edges that are not text.
    tape_h = int(rng.integers(10, 30))
    if text_y > tape_h + 8:
        tape_y = int(rng.integers(2, text_y - tape_h - 4))
        carton[tape_y : tape_y + tape_h] *= rng.uniform(0.75, 1.15)
    return carton, margin_x, text_y, light_print


def _make_sprite(
    config: ConveyorConfig, style: str, rng: np.random.Generator
) -> tuple[tuple[str, ...], _Sprite]:
    texts, block, boxes = _print_block(config, style, rng)
    block, boxes = _tilt(block, boxes, rng.uniform(-config.max_tilt_deg, config.max_tilt_deg))
    carton, text_x, text_y, light_print = _carton(config, block, rng)
    ink_level = rng.uniform(200, 245) if light_print else rng.uniform(15, 70)
    region = carton[text_y : text_y + block.shape[0], text_x : text_x + block.shape[1]]
    region[:] = region * (1.0 - block) + ink_level * block
    blur = config.speed * config.exposure_s
    if blur >= 1.0:
        length = round(blur)
        kernel = np.full((1, length), 1.0 / length, np.float32)
        carton = cv2.filter2D(carton, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    image = np.clip(np.rint(carton), 0, 255).astype(np.uint8)
    y = int(rng.integers(10, max(11, config.height - carton.shape[0] - 10)))
    line_boxes = tuple((x + text_x, yy + text_y, w, h) for x, yy, w, h in boxes)
    return texts, _Sprite(image, y, text_x, line_boxes)


class ConveyorStream:
    """A finite synthetic conveyor stream: ``frame(i)``, iteration, and ``truth``."""

    def __init__(self, config: ConveyorConfig = ConveyorConfig()) -> None:
        self.config = config
        rng = np.random.default_rng(config.seed)
        direction = config.direction
        if direction == "random":
            direction = "right" if rng.random() < 0.5 else "left"
        self.direction = direction
        step = config.pixels_per_frame * (1.0 if direction == "right" else -1.0)
        self._sprites: list[_Sprite] = []
        self._x0: list[float] = []  # carton left edge at frame 0
        placed: list[tuple[tuple[str, ...], str]] = []
        distance = 0.0  # how far upstream of the view the next carton starts
        for _ in range(config.items):
            style = config.styles[int(rng.integers(len(config.styles)))]
            texts, sprite = _make_sprite(config, style, rng)
            width = sprite.image.shape[1]
            if direction == "right":
                self._x0.append(-distance - width)
            else:
                self._x0.append(config.width + distance)
            distance += width + float(rng.integers(config.gap[0], config.gap[1] + 1))
            self._sprites.append(sprite)
            placed.append((texts, style))
        self.frame_count = int(np.ceil((distance + config.width) / abs(step))) + 1 if placed else 0
        self._step = step
        self.truth: tuple[ItemTruth, ...] = tuple(
            ItemTruth(
                index=index,
                lines=texts,
                style=style,
                x0=self._x0[index] + sprite.text_x,
                step=step,
                line_boxes=tuple(
                    (x - sprite.text_x, y + sprite.y, w, h) for x, y, w, h in sprite.line_boxes
                ),
                block_width=max(x + w for x, _, w, _ in sprite.line_boxes) - sprite.text_x,
                frame_width=config.width,
                last_stream_frame=max(0, self.frame_count - 1),
            )
            for index, ((texts, style), sprite) in enumerate(
                zip(placed, self._sprites, strict=True)
            )
        )
        self._background = self._belt(rng)

    @property
    def fps(self) -> float:
        return self.config.fps

    def __len__(self) -> int:
        return self.frame_count

    def _belt(self, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
        """A dark belt with soft lighting falloff and faint lengthwise texture."""
        h, w = self.config.height, self.config.width
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        level = rng.uniform(70, 110)
        light = 1.0 - 0.25 * ((xs - w / 2) / w) ** 2 - 0.2 * ((ys - h / 2) / h) ** 2
        texture = cv2.GaussianBlur(rng.normal(0, 6, (h, 1)).astype(np.float32), (1, 5), 0)
        belt: npt.NDArray[np.float32] = level * light + texture
        return np.clip(np.rint(belt), 0, 255).astype(np.uint8)

    def frame(self, index: int) -> Frame:
        """Frame ``index`` as a greyscale 8-bit image."""
        canvas = self._background.copy()
        width = self.config.width
        for x0, sprite in zip(self._x0, self._sprites, strict=True):
            left = round(x0 + self._step * index)
            h, w = sprite.image.shape
            a, b = max(0, left), min(width, left + w)
            if a >= b:
                continue
            canvas[sprite.y : sprite.y + h, a:b] = sprite.image[:, a - left : b - left]
        if self.config.noise > 0:
            rng = np.random.default_rng([self.config.seed, index])
            noise = self._noise_bank()[int(rng.integers(len(self._noise_bank())))]
            dy, dx = (int(v) for v in rng.integers(0, _NOISE_MARGIN, size=2))
            patch = noise[:, dy : dy + self.config.height, dx : dx + width]
            cv2.add(canvas, patch[0], dst=canvas, dtype=cv2.CV_8U)
            cv2.subtract(canvas, patch[1], dst=canvas, dtype=cv2.CV_8U)
        return canvas

    def _noise_bank(self) -> list[npt.NDArray[np.uint8]]:
        """A few precomputed noise fields (positive and negative parts), cut at random offsets
        per frame: fresh Gaussian noise for every frame would cost more than locating."""
        bank: list[npt.NDArray[np.uint8]] | None = getattr(self, "_bank", None)
        if bank is None:
            rng = np.random.default_rng([self.config.seed, 1 << 20])
            shape = (self.config.height + _NOISE_MARGIN, self.config.width + _NOISE_MARGIN)
            bank = []
            for _ in range(4):
                field = rng.normal(0.0, self.config.noise, shape)
                positive = np.clip(np.rint(field), 0, 255).astype(np.uint8)
                negative = np.clip(np.rint(-field), 0, 255).astype(np.uint8)
                bank.append(np.stack([positive, negative]))
            self._bank = bank
        return bank

    def __iter__(self) -> Iterator[Frame]:
        for index in range(self.frame_count):
            yield self.frame(index)


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ItemScore:
    """A run scored against the ground truth.

    ``exact`` counts items whose first matching event has exactly the printed text;
    ``duplicates`` are further events for an item already reported; ``spurious`` are events that
    match no item (background, or a piece of an item far from its print).
    """

    items: int
    events: int
    exact: int
    wrong: int
    missed: int
    duplicates: int
    spurious: int

    @property
    def exact_rate(self) -> float:
        return self.exact / self.items if self.items else 1.0

    @property
    def duplicate_rate(self) -> float:
        return self.duplicates / self.events if self.events else 0.0

    @property
    def spurious_rate(self) -> float:
        return self.spurious / self.events if self.events else 0.0

    def __add__(self, other: ItemScore) -> ItemScore:
        return ItemScore(
            self.items + other.items,
            self.events + other.events,
            self.exact + other.exact,
            self.wrong + other.wrong,
            self.missed + other.missed,
            self.duplicates + other.duplicates,
            self.spurious + other.spurious,
        )


def _overlap(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def match_event(event: ItemEvent, truth: Sequence[ItemTruth]) -> ItemTruth | None:
    """The item an event reports: the one whose text block overlaps the event's box most in
    the event's last frame, among items in view then; None for an event of background."""
    best: ItemTruth | None = None
    best_overlap = 0
    for item in truth:
        frames = item.frames
        if not frames or event.last_frame not in frames:
            continue
        overlap = _overlap(item.block(event.last_frame), event.bbox)
        if overlap > best_overlap:
            best, best_overlap = item, overlap
    return best


def score_events(events: Sequence[ItemEvent], truth: Sequence[ItemTruth]) -> ItemScore:
    """Score events against the items that passed. An item no event reports is missed."""
    first_text: dict[int, str] = {}
    duplicates = spurious = 0
    for event in events:
        item = match_event(event, truth)
        if item is None:
            spurious += 1
        elif item.index in first_text:
            duplicates += 1
        else:
            first_text[item.index] = event.text
    exact = sum(
        1 for item in truth if item.index in first_text and first_text[item.index] == item.text
    )
    return ItemScore(
        items=len(truth),
        events=len(events),
        exact=exact,
        wrong=len(first_text) - exact,
        missed=len(truth) - len(first_text),
        duplicates=duplicates,
        spurious=spurious,
    )
