"""Procedural print styles drawn with numpy and OpenCV only.

Continuous-inkjet dot-matrix, 7-segment and OpenCV's Hershey fonts. They live in the runtime
(not in ``training/``) because the built-in synthetic conveyor stream draws with them on a
device that has neither TensorFlow nor Pillow. Each renderer returns an ink-coverage map
(1 = ink) and a box per printed character, so the same drawing serves line training,
character crops and segmentation tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

Box = tuple[int, int, int, int]
"""x, y, width, height in pixels."""

DOT_MATRIX_5X7: dict[str, tuple[str, ...]] = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    "A": ("01110", "10001", "10001", "10001", "11111", "10001", "10001"),
    "B": ("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
    "C": ("01110", "10001", "10000", "10000", "10000", "10001", "01110"),
    "D": ("11100", "10010", "10001", "10001", "10001", "10010", "11100"),
    "E": ("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
    "F": ("11111", "10000", "10000", "11110", "10000", "10000", "10000"),
    "G": ("01110", "10001", "10000", "10111", "10001", "10001", "01111"),
    "H": ("10001", "10001", "10001", "11111", "10001", "10001", "10001"),
    "I": ("01110", "00100", "00100", "00100", "00100", "00100", "01110"),
    "J": ("00111", "00010", "00010", "00010", "00010", "10010", "01100"),
    "K": ("10001", "10010", "10100", "11000", "10100", "10010", "10001"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
    "M": ("10001", "11011", "10101", "10101", "10001", "10001", "10001"),
    "N": ("10001", "10001", "11001", "10101", "10011", "10001", "10001"),
    "O": ("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
    "P": ("11110", "10001", "10001", "11110", "10000", "10000", "10000"),
    "Q": ("01110", "10001", "10001", "10001", "10101", "10010", "01101"),
    "R": ("11110", "10001", "10001", "11110", "10100", "10010", "10001"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "U": ("10001", "10001", "10001", "10001", "10001", "10001", "01110"),
    "V": ("10001", "10001", "10001", "10001", "10001", "01010", "00100"),
    "W": ("10001", "10001", "10001", "10101", "10101", "10101", "01010"),
    "X": ("10001", "10001", "01010", "00100", "01010", "10001", "10001"),
    "Y": ("10001", "10001", "10001", "01010", "00100", "00100", "00100"),
    "Z": ("11111", "00001", "00010", "00100", "01000", "10000", "11111"),
    " ": ("00000",) * 7,
    "-": ("00000", "00000", "00000", "11111", "00000", "00000", "00000"),
    "/": ("00000", "00001", "00010", "00100", "01000", "10000", "00000"),
    ":": ("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
}
"""The 5x7 dot pattern of each character a dot-matrix printer prints: seven rows top to bottom,
'1' for a dot (the grade's dot completeness counts the dots a character should have)."""

# Segments a..g as (x0, y0, x1, y1) in a unit cell 1 wide and 2 high.
_SEGMENTS = {
    "a": (0.0, 0.0, 1.0, 0.0),
    "b": (1.0, 0.0, 1.0, 1.0),
    "c": (1.0, 1.0, 1.0, 2.0),
    "d": (0.0, 2.0, 1.0, 2.0),
    "e": (0.0, 1.0, 0.0, 2.0),
    "f": (0.0, 0.0, 0.0, 1.0),
    "g": (0.0, 1.0, 1.0, 1.0),
}
_SEVEN_SEGMENT_DIGITS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "-": "g",
}
SEVEN_SEGMENT_CHARSET = "0123456789- :."
"""What a 7-segment printer can show unambiguously; letters would alias digits (S/5, O/0, B/8)."""
DOT_MATRIX_CHARSET = "".join(DOT_MATRIX_5X7)


@dataclass(frozen=True)
class RenderedLine:
    """A drawn line: ink coverage (float 0-1, 1 = ink) and one box per non-space character."""

    ink: npt.NDArray[np.float32]
    boxes: tuple[Box, ...]


def _check_charset(text: str, charset: str, style: str) -> None:
    missing = sorted({c for c in text if c not in charset})
    if missing:
        raise ValueError(f"{style} cannot draw {''.join(missing)!r}")


