"""Tracking items across frames and voting their text: one event per passing item.

Each frame the tracker gets the located items (boxes of a printed block and of its lines).
It predicts where every live track should be now from its last box and its estimated velocity,
matches detections to predictions by overlap, and matches each detected line to one of the
track's line slots (line 1, line 2, ...). It then says which lines are worth reading: those
wholly in view (a line cut by the frame edge reads wrong) whose slot is not yet settled, where
settled means ``settle_reads`` confident reads agree with the vote. Skipping settled lines is
where the frame rate comes from: an item is read in a few frames, then only followed.

Reads accumulate per slot, and a slot's text is decided by confidence-weighted voting: first
the length with the most weight, then each character position by the weight of the reads of
that length. A track ends when it leaves the view (its prediction is past the edge and it was
not seen) or has not been seen for ``max_missed_frames`` frames, and at the end of the stream.
Only then is its event made, so an item is reported once; a track whose reads never became a
confident text (background, a smudge) ends without an event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from edge_ocr.events import ItemEvent, LineResult
from edge_ocr.locate import Box, LocatedItem
from edge_ocr.recognize import LineRead


@dataclass(frozen=True)
class TrackConfig:
    """Thresholds of association, voting and reporting."""

    min_iou: float = 0.15
    """A detection continues a track when it overlaps the track's predicted box this much."""
    absorb: float = 0.5
    """An extra detection lying this much inside a matched track's box is more of its lines
    (a block found in two pieces), not a new item."""
    velocity_smoothing: float = 0.5
    """Weight of the newest displacement in the velocity estimate."""
    max_missed_frames: int = 6
    """Frames a track may go unseen in view before it ends."""
    edge_margin: int = 3
    """Lines closer than this (pixels) to the view's edge are cut off: followed, not read."""
    edge_clearance: float = 1.8
    """Lines closer than this times their height to the view's left or right edge are not
    read either: the rest of the line may lie beyond the edge, past a word space (keep it
    above the locator's ``word_gap``)."""
    settle_reads: int = 3
    """Reads agreeing exactly with a line's vote after which, if the vote is confident
    (``confident_read``), the line is not read again."""
    confident_read: float = 0.8
    """Vote confidence that settles a line (with ``settle_reads`` agreeing reads)."""
    max_reads_per_line: int = 16
    """Reads kept per line; after that the line is settled whatever they say (bounded work)."""
    min_reads: int = 2
    """Frames with reads an item needs before it is reported."""
    min_confidence: float = 0.3
    """Voted confidence the best line of an item needs for the item to be reported: what keeps
    background and smudges (read as doubtful scraps) out of the events."""
    min_line_confidence: float = 0.1
    """A line whose vote is less confident than this is background followed along with the
    item (its reads never agree) and is left out of the event."""
    min_line_reads: int = 2
    """A line read fewer times than this is a stray piece (a speck, a split word), not a line."""
    min_text_length: int = 2
    max_tracks: int = 32
    """Live tracks at most; the longest-unseen ends first when more appear (bounded memory)."""

    def __post_init__(self) -> None:
        if self.settle_reads < 1 or self.min_reads < 1 or self.max_reads_per_line < 1:
            raise ValueError("settle_reads, min_reads and max_reads_per_line must be at least 1")
        if self.max_tracks < 1 or self.max_missed_frames < 0:
            raise ValueError("max_tracks must be at least 1 and max_missed_frames not negative")
        if not 0.0 < self.velocity_smoothing <= 1.0:
            raise ValueError("velocity_smoothing must be in (0, 1]")


# --------------------------------------------------------------------------- voting


@dataclass(frozen=True)
class Vote:
    """The decided text of one line, its confidence and how many reads agree with it exactly."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    agreeing: int
    reads: int


def _char_confidences(read: LineRead) -> tuple[float, ...]:
    if len(read.chars) == len(read.text):
        return tuple(c.confidence for c in read.chars)
    return (read.confidence,) * len(read.text)


def _chars(read: LineRead) -> str:
    """The read's characters with rejected ones restored (their low weight is the doubt)."""
    if len(read.chars) == len(read.text):
        return "".join(c.char for c in read.chars)
    return read.text


