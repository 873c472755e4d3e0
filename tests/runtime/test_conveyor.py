"""The synthetic conveyor stream, its ground truth, and the scoring of events against it."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ocr.conveyor import (
    STYLES,
    ConveyorConfig,
    ConveyorStream,
    ItemTruth,
    match_event,
    score_events,
)
from edge_ocr.events import ItemEvent, LineResult
from edge_ocr.render import SEVEN_SEGMENT_CHARSET


def test_frames_are_reproducible_and_seeds_differ() -> None:
    config = ConveyorConfig(seed=5, items=3)
    a, b = ConveyorStream(config), ConveyorStream(config)
    other = ConveyorStream(ConveyorConfig(seed=6, items=3))
    assert [t.lines for t in a.truth] == [t.lines for t in b.truth]
    assert np.array_equal(a.frame(17), b.frame(17))
    assert a.frame(17).shape == (480, 640) and a.frame(17).dtype == np.uint8
    assert [t.lines for t in a.truth] != [t.lines for t in other.truth]


def test_truth_covers_styles_lines_and_both_directions() -> None:
    streams = [ConveyorStream(ConveyorConfig(seed=s, items=10)) for s in range(4)]
    items = [t for s in streams for t in s.truth]
    assert {t.style for t in items} == set(STYLES)
    assert {len(t.lines) for t in items} == {1, 2}
    assert {s.direction for s in streams} == {"left", "right"}
    for t in items:
        if t.style == "seven-segment":
            assert all(c in SEVEN_SEGMENT_CHARSET for c in "".join(t.lines))
        assert t.text == " | ".join(t.lines)


def test_items_pass_the_whole_view_one_after_another() -> None:
    stream = ConveyorStream(ConveyorConfig(seed=2, speed=900, items=6))
    previous_end = -1
    for item in stream.truth:
        assert len(item.full_frames) >= 3  # readable in several frames even at 900 px/s
        assert item.frames.start >= previous_end - 40  # no item overtakes another
        assert item.frames.stop <= len(stream)
        previous_end = item.frames.start
        x, _, w, _ = item.block(item.full_frames.start)
        assert x >= 0 and x + w <= 640
        assert item.block(item.frames.stop)[0] >= 640 or item.block(item.frames.stop)[0] + w <= 0


def test_truth_boxes_hold_the_print() -> None:
    stream = ConveyorStream(ConveyorConfig(seed=4, items=4, noise=0.0))
    for item in stream.truth:
        frame_index = item.full_frames.start + len(item.full_frames) // 2
        frame = stream.frame(frame_index).astype(np.int16)
        for x, y, w, h in item.boxes(frame_index):
            inside = frame[y : y + h, x : x + w]
            assert np.percentile(inside, 95) - np.percentile(inside, 5) > 60


def test_motion_blur_grows_with_speed() -> None:
    def edges(speed: float) -> tuple[float, float]:
        """Strongest horizontal and vertical steps in the print (99th percentiles)."""
        stream = ConveyorStream(ConveyorConfig(seed=8, items=1, speed=speed, noise=0.0))
        item = stream.truth[0]
        index = item.full_frames.start + len(item.full_frames) // 2
        x, y, w, h = item.block(index)
        patch = stream.frame(index)[y : y + h, x : x + w].astype(np.float32)
        dx = np.abs(np.diff(patch, axis=1))
        dy = np.abs(np.diff(patch, axis=0))
        return float(np.percentile(dx, 99)), float(np.percentile(dy, 99))

    slow, fast = edges(200), edges(1200)
    assert slow[0] > fast[0] * 1.5  # blurred along the motion...
    assert slow[1] < fast[1] * 1.3  # ...not across it


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="styles"):
        ConveyorConfig(styles=("laser",))
    with pytest.raises(ValueError, match="direction"):
        ConveyorConfig(direction="up")


def _event(item: int, text: str, truth: ItemTruth, frame: int) -> ItemEvent:
    lines = tuple(LineResult(t, 0.9) for t in text.split(" | "))
    return ItemEvent(item, 0.0, lines, 0.9, frame - 5, frame, 3, truth.block(frame))


def test_scoring_counts_exact_wrong_missed_duplicate_and_spurious_events() -> None:
    truth = ConveyorStream(ConveyorConfig(seed=3, items=4)).truth
    first, second, third, _missed = truth
    events = [
        _event(1, first.text, first, first.full_frames.start),
        _event(2, first.text, first, first.full_frames.stop - 1),  # duplicate
        _event(3, second.text + "X", second, second.full_frames.start),  # wrong
        _event(4, third.text, third, third.full_frames.start),
        ItemEvent(5, 0.0, (LineResult("ZZ", 0.5),), 0.5, 0, 2, 2, (600, 5, 30, 10)),  # spurious
    ]
    assert match_event(events[0], truth) is first
    assert match_event(events[4], truth) is None
    score = score_events(events, truth)
    assert (score.items, score.events, score.exact, score.wrong, score.missed) == (4, 5, 2, 1, 1)
    assert (score.duplicates, score.spurious) == (1, 1)
    assert score.exact_rate == 0.5
    assert score.duplicate_rate == score.spurious_rate == 0.2
