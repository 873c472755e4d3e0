"""Tracking and voting on scripted detections and reads: no model, no images."""

from __future__ import annotations

import pytest

from edge_ocr.locate import Box, Line, LocatedItem
from edge_ocr.recognize import CharRead, LineRead
from edge_ocr.track import TrackConfig, Tracker, vote

VIEW: Box = (0, 0, 640, 480)


def read(text: str, confidence: float = 0.9) -> LineRead:
    return LineRead(text, confidence, tuple(CharRead(c, confidence) for c in text))


def line(x: int, y: int, w: int = 120, h: int = 24) -> Line:
    """A located line, clipped to the view as the locator would see it."""
    x0, x1 = max(0, x), min(VIEW[2], x + w)
    w = x1 - x0
    return Line((x0, y, w, h), 0.0, (x0 + w / 2, y + h / 2), (float(w), float(h)), "dark")


def item(*lines: Line) -> LocatedItem:
    x0 = min(ln.box[0] for ln in lines)
    y0 = min(ln.box[1] for ln in lines)
    x1 = max(ln.box[0] + ln.box[2] for ln in lines)
    y1 = max(ln.box[1] + ln.box[3] for ln in lines)
    return LocatedItem(tuple(lines), (x0, y0, x1 - x0, y1 - y0))


def step(
    tracker: Tracker, frame: int, items: list[LocatedItem], texts: dict[int, list[str]]
) -> tuple[list[list[bool]], list]:
    """One frame: assign, then read every line the tracker asks for with the scripted text of
    the item at that index (``texts[i][j]`` for line j of item i)."""
    assignments = tracker.assign(frame, items)
    asked = [list(a.read) for a in assignments]
    reads = [
        [read(texts[i][j]) if want else None for j, want in enumerate(a.read)]
        for i, a in enumerate(assignments)
    ]
    events = tracker.update(frame, frame / 30.0, assignments, reads)
    return asked, events


def test_vote_weights_confidence_and_votes_per_position() -> None:
    reads = [
        read("LOT 4711", 0.9),
        read("LOT 4711", 0.6),
        read("L0T 4711", 0.95),
        read("LOT 47", 0.99),
    ]
    decided = vote(reads)
    assert decided.text == "LOT 4711"
    assert decided.agreeing == 2
    assert 0.0 < decided.confidence < 1.0
    # Per position: no read is right everywhere, the vote still is.
    mixed = [read("AB3D"), read("ABC0"), read("XBCD")]
    assert vote(mixed).text == "ABCD"
    assert vote(mixed).agreeing == 0
    assert vote([]).text == ""


def test_vote_confidence_grows_with_agreement_and_drops_with_disagreement() -> None:
    one = vote([read("EXP 12/26", 0.5)]).confidence
    three = vote([read("EXP 12/26", 0.5)] * 3).confidence
    split = vote([read("EXP 12/26", 0.5), read("EXP 12/28", 0.5)]).confidence
    assert three > one > split


def test_one_event_per_item_when_it_leaves_the_view() -> None:
    tracker = Tracker(VIEW)
    events = []
    reads_asked = 0
    for frame in range(40):
        x = -100 + 25 * frame  # enters on the left, leaves on the right
        visible = [item(line(x, 200), line(x + 10, 236, 100))] if -120 < x < 640 else []
        asked, new = step(tracker, frame, visible, {0: ["LOT 4711", "EXP 12/26"]})
        reads_asked += sum(sum(a) for a in asked)
        events += new
    assert [e.text for e in events] == ["LOT 4711 | EXP 12/26"]
    event = events[0]
    assert event.item == 1
    assert event.first_frame == 0
    assert event.last_frame == 29
    # Settled after a few agreeing reads: recognition is skipped for the rest of the pass.
    assert reads_asked <= 2 * TrackConfig().settle_reads
    assert event.frames_read == TrackConfig().settle_reads
    assert tracker.finish() == []


def test_missed_and_dropped_frames_do_not_duplicate_an_item() -> None:
    tracker = Tracker(VIEW)
    events = []
    for frame in range(0, 60, 2):  # every other frame dropped
        x = 20 + 9 * frame
        visible = [item(line(x, 100))] if frame not in (20, 22, 24) else []  # and some missed
        events += step(tracker, frame, visible, {0: ["SN 88-1234"]})[1]
    events += tracker.finish()
    assert [e.text for e in events] == ["SN 88-1234"]