def vote(reads: Sequence[LineRead]) -> Vote:
    """Confidence-weighted vote over the reads of one line.

    The length with the most total confidence wins; within it, each position takes the
    character with the most summed character confidence. The confidence is the weight share of
    the winning length, times the weakest position's agreement, times the chance that at least
    one of the reads saying exactly the voted text is right (``1 - prod(1 - c)``; the mean
    confidence of that length's reads when none does): several frames agreeing on a text make
    it confident even when each read alone is doubtful, while a split vote scores low and
    random reads of background never agree.
    """
    if not reads:
        return Vote("", 0.0, (), 0, 0)
    weights: dict[int, float] = {}
    for read in reads:
        weights[len(read.text)] = weights.get(len(read.text), 0.0) + max(read.confidence, 1e-3)
    length = max(weights, key=lambda n: (weights[n], n))
    total = sum(weights.values())
    group = [r for r in reads if len(r.text) == length]
    texts = [_chars(r) for r in group]
    confidences = [_char_confidences(r) for r in group]
    chars: list[str] = []
    agreement: list[float] = []
    best_char: list[float] = []
    for position in range(length):
        scores: dict[str, float] = {}
        for text, conf in zip(texts, confidences, strict=True):
            scores[text[position]] = scores.get(text[position], 0.0) + max(conf[position], 1e-3)
        winner = max(scores, key=lambda c: (scores[c], c))
        chars.append(winner)
        agreement.append(scores[winner] / sum(scores.values()))
        best_char.append(
            max(
                c[position]
                for t, c in zip(texts, confidences, strict=True)
                if t[position] == winner
            )
        )
    text = "".join(chars)
    exact = [r for r, t in zip(group, texts, strict=True) if t == text]
    doubt = 1.0
    for read in exact:
        doubt *= 1.0 - min(read.confidence, 1.0)
    certainty = 1.0 - doubt if exact else sum(r.confidence for r in group) / len(group)
    share = weights[length] / total
    confidence = share * min(agreement, default=1.0) * certainty
    char_confidences = tuple(share * a * b for a, b in zip(agreement, best_char, strict=True))
    return Vote(text, confidence, char_confidences, len(exact), len(reads))


# --------------------------------------------------------------------------- tracks


def _shift(box: Box, dx: float, dy: float) -> Box:
    return (round(box[0] + dx), round(box[1] + dy), box[2], box[3])


def _iou(a: Box, b: Box) -> float:
    inter = _intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _intersection(a: Box, b: Box) -> int:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return max(0, w) * max(0, h)