def _box_of(ink: npt.NDArray[np.float32], x0: int, x1: int) -> Box | None:
    """Tight box of the ink between columns x0 and x1."""
    region = ink[:, max(0, x0) : max(0, x1)] > 0.25
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return None
    return (
        max(0, x0) + int(cols[0]),
        int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def _finish(ink: npt.NDArray[np.float32], spans: list[tuple[int, int]]) -> RenderedLine:
    boxes = tuple(b for b in (_box_of(ink, x0, x1) for x0, x1 in spans) if b is not None)
    return RenderedLine(np.clip(ink, 0.0, 1.0), boxes)


def render_dot_matrix(text: str, char_height: int, rng: np.random.Generator) -> RenderedLine:
    """Continuous-inkjet 5x7 print: round dots with jitter, size variation and missing dots."""
    _check_charset(text, DOT_MATRIX_CHARSET, "dot-matrix")
    pitch = char_height / 6.5
    radius = pitch * rng.uniform(0.28, 0.55)
    gap_cols = rng.uniform(1.0, 2.2)
    jitter = pitch * rng.uniform(0.0, 0.12)
    dropout = rng.uniform(0.0, 0.08)
    bold = rng.random() < 0.2
    advance = pitch * (5 + gap_cols - 1)
    margin = int(np.ceil(pitch * 1.5))
    width = int(np.ceil(margin * 2 + advance * len(text) + pitch))
    height = int(np.ceil(margin * 2 + pitch * 6 + 1))
    scale = 4  # draw at 4x and area-downsample for anti-aliased round dots
    canvas = np.zeros((height * scale, width * scale), dtype=np.uint8)
    spans: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        x0 = margin + index * advance
        spans.append((int(x0 - pitch * 0.5), int(np.ceil(x0 + pitch * 4.5 + 1))))
        for row, bits in enumerate(DOT_MATRIX_5X7[char]):
            for col, bit in enumerate(bits):
                if bit != "1" or rng.random() < dropout:
                    continue
                cx = x0 + col * pitch + rng.normal(0.0, jitter + 1e-6)
                cy = margin + row * pitch + rng.normal(0.0, jitter + 1e-6)
                r = radius * rng.uniform(0.85, 1.15)
                centre = (int(cx * scale), int(cy * scale))
                cv2.circle(canvas, centre, max(1, int(r * scale)), 255, -1, cv2.LINE_AA)
                if bold:
                    shifted = (int((cx + pitch * 0.35) * scale), centre[1])
                    cv2.circle(canvas, shifted, max(1, int(r * scale)), 255, -1, cv2.LINE_AA)
    ink = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _finish(ink / 255.0, spans)


def render_seven_segment(text: str, char_height: int, rng: np.random.Generator) -> RenderedLine:
    """7-segment print: bars with gaps between segments, optional slant, colon and point."""
    _check_charset(text, SEVEN_SEGMENT_CHARSET, "seven-segment")
    half = char_height / 2.0
    cell_width = char_height * rng.uniform(0.45, 0.6)
    thickness = max(1.0, char_height * rng.uniform(0.08, 0.16))
    gap = thickness * rng.uniform(0.15, 0.6)
    slant = rng.uniform(0.0, 0.2)
    spacing = char_height * rng.uniform(0.2, 0.4)
    margin = int(np.ceil(char_height * 0.3 + thickness))
    narrow = {":", ".", " "}
    widths = [cell_width * (0.3 if c in narrow else 1.0) for c in text]
    width = int(np.ceil(margin * 2 + sum(widths) + spacing * len(text) + char_height * slant))
    height = int(np.ceil(margin * 2 + char_height))
    scale = 4
    canvas = np.zeros((height * scale, width * scale), dtype=np.uint8)
    thick_px = max(1, int(thickness * scale))
    spans: list[tuple[int, int]] = []

    def point(x: float, y: float) -> tuple[int, int]:
        # Slant leans the top to the right, as most segment displays do.
        return (int((x + (char_height - y) * slant) * scale), int(y * scale))

    x = float(margin)
    top = float(margin)
    for char, char_width in zip(text, widths, strict=True):
        spans.append(
            (int(x - thickness), int(np.ceil(x + char_width + thickness + char_height * slant)))
        )
        if char in _SEVEN_SEGMENT_DIGITS:
            for name in _SEVEN_SEGMENT_DIGITS[char]:
                sx0, sy0, sx1, sy1 = _SEGMENTS[name]
                dx = (sx1 - sx0) * gap
                dy = (sy1 - sy0) * gap
                a = (x + sx0 * char_width + dx, top + sy0 * half + dy)
                b = (x + sx1 * char_width - dx, top + sy1 * half - dy)
                cv2.line(canvas, point(*a), point(*b), 255, thick_px, cv2.LINE_AA)
        elif char == ":":
            for y in (top + half * 0.55, top + half * 1.45):
                cv2.circle(
                    canvas, point(x + char_width / 2, y), thick_px // 2 + 1, 255, -1, cv2.LINE_AA
                )
        elif char == ".":
            cv2.circle(
                canvas,
                point(x + char_width / 2, top + char_height - thickness / 2),
                thick_px // 2 + 1,
                255,
                -1,
                cv2.LINE_AA,
            )
        x += char_width + spacing
    ink = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    return _finish(ink / 255.0, spans)


def render_hershey(
    text: str, char_height: int, font_id: int, italic: bool, rng: np.random.Generator
) -> RenderedLine:
    """OpenCV Hershey vector font, drawn character by character for per-character boxes."""
    font = font_id | (cv2.FONT_ITALIC if italic else 0)
    base_height = cv2.getTextSize("H", font, 1.0, 1)[0][1]
    font_scale = char_height / max(1, base_height)
    thickness = max(1, round(char_height * rng.uniform(0.04, 0.12)))
    tracking = char_height * rng.uniform(-0.02, 0.25)
    margin = int(np.ceil(char_height * 0.5))
    advances = [cv2.getTextSize(c, font, font_scale, thickness)[0][0] for c in text]
    width = int(np.ceil(margin * 2 + sum(advances) + tracking * len(text) + char_height * 0.3))
    height = int(np.ceil(margin * 2 + char_height * 1.3))
    canvas = np.zeros((height, width), dtype=np.uint8)
    baseline = margin + char_height
    x = float(margin)
    spans: list[tuple[int, int]] = []
    for char, advance in zip(text, advances, strict=True):
        if char != " ":
            cv2.putText(
                canvas, char, (int(x), baseline), font, font_scale, 255, thickness, cv2.LINE_AA
            )
        spans.append(
            (
                int(x - thickness),
                int(np.ceil(x + advance + thickness + (char_height * 0.2 if italic else 0))),
            )
        )
        x += advance + tracking
    return _finish(canvas.astype(np.float32) / 255.0, spans)