def test_two_items_in_view_give_two_events_in_order_of_leaving() -> None:
    tracker = Tracker(VIEW)
    events = []
    for frame in range(40):
        xs = (300 + 20 * frame, 20 + 20 * frame)
        visible = [item(line(x, 150 + 150 * k)) for k, x in enumerate(xs) if x < 640]
        texts = {k: [t] for k, t in enumerate(["FIRST 1", "SECOND 2"][: len(visible)])}
        if len(visible) == 1:
            texts = {0: ["SECOND 2"]}
        events += step(tracker, frame, visible, texts)[1]
    assert [e.text for e in events] == ["FIRST 1", "SECOND 2"]
    assert [e.item for e in events] == [1, 2]


def test_background_and_single_reads_are_never_reported() -> None:
    tracker = Tracker(VIEW)
    garbage = ["X1", "7Q", "A:", "K-", "1J", "Z0", "Q4", "M2"]
    for frame in range(8):  # a speck that reads as something different every frame
        assignments = tracker.assign(frame, [item(line(300, 300, 40, 20))])
        reads = [
            [read(garbage[frame], 0.2) if want else None for want in a.read] for a in assignments
        ]
        assert tracker.update(frame, 0.0, assignments, reads) == []
    assert tracker.finish() == []
    # An item read in only one frame is not enough evidence either.
    tracker = Tracker(VIEW)
    step(tracker, 0, [item(line(300, 100))], {0: ["LOT 1"]})
    assert tracker.finish() == []


def test_lines_cut_by_the_view_edge_are_followed_but_not_read() -> None:
    tracker = Tracker(VIEW)
    asked, _ = step(tracker, 0, [item(line(0, 100)), item(line(600, 300, 40))], {})
    assert asked == [[False], [False]]
    asked, _ = step(tracker, 1, [item(line(200, 100))], {0: ["LOT 1"]})
    assert asked == [[True]]


def test_a_second_piece_of_a_line_is_not_a_new_line() -> None:
    tracker = Tracker(VIEW)
    events = []
    for frame in range(6):
        pieces = [line(100 + 10 * frame, 200, 60), line(180 + 10 * frame, 202, 50)]
        block = item(*pieces) if frame % 2 else item(line(100 + 10 * frame, 200, 130))
        texts = {0: ["LOT 4711", "4711"]} if frame % 2 else {0: ["LOT 4711"]}
        events += step(tracker, frame, [block], texts)[1]
    events += tracker.finish()
    assert [e.text for e in events] == ["LOT 4711"]


def test_the_track_table_stays_bounded_and_finish_reports_once() -> None:
    tracker = Tracker(VIEW, TrackConfig(max_tracks=3))
    events = []
    for frame in range(12):  # two new items a frame, each seen twice then gone mid-view
        visible = [item(line(60 + 250 * k, 40 + 35 * ((frame // 2) % 12), 100)) for k in range(2)]
        texts = {k: [f"ITEM {frame // 2}{k}"] for k in range(2)}
        events += step(tracker, frame, visible, texts)[1]
        assert tracker.live_tracks <= 3
    events += tracker.finish()
    assert tracker.finish() == []
    texts = [e.text for e in events]
    assert len(texts) == len(set(texts))
    assert {"ITEM 50", "ITEM 51"} <= set(texts)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="settle_reads"):
        TrackConfig(settle_reads=0)
    with pytest.raises(ValueError, match="velocity_smoothing"):
        TrackConfig(velocity_smoothing=0.0)


def test_a_background_line_followed_with_an_item_is_left_out() -> None:
    tracker = Tracker(VIEW)
    garbage = ["3212WZ1", "12X23221", "I2T0XX21", "222XR1", "LX271", "120XX03K2", "221", "9Q"]
    events = []
    for frame in range(8):
        x = 100 + 10 * frame
        block = item(line(x, 60, 180, 12), line(x + 20, 84, 120, 24))
        assignments = tracker.assign(frame, [block])
        reads = [
            [
                (read(garbage[frame], 0.05) if j == 0 else read("QS4KGD", 0.8)) if want else None
                for j, want in enumerate(a.read)
            ]
            for a in assignments
        ]
        events += tracker.update(frame, 0.0, assignments, reads)
    events += tracker.finish()
    assert [e.text for e in events] == ["QS4KGD"]