def _union(boxes: Sequence[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (x0, y0, x1 - x0, y1 - y0)


@dataclass
class _Slot:
    """One line of a track: where it was last seen (box, frame) and what it was read as."""

    box: Box
    frame: int
    timestamp: float = 0.0
    reads: list[LineRead] = field(default_factory=list)
    decided: Vote | None = None

    def settled(self, config: TrackConfig) -> bool:
        if len(self.reads) >= config.max_reads_per_line:
            return True
        return (
            self.decided is not None
            and self.decided.agreeing >= config.settle_reads
            and self.decided.confidence >= config.confident_read
        )

    def add(self, read: LineRead, config: TrackConfig) -> None:
        if len(self.reads) >= config.max_reads_per_line:
            return
        self.reads.append(read)
        self.decided = vote(self.reads)


@dataclass
class _Track:
    ident: int
    bbox: Box
    first_frame: int
    last_frame: int
    timestamp: float
    slots: list[_Slot]
    vx: float = 0.0
    vy: float = 0.0
    moving: bool = False
    """Whether the velocity has been measured yet."""
    frames_read: int = 0

    def predicted(self, frame: int) -> Box:
        gap = frame - self.last_frame
        return _shift(self.bbox, self.vx * gap, self.vy * gap)


@dataclass(frozen=True)
class Assignment:
    """A located item as the tracker sees it in this frame: its track, the slot of each of its
    lines (same order as ``item.lines``; -1 for a piece of a line already matched) and which
    lines to read."""

    track: int
    item: LocatedItem
    slots: tuple[int, ...]
    read: tuple[bool, ...]


@dataclass(frozen=True)
class EndedTrack:
    """A track that ended: its event (None when it was not reported) and which event line
    each of its line slots became (stray slots are left out)."""

    track: int
    event: ItemEvent | None
    slot_lines: dict[int, int]


class Tracker:
    """Associates located items over frames, votes their lines, and emits one event each."""

    def __init__(self, view: Box, config: TrackConfig = TrackConfig()) -> None:
        self.view = view
        self.config = config
        self._tracks: dict[int, _Track] = {}
        self._next_track = 1
        self._next_item = 1
        self._pending: list[_Track] = []
        """Tracks ended early to keep the table bounded; reported at the next update."""
        self.ended: list[EndedTrack] = []
        """Tracks that ended in the last ``update``/``finish`` call: what saved crops are
        labelled from."""

    @property
    def live_tracks(self) -> int:
        return len(self._tracks)

    def settled(self, track: int) -> bool:
        """Whether every line of a live track is settled (it will not be read again)."""
        found = self._tracks.get(track)
        return found is not None and all(s.settled(self.config) for s in found.slots)

    def voted_text(self, track: int) -> str:
        """The track's current vote, lines joined as in events (for annotation)."""
        found = self._tracks.get(track)
        if found is None:
            return ""
        return " | ".join(s.decided.text for s in self._ordered(found) if s.decided is not None)

    # -- association ------------------------------------------------------------------

    def assign(self, frame: int, items: Sequence[LocatedItem]) -> list[Assignment]:
        """Match this frame's items to tracks (new tracks for new items) and pick the lines to
        read. Call ``update`` with the reads afterwards, once per frame."""
        predictions = {t: track.predicted(frame) for t, track in self._tracks.items()}
        pairs = sorted(
            (
                (_iou(predictions[t], item.bbox), t, i)
                for t in self._tracks
                for i, item in enumerate(items)
            ),
            reverse=True,
        )
        track_of: dict[int, int] = {}
        matched: set[int] = set()
        for score, t, i in pairs:
            if score < self.config.min_iou:
                break
            if t in matched or i in track_of:
                continue
            track_of[i] = t
            matched.add(t)
        for i, item in enumerate(items):
            if i in track_of:
                continue
            host = self._host(item, track_of, items, predictions)
            if host is not None:
                track_of[i] = host
        assignments = []
        for i, item in enumerate(items):
            if i not in track_of:
                track_of[i] = self._new_track(frame, item, set(track_of.values()))
            assignments.append(self._lines(track_of[i], item, frame))
        return assignments

    def _host(
        self,
        item: LocatedItem,
        track_of: dict[int, int],
        items: Sequence[LocatedItem],
        predictions: dict[int, Box],
    ) -> int | None:
        """The matched track an unmatched detection is a piece of, if any."""
        area = item.bbox[2] * item.bbox[3]
        for i, t in track_of.items():
            for box in (predictions[t], items[i].bbox):
                if area and _intersection(box, item.bbox) >= self.config.absorb * area:
                    return t
        return None

    def _new_track(self, frame: int, item: LocatedItem, busy: set[int]) -> int:
        """A track for a new item; when the table is full the longest-unseen track not in
        this frame ends first (the table can only outgrow ``max_tracks`` by the number of
        items in one frame, which the locator bounds)."""
        idle = [t for t in self._tracks.values() if t.ident not in busy]
        if len(self._tracks) >= self.config.max_tracks and idle:
            oldest = min(idle, key=lambda t: t.last_frame)
            self._pending.append(oldest)
            del self._tracks[oldest.ident]
        ident = self._next_track
        self._next_track += 1
        self._tracks[ident] = _Track(ident, item.bbox, frame, frame, 0.0, [])
        return ident

    def _lines(self, ident: int, item: LocatedItem, frame: int) -> Assignment:
        """Each detected line to the slot of its row (the nearest vertically, after the track's
        motion), new slots for lines on new rows; then which of them to read.

        A second piece on the row of a slot already taken in this frame (a line found in two
        parts) gets slot -1: it is followed, never read, so it cannot become a stray line.
        """
        track = self._tracks[ident]
        predicted = [
            _shift(s.box, track.vx * (frame - s.frame), track.vy * (frame - s.frame))
            for s in track.slots
        ]
        candidates = []
        for li, line in enumerate(item.lines):
            _, ly, _, lh = line.box
            for si, box in enumerate(predicted):
                distance = abs((ly + lh / 2) - (box[1] + box[3] / 2))
                if distance < 0.5 * max(lh, box[3]):
                    candidates.append((distance, li, si))
        candidates.sort()
        on_row = {li for _, li, _ in candidates}
        slot_of: dict[int, int] = {}
        taken: set[int] = set()
        for _, li, si in candidates:
            if li in slot_of or si in taken:
                continue
            slot_of[li] = si
            taken.add(si)
        for li, line in enumerate(item.lines):
            if li in slot_of:
                continue
            if li in on_row:
                slot_of[li] = -1
                continue
            track.slots.append(_Slot(line.box, frame))
            slot_of[li] = len(track.slots) - 1
        slots = tuple(slot_of[li] for li in range(len(item.lines)))
        read = tuple(
            s >= 0 and self._inside(line.box) and not track.slots[s].settled(self.config)
            for line, s in zip(item.lines, slots, strict=True)
        )
        return Assignment(ident, item, slots, read)

    def _inside(self, box: Box) -> bool:
        vx, vy, vw, vh = self.view
        m = self.config.edge_margin
        side = max(m, self.config.edge_clearance * box[3])
        return (
            box[0] >= vx + side
            and box[1] >= vy + m
            and box[0] + box[2] <= vx + vw - side
            and box[1] + box[3] <= vy + vh - m
        )

    # -- update and events ------------------------------------------------------------

    def update(
        self,
        frame: int,
        timestamp: float,
        assignments: Sequence[Assignment],
        reads: Sequence[Sequence[LineRead | None]],
    ) -> list[ItemEvent]:
        """Record this frame's observations and reads (``reads[k][j]`` for line ``j`` of
        ``assignments[k]``, None where it was not read); returns events of tracks that ended."""
        if len(reads) != len(assignments):
            raise ValueError("one list of reads per assignment")
        by_track: dict[int, list[tuple[Assignment, Sequence[LineRead | None]]]] = {}
        for assignment, line_reads in zip(assignments, reads, strict=True):
            by_track.setdefault(assignment.track, []).append((assignment, line_reads))
        for ident, parts in by_track.items():
            track = self._tracks.get(ident)
            if track is None:
                continue
            self._observe(track, frame, timestamp, parts)
        ended = []
        for ident, track in list(self._tracks.items()):
            if ident in by_track:
                continue
            missed = frame - track.last_frame
            gone = not self._centre_in_view(track.predicted(frame))
            if gone or missed > self.config.max_missed_frames:
                ended.append(track)
                del self._tracks[ident]
        ended = self._take_pending() + ended
        return self._events(ended)

    def _observe(
        self,
        track: _Track,
        frame: int,
        timestamp: float,
        parts: list[tuple[Assignment, Sequence[LineRead | None]]],
    ) -> None:
        """Move the track to its new lines, update its velocity from the lines it already knew
        (the item's box jumps when a line appears or is missed; a line's own box does not),
        and record the reads."""
        motions: list[tuple[float, float]] = []
        any_read = False
        for assignment, line_reads in parts:
            if len(line_reads) != len(assignment.item.lines):
                raise ValueError("one read (or None) per located line")
            for line, slot_index, read in zip(
                assignment.item.lines, assignment.slots, line_reads, strict=True
            ):
                if slot_index < 0:
                    continue
                slot = track.slots[slot_index]
                if slot.frame < frame:
                    dx, dy = self._displacement(slot.box, line.box)
                    gap = frame - slot.frame
                    motions.append((dx / gap, dy / gap))
                slot.box = line.box
                slot.frame = frame
                slot.timestamp = timestamp
                if read is not None:
                    slot.add(read, self.config)
                    any_read = True
        if motions:
            vx = sum(m[0] for m in motions) / len(motions)
            vy = sum(m[1] for m in motions) / len(motions)
            alpha = self.config.velocity_smoothing if track.moving else 1.0
            track.vx = alpha * vx + (1.0 - alpha) * track.vx
            track.vy = alpha * vy + (1.0 - alpha) * track.vy
            track.moving = True
        track.bbox = _union([line.box for a, _ in parts for line in a.item.lines])
        track.last_frame = frame
        track.timestamp = timestamp
        track.frames_read += any_read

    def _displacement(self, before: Box, after: Box) -> tuple[float, float]:
        """Motion between two boxes, from the edges the view's border did not cut."""
        vx, _, vw, _ = self.view
        m = self.config.edge_margin

        def cut_left(b: Box) -> bool:
            return b[0] <= vx + m

        def cut_right(b: Box) -> bool:
            return b[0] + b[2] >= vx + vw - m

        dy = (after[1] + after[3] / 2) - (before[1] + before[3] / 2)
        if not (cut_left(before) or cut_left(after) or cut_right(before) or cut_right(after)):
            return (after[0] + after[2] / 2) - (before[0] + before[2] / 2), dy
        if not (cut_left(before) or cut_left(after)):
            return float(after[0] - before[0]), dy
        if not (cut_right(before) or cut_right(after)):
            return float(after[0] + after[2] - before[0] - before[2]), dy
        return (after[0] + after[2] / 2) - (before[0] + before[2] / 2), dy

    def _centre_in_view(self, box: Box) -> bool:
        vx, vy, vw, vh = self.view
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        return vx <= cx < vx + vw and vy <= cy < vy + vh

    def _take_pending(self) -> list[_Track]:
        pending, self._pending = self._pending, []
        return pending

    def finish(self) -> list[ItemEvent]:
        """End every track (end of stream): events of those that were read."""
        ended = self._take_pending() + sorted(self._tracks.values(), key=lambda t: t.first_frame)
        self._tracks.clear()
        return self._events(ended)

    def _ordered(self, track: _Track) -> list[_Slot]:
        return [track.slots[i] for i in self._order(track)]

    def _order(self, track: _Track) -> list[int]:
        """Slot indices top to bottom."""
        return sorted(
            range(len(track.slots)),
            key=lambda i: track.slots[i].box[1] + track.slots[i].box[3] / 2,
        )

    def _events(self, tracks: Sequence[_Track]) -> list[ItemEvent]:
        self.ended = [self._end(track) for track in tracks]
        return [ended.event for ended in self.ended if ended.event is not None]

    def _end(self, track: _Track) -> EndedTrack:
        """The item's event, or None when it was never read well enough to report."""
        config = self.config
        if track.frames_read < config.min_reads:
            return EndedTrack(track.ident, None, {})
        lines: list[LineResult] = []
        slot_lines: dict[int, int] = {}
        reported: list[_Slot] = []
        for index in self._order(track):
            slot = track.slots[index]
            decided = slot.decided
            if decided is None or len(slot.reads) < config.min_line_reads:
                continue
            if len(decided.text) < config.min_text_length:
                continue
            if decided.confidence < config.min_line_confidence:
                continue
            slot_lines[index] = len(lines)
            reported.append(slot)
            lines.append(LineResult(decided.text, decided.confidence, decided.char_confidences))
        if not lines or max(line.confidence for line in lines) < config.min_confidence:
            return EndedTrack(track.ident, None, {})
        item = self._next_item
        self._next_item += 1
        # The item was last seen when its reported lines were: a stray piece of background
        # followed along with it must not stretch the item's frames or box.
        last = max(slot.frame for slot in reported)
        bbox = _union(
            [
                _shift(s.box, track.vx * (last - s.frame), track.vy * (last - s.frame))
                for s in reported
            ]
        )
        event = ItemEvent(
            item=item,
            timestamp=max(slot.timestamp for slot in reported),
            lines=tuple(lines),
            confidence=min(line.confidence for line in lines),
            first_frame=track.first_frame,
            last_frame=last,
            frames_read=track.frames_read,
            bbox=bbox,
        )
        return EndedTrack(track.ident, event, slot_lines)
