"""The locator on synthetic frames whose line boxes are known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_ocr.conveyor import ConveyorConfig, ConveyorStream
from edge_ocr.locate import Box, LocateConfig, Locator, crop_line
from edge_ocr.render import render_dot_matrix, render_hershey, render_seven_segment


def iou(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def ink_box(ink: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(ink > 0.3)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def paste(frame: np.ndarray, ink: np.ndarray, x: int, y: int, level: float) -> Box:
    """Print ``ink`` at (x, y) in grey ``level``; returns the printed ink's box in the frame."""
    h, w = ink.shape
    region = frame[y : y + h, x : x + w].astype(np.float32)
    frame[y : y + h, x : x + w] = np.clip(region * (1 - ink) + level * ink, 0, 255).astype(np.uint8)
    bx, by, bw, bh = ink_box(ink)
    return (x + bx, y + by, bw, bh)


def base_frame(seed: int = 0) -> np.ndarray:
    """A belt, two cartons (one light, one dark) with tape and edges, and sensor noise."""
    rng = np.random.default_rng(seed)
    frame = np.full((480, 640), 90, np.uint8)
    cv2.rectangle(frame, (20, 40), (330, 300), 205, -1)  # light carton
    cv2.rectangle(frame, (20, 40), (330, 300), 150, 2)
    frame[60:80, 20:331] = 180  # tape: strong straight edges, not text
    cv2.rectangle(frame, (360, 220), (620, 460), 55, -1)  # dark carton
    noise = rng.normal(0, 4, frame.shape)
    return np.clip(frame + noise, 0, 255).astype(np.uint8)


def test_background_alone_has_no_lines() -> None:
    assert Locator().lines(base_frame()) == []


def test_lines_of_every_style_and_both_polarities_are_found_and_grouped() -> None:
    rng = np.random.default_rng(1)
    frame = base_frame()
    dark_block = [
        paste(
            frame,
            render_hershey("LOT 4711", 24, cv2.FONT_HERSHEY_SIMPLEX, False, rng).ink,
            40,
            110,
            30,
        ),
        paste(frame, render_dot_matrix("EXP 12/26", 22, rng).ink, 40, 160, 40),
    ]
    light_line = paste(frame, render_seven_segment("2027-04-11", 26, rng).ink, 380, 300, 235)
    items = Locator().locate(frame)
    assert len(items) == 2
    stacked, single = items  # left to right
    assert len(stacked.lines) == 2 and len(single.lines) == 1
    for found, truth in zip(stacked.lines, dark_block, strict=True):  # top to bottom
        assert iou(found.box, truth) > 0.6, (found.box, truth)
        assert found.polarity == "dark"
    assert iou(single.lines[0].box, light_line) > 0.6
    assert single.lines[0].polarity == "light"


def test_roi_limits_the_search() -> None:
    rng = np.random.default_rng(2)
    frame = base_frame()
    paste(
        frame, render_hershey("LOT 4711", 24, cv2.FONT_HERSHEY_DUPLEX, False, rng).ink, 40, 110, 30
    )
    inside = paste(
        frame, render_hershey("SN 88", 24, cv2.FONT_HERSHEY_DUPLEX, False, rng).ink, 400, 300, 230
    )
    found = Locator(roi=(350, 210, 280, 260)).lines(frame)
    assert [iou(line.box, inside) > 0.6 for line in found] == [True]


@pytest.mark.parametrize("degrees", [-7.0, 5.0])
def test_tilted_lines_are_measured_and_cut_level(degrees: float) -> None:
    rng = np.random.default_rng(3)
    drawn = render_hershey("BATCH B7K29", 26, cv2.FONT_HERSHEY_SIMPLEX, False, rng).ink
    pad = cv2.copyMakeBorder(drawn, 40, 40, 20, 20, cv2.BORDER_CONSTANT, value=0.0)
    h, w = pad.shape
    # Counter-clockwise in the image for positive angles, as OpenCV rotates.
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    tilted = cv2.warpAffine(pad, matrix, (w, h))
    frame = base_frame()
    paste(frame, tilted, 30, 70, 25)
    lines = Locator().lines(frame)
    assert len(lines) == 1
    assert lines[0].angle == pytest.approx(degrees, abs=1.5)
    crop = crop_line(frame, lines[0])
    # Level: the text occupies about its own height in the crop, not height + width*sin.
    rows = np.flatnonzero((crop < 120).sum(axis=1) > 2)
    ink_h = ink_box(drawn)[3]
    assert rows.size and rows[-1] - rows[0] + 1 <= ink_h * 1.25
    assert crop.shape[1] >= ink_box(drawn)[2]


def test_crop_has_training_margins_even_at_the_frame_edge() -> None:
    rng = np.random.default_rng(4)
    frame = base_frame()
    truth = paste(frame, render_dot_matrix("L2119", 24, rng).ink, 28, 250, 30)
    (line,) = Locator().lines(frame)
    crop = crop_line(frame, line, LocateConfig())
    assert crop.shape[0] >= truth[3] * 1.2
    assert crop.shape[1] >= truth[2] + truth[3] * 0.6


def test_conveyor_lines_are_found_in_most_frames() -> None:
    stream = ConveyorStream(ConveyorConfig(seed=7, speed=900, items=5))
    locator = Locator()
    found = total = 0
    for index in range(0, len(stream), 2):
        lines = locator.lines(stream.frame(index))
        for item in stream.truth:
            if index not in item.full_frames:
                continue
            for box in item.boxes(index):
                total += 1
                found += any(iou(box, line.box) > 0.5 for line in lines)
    assert total > 40
    assert found / total >= 0.95
